// Package systemd starts, restarts, stops, enables and disables units. Online it talks to
// systemd over D-Bus (NewDBus) and waits for job results; offline, for
// image builds and --root, it enables units by writing the [Install]
// symlinks under the root, as `systemctl enable` would (EnableOffline).
// Fake is a recording Manager for other packages' tests.
package systemd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nodeup/nodeup/node/paths"
)

// Root maps an absolute node path to the real path under the node root,
// resolving symlinks as if the root were "/".
type Root interface {
	Path(p string) (string, error)
}

// Manager is what nodeup asks of a running systemd.
type Manager interface {
	// DaemonReload makes systemd re-read unit files (systemctl daemon-reload).
	DaemonReload(ctx context.Context) error
	// ReloadedAt is when the last DaemonReload that succeeded was asked
	// for (zero if none): systemd has read every unit file written before.
	ReloadedAt() time.Time
	// Enable enables units persistently (systemctl enable).
	Enable(ctx context.Context, units ...string) error
	// IsEnabled reports whether the unit file state is enabled or enabled-runtime.
	IsEnabled(ctx context.Context, unit string) (bool, error)
	// UnitFileState is systemd's UnitFileState: enabled, disabled, static, masked, ...
	UnitFileState(ctx context.Context, unit string) (string, error)
	// LoadState is systemd's LoadState: loaded, not-found, masked, error, ...
	LoadState(ctx context.Context, unit string) (string, error)
	// NeedReload is systemd's NeedDaemonReload: the unit's file or drop-ins
	// changed on disk since systemd loaded them.
	NeedReload(ctx context.Context, unit string) (bool, error)
	// UnitFiles are the files systemd loaded the unit from: its
	// FragmentPath and DropInPaths.
	UnitFiles(ctx context.Context, unit string) (fragment string, dropIns []string, err error)
	// ActiveState is the unit's ActiveState and, for services, its main PID (0 if none).
	ActiveState(ctx context.Context, unit string) (state string, mainPID uint32, err error)
	// Start starts the unit and waits for the job's result.
	Start(ctx context.Context, unit string) error
	// Restart restarts the unit and waits for the job's result.
	Restart(ctx context.Context, unit string) error
	// Stop stops the unit and waits for the job's result.
	Stop(ctx context.Context, unit string) error
	// Disable removes the unit's [Install] links (systemctl disable).
	Disable(ctx context.Context, units ...string) error
	// Unmask removes persistent and runtime masks of the unit.
	Unmask(ctx context.Context, unit string) error
	// JournalTail returns the unit's last n journal lines, or why it cannot.
	JournalTail(ctx context.Context, unit string, n int) string
	// Close releases the connection.
	Close() error
}

// JournalLines is how many journal lines a unit error carries.
const JournalLines = 20

// UnitError is a unit that failed to start, restart or become active. It
// carries the unit's last journal lines, which usually say why.
type UnitError struct {
	Unit    string
	Op      string // start, restart, wait
	Result  string // job result (failed, timeout, ...) or the ActiveState seen
	Journal string
	Err     error // underlying error, if any
}

func (e *UnitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %s", e.Op, e.Unit, e.Result)
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	if j := strings.TrimSpace(e.Journal); j != "" {
		fmt.Fprintf(&b, "\nlast journal lines (journalctl -u %s):\n%s", e.Unit, j)
	}
	return b.String()
}

func (e *UnitError) Unwrap() error { return e.Err }

// Running reports whether systemd manages the host nodeup runs on, with
// sd_booted semantics: only when root is "/" and /run/systemd/system exists.
// Any other root means an image or chroot, where D-Bus must not be used.
func Running(root string) bool {
	if filepath.Clean(root) != "/" {
		return false
	}
	fi, err := os.Lstat(paths.SystemdRunning)
	return err == nil && fi.IsDir()
}

// WaitActive polls the unit's ActiveState until it is "active". It fails
// at once on "failed" and after timeout otherwise; the error is a
// *UnitError carrying the unit's last journal lines.
func WaitActive(ctx context.Context, m Manager, unit string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	last := "unknown"
	for {
		state, _, err := m.ActiveState(ctx, unit)
		if err == nil {
			last = state
			switch state {
			case "active":
				return nil
			case "failed":
				return unitError(m, unit, "wait", "failed", nil)
			}
		} else if ctx.Err() == nil {
			last = "unknown (" + err.Error() + ")"
		}
		select {
		case <-ctx.Done():
			return unitError(m, unit, "wait", fmt.Sprintf("not active after %s (state %s)", timeout, last), nil)
		case <-tick.C:
		}
	}
}

func unitError(m Manager, unit, op, result string, err error) *UnitError {
	// The caller's context may be spent; the journal is still worth reading.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return &UnitError{Unit: unit, Op: op, Result: result, Err: err, Journal: m.JournalTail(ctx, unit, JournalLines)}
}

// journalTail runs journalctl for the unit's last n lines.
func journalTail(ctx context.Context, unit string, n int) string {
	if n <= 0 {
		n = JournalLines
	}
	out, err := exec.CommandContext(ctx, "journalctl", "-u", unit, "-n", strconv.Itoa(n), "--no-pager").CombinedOutput()
	s := strings.TrimRight(string(out), "\n")
	if err != nil {
		return strings.TrimSpace(s + "\n(journalctl: " + err.Error() + ")")
	}
	return s
}

// ErrNoInstallSection is returned for a unit without WantedBy=,
// RequiredBy= or Alias=: there is nothing to enable.
var ErrNoInstallSection = errors.New("unit has no [Install] WantedBy=, RequiredBy= or Alias=")
