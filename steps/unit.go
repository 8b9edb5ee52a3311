package steps

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/node/systemd"
)

// UnitStartTimeout bounds the wait for a started unit to become active.
const UnitStartTimeout = 90 * time.Second

// ErrMasked is the class of a unit an operator masked.
var ErrMasked = errors.New("unit is masked")

// Unit is a systemd unit: enabled, and started when Start is set. It is
// restarted when any step in RestartOn changed in the same run.
type Unit struct {
	Name      string // e.g. containerd.service
	Path      string // unit file nodeup writes; empty for a distribution's unit
	WantedBy  []string
	Start     bool
	RestartOn []string // step IDs: binaries, unit file, config files
}

func (u *Unit) Kind() string { return "unit" }
func (u *Unit) Key() string  { return u.Name }
func (u *Unit) Describe() string {
	verb := "enabled"
	if u.Start {
		verb = "enabled and started"
	}
	return fmt.Sprintf("%s %s, restarted on change of %d steps", u.Name, verb, len(u.RestartOn))
}

// Writes lists the links enabling the unit makes.
func (u *Unit) Writes() []string {
	var out []string
	for _, target := range u.WantedBy {
		out = append(out, paths.InUnitDir(path.Join(target+".wants", u.Name)))
	}
	return out
}

var (
	_ Scheduled = (*Unit)(nil)
	_ Starter   = (*Unit)(nil)
	_ Reader    = (*Unit)(nil)
)

// Weight: starting a service takes tenths of a second.
func (u *Unit) Weight() int { return 3 }

// Starts names the unit when it is started.
func (u *Unit) Starts() (string, []string) {
	if !u.Start {
		return "", nil
	}
	return u.Name, u.RestartOn
}

// Reads: its unit file and drop-ins, and the files beside those it
// restarts on (a configuration directory such as the kubelet's
// kubelet.conf.d). Other units' files in the unit directory are not its.
func (u *Unit) Reads(p string, triggers []string) bool {
	if p == paths.InUnitDir(u.Name) || path.Dir(p) == paths.InUnitDir(u.Name+".d") {
		return true
	}
	dir := path.Dir(p)
	if dir == paths.UnitDir || path.Dir(dir) == paths.UnitDir {
		return false
	}
	for _, t := range triggers {
		if !strings.HasSuffix(t, "/") && path.Dir(t) == dir {
			return true
		}
	}
	return false
}

// RestartAlsoOn adds a step whose change restarts the unit.
func (u *Unit) RestartAlsoOn(id string) {
	if !slices.Contains(u.RestartOn, id) {
		u.RestartOn = append(u.RestartOn, id)
	}
}

// Check says what enabling, starting or restarting the unit would do.
func (u *Unit) Check(ctx context.Context, env *Env) (Change, error) {
	return u.converge(ctx, env, false)
}

// Apply enables the unit and, when this run starts things, starts it or
// restarts it when something it reads changed.
func (u *Unit) Apply(ctx context.Context, env *Env) (Change, error) {
	return u.converge(ctx, env, true)
}

// unitDirs are where a unit file is looked for, in systemd's order.
var unitDirs = append([]string{paths.UnitDir}, paths.PackageUnitDirs...)

// unitPath is the unit file: nodeup's own, or the distribution's.
func unitPath(env *Env, u *Unit) (string, error) {
	if u.Path != "" {
		return u.Path, nil
	}
	for _, dir := range unitDirs {
		p := path.Join(dir, u.Name)
		if _, err := env.Host.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: no unit file in %s; is the package installed?", u.Name, strings.Join(unitDirs, ", "))
}

// unitTodo is what converging a unit takes, in order.
type unitTodo struct {
	reload, enabled, start bool
	restart                string // why it restarts; empty: it does not
	steps                  []string
}

func (u *Unit) converge(ctx context.Context, env *Env, apply bool) (Change, error) {
	if env.Systemd == nil {
		return u.offline(env, apply)
	}
	t, err := u.todo(ctx, env)
	if err != nil {
		return Change{}, err
	}
	if len(t.steps) == 0 {
		if apply {
			u.record(env, t.enabled)
		}
		return Change{Action: NoOp, Reason: activeReason(ctx, env, u)}, nil
	}
	outcome := Update
	if !t.enabled && (t.start || !u.Start) {
		outcome = Create
	}
	ch := Change{Action: outcome, Reason: strings.Join(t.steps, ", ")}
	if !apply {
		return ch, nil
	}
	if err := u.do(ctx, env, t); err != nil {
		return Change{}, err
	}
	return ch, nil
}

// todo asks systemd what converging the unit takes.
func (u *Unit) todo(ctx context.Context, env *Env) (unitTodo, error) {
	m := env.Systemd
	var t unitTodo
	var err error
	if t.reload, err = u.needsReload(ctx, env); err != nil {
		return t, err
	}
	if t.reload {
		t.steps = append(t.steps, "daemon-reload")
	}
	t.enabled, err = m.IsEnabled(ctx, u.Name)
	if err != nil && !t.reload {
		return t, err
	}
	if !t.enabled {
		t.steps = append(t.steps, "enable")
	}
	if u.Start && env.Phase != PhaseBake {
		state, pid, err := m.ActiveState(ctx, u.Name)
		if err != nil {
			return t, err
		}
		switch {
		case state != "active":
			t.start = true
			t.steps = append(t.steps, "start (is "+state+")")
		default:
			if t.restart = restartCause(env, u, pid); t.restart != "" {
				t.steps = append(t.steps, "restart ("+t.restart+")")
			}
		}
	}
	return t, nil
}

// needsReload reports whether systemd must re-read the unit's files.
func (u *Unit) needsReload(ctx context.Context, env *Env) (bool, error) {
	m := env.Systemd
	written, removed := u.writtenUnitFiles(env)
	load, err := m.LoadState(ctx, u.Name)
	if err != nil {
		return false, err
	}
	switch load {
	case "masked":
		return false, maskedUnit(u.Name)
	case "not-found":
		// A unit file written by an earlier, interrupted run.
		return true, nil
	}
	// Also written by an earlier run, killed before its daemon-reload:
	// the file on disk is right, systemd still has the old one loaded.
	if reload, err := m.NeedReload(ctx, u.Name); err != nil || reload {
		return reload, err
	}
	// A unit file or drop-in this run took away (a Prune).
	if removed {
		return true, nil
	}
	if len(written) == 0 {
		return false, nil
	}
	// systemd must re-read what this run wrote, unless it loaded the
	// unit from exactly these files after they were written (it loads
	// a unit it holds no reference to when asked about it, as
	// LoadState just did): then the reload would cost a pass over
	// every unit for nothing.
	return stale(ctx, m, u.Name, written)
}

// writtenUnitFiles are the unit files and drop-ins this run wrote that no
// daemon-reload of the run (another unit's) came after; removed says one
// such step took its files away instead.
func (u *Unit) writtenUnitFiles(env *Env) (written []string, removed bool) {
	for _, id := range u.RestartOn {
		if !env.changed(id) || reloadedSince(env, id) {
			continue
		}
		for _, p := range env.writes(id) {
			if !paths.IsUnitFile(p) {
				continue
			}
			if env.deleted(id) {
				removed = true
				continue
			}
			written = append(written, p)
		}
	}
	return written, removed
}

// do reloads, enables, starts or restarts the unit as t says, and waits
// for a unit it started to become active.
func (u *Unit) do(ctx context.Context, env *Env, t unitTodo) error {
	m := env.Systemd
	if t.reload {
		if err := m.DaemonReload(ctx); err != nil {
			return err
		}
	}
	if !t.enabled {
		if err := m.Enable(ctx, u.Name); err != nil {
			return err
		}
	}
	u.record(env, t.enabled)
	var err error
	switch {
	case t.start:
		err = m.Start(ctx, u.Name)
	case t.restart != "":
		err = m.Restart(ctx, u.Name)
	}
	if err != nil {
		return err
	}
	if t.start || t.restart != "" {
		if err := systemd.WaitActive(ctx, m, u.Name, UnitStartTimeout); err != nil {
			return err
		}
		env.State.Restarted(u.Name)
	}
	return nil
}

// stale reports whether systemd's loaded unit may predate the files in
// written: it was not loaded from each of them (a unit file that shadows
// another, a new drop-in). NeedReload has said the files it loaded did
// not change since.
func stale(ctx context.Context, m systemd.Manager, unit string, written []string) (bool, error) {
	fragment, dropIns, err := m.UnitFiles(ctx, unit)
	if err != nil {
		return false, err
	}
	for _, p := range written {
		if p != fragment && !slices.Contains(dropIns, p) {
			return true, nil
		}
	}
	return false, nil
}

// reloadedSince reports whether systemd re-read its unit files after step
// id of this run finished writing. Each reload costs systemd a pass over
// every unit (a second or more on a loaded node); the units of one profile
// share one when their files are written before it.
func reloadedSince(env *Env, id string) bool {
	done, ok := env.finished(id)
	return ok && env.Systemd.ReloadedAt().After(done)
}

func activeReason(ctx context.Context, env *Env, u *Unit) string {
	if !u.Start || env.Phase == PhaseBake {
		return "enabled"
	}
	_, pid, _ := env.Systemd.ActiveState(ctx, u.Name)
	return fmt.Sprintf("enabled, active (pid %d)", pid)
}

// startSlack is how much younger than processStart says a process may
// be: /proc/stat's btime has whole seconds and the start time is in clock
// ticks, so a process can look up to a second older than it is. Without
// the slack, a unit restarted right after its files were written looks
// stale to the next run, which restarts it again.
const startSlack = 2 * time.Second

// restartCause names what makes a running unit stale: a step it depends on
// changed in this run, or a file it reads is newer than its main process
// (an earlier run was interrupted between the change and the restart).
func restartCause(env *Env, u *Unit, pid uint32) string {
	if cause := changedOrDue(env, u.Name, u.RestartOn); cause != "" {
		return cause
	}
	if pid == 0 {
		return ""
	}
	started, err := processStart(pid)
	if err != nil {
		return ""
	}
	for _, id := range u.RestartOn {
		for _, p := range env.writes(id) {
			if fi, err := env.Host.Stat(p); err == nil && fi.ModTime().After(started.Add(startSlack)) {
				return p + " is newer than the running process"
			}
		}
	}
	return ""
}

// changedOrDue names the steps of restartOn that changed in this run, or
// the change of an earlier run that ended before it restarted unit; "" when
// neither.
func changedOrDue(env *Env, unit string, restartOn []string) string {
	var changed []string
	for _, id := range restartOn {
		if env.changed(id) {
			changed = append(changed, id)
		}
	}
	if len(changed) > 0 {
		sort.Strings(changed)
		return strings.Join(changed, ", ") + " changed"
	}
	if id, ok := env.State.DueRestart(unit); ok {
		return id + " changed in an earlier run that ended before this restart"
	}
	return ""
}

// processStart is when a process started, from /proc/PID/stat (field 22,
// clock ticks since boot) and the boot time in /proc/stat.
func processStart(pid uint32) (time.Time, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return time.Time{}, err
	}
	// The command name may hold spaces; fields start after its ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return time.Time{}, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return time.Time{}, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	ticks, err := strconv.ParseInt(f[19], 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	st, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, err
	}
	for _, line := range strings.Split(string(st), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			boot, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return time.Time{}, err
			}
			const clockTicks = 100 // USER_HZ on every Linux architecture nodeup supports
			return time.Unix(boot, 0).Add(time.Duration(ticks) * time.Second / clockTicks), nil
		}
	}
	return time.Time{}, errors.New("no btime in /proc/stat")
}

// maskedUnit is the error for a unit an operator masked.
func maskedUnit(name string) error {
	return fmt.Errorf("%s: %w; nodeup does not override a mask an operator set: run systemctl unmask %s, then nodeup apply again", name, ErrMasked, name)
}

// isMask reports whether node path p is a symlink to /dev/null: what
// systemctl mask writes, and how an operator disables a vendor's sysctl.d
// or modules-load.d file.
func isMask(env *Env, p string) bool {
	fi, err := env.Host.Lstat(p)
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		return false
	}
	target, err := env.Host.Readlink(p)
	return err == nil && target == "/dev/null"
}

// offline enables a unit by writing its [Install] links, as in an image
// build; nothing is started.
func (u *Unit) offline(env *Env, apply bool) (Change, error) {
	for _, dir := range []string{paths.UnitDir, paths.RuntimeUnitDir} {
		if isMask(env, path.Join(dir, u.Name)) {
			return Change{}, maskedUnit(u.Name)
		}
	}
	p, err := unitPath(env, u)
	if err != nil {
		if !apply {
			return Change{Action: Create, Reason: "enable (write [Install] links) once the package installs it"}, nil
		}
		return Change{}, err
	}
	if _, err := env.Host.Stat(p); errors.Is(err, fs.ErrNotExist) && !apply {
		return Change{Action: Create, Reason: "enable (write [Install] links)"}, nil
	}
	ok, err := systemd.IsEnabledOffline(env.Host, p, u.Name)
	if err != nil {
		return Change{}, err
	}
	note := ""
	if u.Start {
		note = "; systemd is not running here: starts at boot"
	}
	if ok {
		if apply {
			u.record(env, true)
		}
		return Change{Action: NoOp, Reason: "enabled" + note}, nil
	}
	ch := Change{Action: Create, Reason: "enable (write [Install] links)" + note}
	if apply {
		if _, err := systemd.EnableOffline(env.Host, p, u.Name); err != nil {
			return Change{}, err
		}
		u.record(env, false)
	}
	return ch, nil
}

// record notes in the state how nodeup enabled the unit, so reset can stop
// and disable it without a profile. enabled says whether the unit was
// enabled when this run found it: for a unit nodeup has no record of, that
// is an enablement nodeup did not make, unless the unit file is nodeup's
// own from an earlier run (a state written before units were recorded).
func (u *Unit) record(env *Env, enabled bool) {
	rec, ok := env.State.Unit(u.Name)
	if !ok {
		earlier := false
		if u.Path != "" {
			_, recorded := env.State.Lookup(u.Path)
			earlier = recorded && !env.changed(FileID(u.Path))
		}
		rec.EnabledBefore = enabled && !earlier
	}
	rec.File, rec.Start, rec.Links = u.Path, u.Start, nil
	rec.Started = u.Start && (rec.Started || env.StartsThings())
	if p, err := unitPath(env, u); err == nil {
		if links, err := systemd.InstallLinks(env.Host, p, u.Name); err == nil {
			for _, l := range links {
				rec.Links = append(rec.Links, l.Path)
			}
		}
	}
	env.State.RecordUnit(u.Name, rec)
}
