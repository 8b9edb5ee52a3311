// Package systemdtest is an in-memory systemd for tests of what starts,
// restarts and enables units.
package systemdtest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nodeup/nodeup/node/systemd"
)

// Fake is an in-memory systemd.Manager for tests. It records every call as
// "op unit" (e.g. "restart containerd.service", "daemon-reload"), keeps a
// state per unit, gives a unit a new MainPID on each start or restart,
// and fails the operations set with Fail. It is safe for concurrent use.
type Fake struct {
	mu      sync.Mutex
	calls   []string
	units   map[string]*FakeUnit
	fail    map[string]error
	nextPID uint32
	// reloadedAt is when the last DaemonReload that succeeded was asked for.
	reloadedAt time.Time
}

// FakeUnit is the state Fake keeps for one unit.
type FakeUnit struct {
	FileState   string // UnitFileState: "disabled" until enabled, "masked", ...
	LoadState   string // "loaded" unless masked
	ActiveState string // "inactive" until started
	// NeedReload is NeedDaemonReload: set it to simulate a unit file changed
	// on disk; DaemonReload clears it.
	NeedReload bool
	// Fragment and DropIns are the files systemd loaded the unit from; set
	// them to simulate a unit loaded from the files nodeup wrote.
	Fragment string
	DropIns  []string
	MainPID  uint32
	// AfterStart is the ActiveState a start or restart leads to; "" means
	// "active". Set "failed" to simulate a unit that crashes.
	AfterStart string
	// StartResult, when set, is asked for that state at each start or
	// restart instead: a unit that starts or fails by what is on disk.
	StartResult func() string
	Journal     string
}

var _ systemd.Manager = (*Fake)(nil)

// NewFake returns a Fake where every unit is loaded, disabled and inactive.
func NewFake() *Fake {
	return &Fake{units: map[string]*FakeUnit{}, fail: map[string]error{}, nextPID: 1000}
}

// Unit returns the unit's state for inspection or changes; tests may
// modify it directly.
func (f *Fake) Unit(name string) *FakeUnit {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.unit(name)
}

func (f *Fake) unit(name string) *FakeUnit {
	u, ok := f.units[name]
	if !ok {
		u = &FakeUnit{FileState: "disabled", LoadState: "loaded", ActiveState: "inactive"}
		f.units[name] = u
	}
	return u
}

// SetState sets the unit's ActiveState (and MainPID, when active).
func (f *Fake) SetState(unit, state string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.unit(unit)
	u.ActiveState = state
	if state == "active" && u.MainPID == 0 {
		u.MainPID = f.pid()
	}
	if state != "active" {
		u.MainPID = 0
	}
}

// Fail makes the operation op ("daemon-reload", "enable", "disable",
// "start", "restart", "stop", "unmask", "state") fail with err for unit ("" for any unit).
// A nil err clears it.
func (f *Fake) Fail(op, unit string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := op + " " + unit
	if err == nil {
		delete(f.fail, k)
		return
	}
	f.fail[k] = err
}

// Calls returns every recorded call in order.
func (f *Fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// Count returns how many times op was called for unit ("" for daemon-reload).
func (f *Fake) Count(op, unit string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	want := strings.TrimSpace(op + " " + unit)
	n := 0
	for _, c := range f.calls {
		if c == want {
			n++
		}
	}
	return n
}

// Reset forgets the recorded calls, keeping unit states: for checking a
// second, idempotent run.
func (f *Fake) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = nil
}

func (f *Fake) pid() uint32 {
	f.nextPID++
	return f.nextPID
}

// record logs the call and returns its injected failure, if any.
func (f *Fake) record(op, unit string) error {
	f.calls = append(f.calls, strings.TrimSpace(op+" "+unit))
	if err, ok := f.fail[op+" "+unit]; ok {
		return err
	}
	return f.fail[op+" "]
}

func (f *Fake) DaemonReload(ctx context.Context) error {
	asked := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("daemon-reload", ""); err != nil {
		return err
	}
	for _, u := range f.units {
		u.NeedReload = false
	}
	f.reloadedAt = asked
	return nil
}

func (f *Fake) ReloadedAt() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reloadedAt
}

func (f *Fake) Enable(ctx context.Context, units ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	sorted := append([]string(nil), units...)
	sort.Strings(sorted)
	for _, u := range sorted {
		if err := f.record("enable", u); err != nil {
			return err
		}
		if f.unit(u).FileState == "masked" {
			return fmt.Errorf("enable %s: unit is masked", u)
		}
		f.unit(u).FileState = "enabled"
	}
	return nil
}

func (f *Fake) Disable(ctx context.Context, units ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	sorted := append([]string(nil), units...)
	sort.Strings(sorted)
	for _, u := range sorted {
		if err := f.record("disable", u); err != nil {
			return err
		}
		if f.unit(u).FileState == "enabled" {
			f.unit(u).FileState = "disabled"
		}
	}
	return nil
}

func (f *Fake) IsEnabled(ctx context.Context, unit string) (bool, error) {
	s, err := f.UnitFileState(ctx, unit)
	return s == "enabled" || s == "enabled-runtime", err
}

func (f *Fake) UnitFileState(ctx context.Context, unit string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail["state "+unit]; err != nil {
		return "", err
	}
	return f.unit(unit).FileState, nil
}

func (f *Fake) LoadState(ctx context.Context, unit string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail["state "+unit]; err != nil {
		return "", err
	}
	u := f.unit(unit)
	if u.FileState == "masked" {
		return "masked", nil
	}
	return u.LoadState, nil
}

func (f *Fake) NeedReload(ctx context.Context, unit string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail["state "+unit]; err != nil {
		return false, err
	}
	return f.unit(unit).NeedReload, nil
}

func (f *Fake) UnitFiles(ctx context.Context, unit string) (string, []string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail["state "+unit]; err != nil {
		return "", nil, err
	}
	u := f.unit(unit)
	return u.Fragment, append([]string(nil), u.DropIns...), nil
}

func (f *Fake) ActiveState(ctx context.Context, unit string) (string, uint32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail["state "+unit]; err != nil {
		return "", 0, err
	}
	u := f.unit(unit)
	return u.ActiveState, u.MainPID, nil
}

func (f *Fake) Start(ctx context.Context, unit string) error {
	return f.run("start", unit)
}

func (f *Fake) Restart(ctx context.Context, unit string) error {
	return f.run("restart", unit)
}

func (f *Fake) Stop(ctx context.Context, unit string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("stop", unit); err != nil {
		return &systemd.UnitError{Unit: unit, Op: "stop", Result: "job failed", Err: err}
	}
	u := f.unit(unit)
	u.ActiveState, u.MainPID = "inactive", 0
	return nil
}

func (f *Fake) run(op, unit string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(op, unit); err != nil {
		return &systemd.UnitError{Unit: unit, Op: op, Result: "job failed", Err: err, Journal: f.unit(unit).Journal}
	}
	u := f.unit(unit)
	if u.FileState == "masked" {
		return &systemd.UnitError{Unit: unit, Op: op, Result: "not enqueued", Err: fmt.Errorf("unit %s is masked", unit)}
	}
	if op == "start" && u.ActiveState == "active" {
		return nil // starting an active unit is a no-op, as in systemd
	}
	after := u.AfterStart
	if u.StartResult != nil {
		after = u.StartResult()
	}
	switch after {
	case "", "active":
		u.ActiveState, u.MainPID = "active", f.pid()
		return nil
	default:
		u.ActiveState, u.MainPID = after, 0
		if after == "failed" {
			return &systemd.UnitError{Unit: unit, Op: op, Result: "job failed", Journal: u.Journal}
		}
		return nil
	}
}

func (f *Fake) Unmask(ctx context.Context, unit string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("unmask", unit); err != nil {
		return err
	}
	if u := f.unit(unit); u.FileState == "masked" {
		u.FileState = "disabled"
	}
	return nil
}

func (f *Fake) JournalTail(ctx context.Context, unit string, n int) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.unit(unit).Journal
}

func (f *Fake) Close() error { return nil }
