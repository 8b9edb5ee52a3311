package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/nodeup/nodeup/node/host"
	"github.com/nodeup/nodeup/node/paths"
)

// LastApply is how the last apply on a node ended. It is kept apart from
// state.json, which an apply that changes nothing leaves untouched.
type LastApply struct {
	Time     time.Time `json:"time"`
	OK       bool      `json:"ok"`
	Changed  int       `json:"changed"`
	Failed   int       `json:"failed"`
	Verified bool      `json:"verified"`
	// RolledBack says the apply took back what it changed of a unit that
	// did not come up verified.
	RolledBack bool `json:"rolledBack,omitempty"`
}

// WriteLastApply records how an apply ended, atomically.
func WriteLastApply(h *host.Host, l LastApply) error {
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	return h.WriteFile(paths.LastApplyFile, append(b, '\n'), 0o644)
}

// ReadLastApply returns how the last apply ended; ok is false where no
// apply has recorded it.
func ReadLastApply(h *host.Host) (l LastApply, ok bool, err error) {
	b, err := h.ReadFile(paths.LastApplyFile)
	if errors.Is(err, fs.ErrNotExist) {
		return l, false, nil
	}
	if err != nil {
		return l, false, err
	}
	if err := json.Unmarshal(b, &l); err != nil {
		return l, false, fmt.Errorf("read %s: %v; remove it, the next apply writes it again", paths.LastApplyFile, err)
	}
	return l, true, nil
}
