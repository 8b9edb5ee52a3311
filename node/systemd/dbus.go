package systemd

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
)

// dbusManager is a Manager over the system bus.
type dbusManager struct {
	conn *sdbus.Conn

	mu         sync.Mutex
	reloadedAt time.Time
}

// NewDBus connects to systemd over the system bus (falling back to
// systemd's private socket as root). Close the Manager when done.
func NewDBus(ctx context.Context) (Manager, error) {
	conn, err := sdbus.NewWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to systemd over D-Bus: %w", err)
	}
	return &dbusManager{conn: conn}, nil
}

func (m *dbusManager) Close() error {
	m.conn.Close()
	return nil
}

func (m *dbusManager) DaemonReload(ctx context.Context) error {
	asked := time.Now()
	if err := m.conn.ReloadContext(ctx); err != nil {
		return fmt.Errorf("systemd daemon-reload: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if asked.After(m.reloadedAt) {
		m.reloadedAt = asked
	}
	return nil
}

func (m *dbusManager) ReloadedAt() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reloadedAt
}

func (m *dbusManager) Enable(ctx context.Context, units ...string) error {
	if len(units) == 0 {
		return nil
	}
	install, _, err := m.conn.EnableUnitFilesContext(ctx, units, false, false)
	if err != nil {
		return fmt.Errorf("enable %s: %w", strings.Join(units, ", "), err)
	}
	if !install {
		return fmt.Errorf("enable %s: %w", strings.Join(units, ", "), ErrNoInstallSection)
	}
	return nil
}

func (m *dbusManager) Disable(ctx context.Context, units ...string) error {
	if len(units) == 0 {
		return nil
	}
	if _, err := m.conn.DisableUnitFilesContext(ctx, units, false); err != nil {
		return fmt.Errorf("disable %s: %w", strings.Join(units, ", "), err)
	}
	return nil
}

func (m *dbusManager) IsEnabled(ctx context.Context, unit string) (bool, error) {
	s, err := m.UnitFileState(ctx, unit)
	if err != nil {
		return false, err
	}
	return s == "enabled" || s == "enabled-runtime", nil
}

func (m *dbusManager) UnitFileState(ctx context.Context, unit string) (string, error) {
	return m.stringProperty(ctx, unit, "UnitFileState")
}

func (m *dbusManager) LoadState(ctx context.Context, unit string) (string, error) {
	return m.stringProperty(ctx, unit, "LoadState")
}

func (m *dbusManager) NeedReload(ctx context.Context, unit string) (bool, error) {
	p, err := m.conn.GetUnitPropertyContext(ctx, unit, "NeedDaemonReload")
	if err != nil {
		return false, fmt.Errorf("NeedDaemonReload of %s: %w", unit, err)
	}
	b, ok := p.Value.Value().(bool)
	if !ok {
		return false, fmt.Errorf("NeedDaemonReload of %s: unexpected type %s", unit, p.Value.Signature())
	}
	return b, nil
}

func (m *dbusManager) UnitFiles(ctx context.Context, unit string) (string, []string, error) {
	fragment, err := m.stringProperty(ctx, unit, "FragmentPath")
	if err != nil {
		return "", nil, err
	}
	p, err := m.conn.GetUnitPropertyContext(ctx, unit, "DropInPaths")
	if err != nil {
		return "", nil, fmt.Errorf("DropInPaths of %s: %w", unit, err)
	}
	dropIns, ok := p.Value.Value().([]string)
	if !ok {
		return "", nil, fmt.Errorf("DropInPaths of %s: unexpected type %s", unit, p.Value.Signature())
	}
	return fragment, dropIns, nil
}

func (m *dbusManager) stringProperty(ctx context.Context, unit, name string) (string, error) {
	p, err := m.conn.GetUnitPropertyContext(ctx, unit, name)
	if err != nil {
		return "", fmt.Errorf("%s of %s: %w", name, unit, err)
	}
	s, ok := p.Value.Value().(string)
	if !ok {
		return "", fmt.Errorf("%s of %s: unexpected type %s", name, unit, p.Value.Signature())
	}
	return s, nil
}

func (m *dbusManager) ActiveState(ctx context.Context, unit string) (string, uint32, error) {
	state, err := m.stringProperty(ctx, unit, "ActiveState")
	if err != nil {
		return "", 0, err
	}
	if !strings.HasSuffix(unit, ".service") {
		return state, 0, nil
	}
	p, err := m.conn.GetServicePropertyContext(ctx, unit, "MainPID")
	if err != nil {
		return state, 0, fmt.Errorf("MainPID of %s: %w", unit, err)
	}
	pid, _ := p.Value.Value().(uint32)
	return state, pid, nil
}

func (m *dbusManager) Start(ctx context.Context, unit string) error {
	return m.job(ctx, "start", unit, m.conn.StartUnitContext)
}

func (m *dbusManager) Restart(ctx context.Context, unit string) error {
	return m.job(ctx, "restart", unit, m.conn.RestartUnitContext)
}

func (m *dbusManager) Stop(ctx context.Context, unit string) error {
	return m.job(ctx, "stop", unit, m.conn.StopUnitContext)
}

// job enqueues a start, restart or stop job and waits for systemd's JobRemoved
// result: "done" is success; failed, timeout, dependency... carry the journal.
func (m *dbusManager) job(ctx context.Context, op, unit string, enqueue func(context.Context, string, string, chan<- string) (int, error)) error {
	// Buffered: go-systemd blocks its signal loop until the result is read.
	ch := make(chan string, 1)
	if _, err := enqueue(ctx, unit, "replace", ch); err != nil {
		return &UnitError{Unit: unit, Op: op, Result: "not enqueued", Err: err}
	}
	select {
	case result := <-ch:
		if result == "done" {
			return nil
		}
		return unitError(m, unit, op, "job "+result, nil)
	case <-ctx.Done():
		return unitError(m, unit, op, "no job result", ctx.Err())
	}
}

func (m *dbusManager) Unmask(ctx context.Context, unit string) error {
	for _, runtime := range []bool{false, true} {
		if _, err := m.conn.UnmaskUnitFilesContext(ctx, []string{unit}, runtime); err != nil {
			return fmt.Errorf("unmask %s: %w", unit, err)
		}
	}
	return nil
}

func (m *dbusManager) JournalTail(ctx context.Context, unit string, n int) string {
	return journalTail(ctx, unit, n)
}
