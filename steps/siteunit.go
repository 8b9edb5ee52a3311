package steps

import (
	"context"
	"fmt"
	"strings"

	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/node/systemd"
)

// SiteUnit is a unit nodeup does not manage (it neither enables nor starts
// it) that file blocks write for: systemd re-reads its unit files when a
// step of ReloadOn wrote one (a drop-in), and the unit, when it is running,
// restarts once when a step of RestartOn changed. A unit that is not
// running reads its files when it starts.
type SiteUnit struct {
	Name      string   // e.g. chronyd.service
	ReloadOn  []string // file steps that write its unit files or drop-ins
	RestartOn []string // file steps whose change restarts it
}

func (u *SiteUnit) Kind() string { return "site-unit" }
func (u *SiteUnit) Key() string  { return u.Name }
func (u *SiteUnit) Describe() string {
	var what []string
	if len(u.ReloadOn) > 0 {
		what = append(what, fmt.Sprintf("reloaded on change of %d steps", len(u.ReloadOn)))
	}
	if len(u.RestartOn) > 0 {
		what = append(what, fmt.Sprintf("restarted when running on change of %d steps", len(u.RestartOn)))
	}
	return fmt.Sprintf("%s (not enabled or started by nodeup): %s", u.Name, strings.Join(what, ", "))
}

// Writes is nothing: systemd's state is not a node path.
func (u *SiteUnit) Writes() []string { return nil }

var _ Starter = (*SiteUnit)(nil)

// Starts names the unit and what restarts it: the run records a restart
// as due before it is made, so a run killed in between leaves it to the
// next.
func (u *SiteUnit) Starts() (string, []string) {
	if len(u.RestartOn) == 0 {
		return "", nil
	}
	return u.Name, u.RestartOn
}

// Check says whether the unit needs a daemon-reload or a restart.
func (u *SiteUnit) Check(ctx context.Context, env *Env) (Change, error) {
	return u.converge(ctx, env, false)
}

// Apply reloads systemd and restarts the unit as Check says.
func (u *SiteUnit) Apply(ctx context.Context, env *Env) (Change, error) {
	return u.converge(ctx, env, true)
}

func (u *SiteUnit) converge(ctx context.Context, env *Env, apply bool) (Change, error) {
	m := env.Systemd
	if m == nil {
		return Change{Action: NoOp, Reason: "systemd is not running here: the unit reads its files when it starts"}, nil
	}
	reload := false
	for _, id := range append(append([]string{}, u.ReloadOn...), u.RestartOn...) {
		if !env.changed(id) || reloadedSince(env, id) {
			continue
		}
		for _, p := range env.writes(id) {
			if paths.IsUnitFile(p) {
				reload = true
			}
		}
	}
	var todo []string
	if reload {
		todo = append(todo, "daemon-reload")
	}
	restart := ""
	if env.StartsThings() && len(u.RestartOn) > 0 {
		state, _, err := m.ActiveState(ctx, u.Name)
		if err != nil {
			return Change{}, err
		}
		if state == "active" {
			restart = changedOrDue(env, u.Name, u.RestartOn)
		}
	}
	if restart != "" {
		todo = append(todo, "restart ("+restart+")")
	}
	if len(todo) == 0 {
		return Change{Action: NoOp, Reason: "up to date"}, nil
	}
	ch := Change{Action: Update, Reason: strings.Join(todo, ", ")}
	if !apply {
		return ch, nil
	}
	if reload {
		if err := m.DaemonReload(ctx); err != nil {
			return Change{}, err
		}
	}
	if restart != "" {
		if err := m.Restart(ctx, u.Name); err != nil {
			return Change{}, err
		}
		if err := systemd.WaitActive(ctx, m, u.Name, UnitStartTimeout); err != nil {
			return Change{}, err
		}
		env.State.Restarted(u.Name)
	}
	return ch, nil
}
