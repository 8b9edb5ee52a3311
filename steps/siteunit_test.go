package steps_test

import (
	"slices"
	"testing"

	"github.com/nodeup/nodeup/steps"
	"github.com/nodeup/nodeup/steps/stepstest"
)

// A unit nodeup does not manage gets one daemon-reload when a drop-in of
// it was written, one restart when a file naming it changed and it runs,
// nothing when it is not running (it reads its files when it starts) and
// nothing on the second run; it is never enabled or started.
func TestSiteUnitReloadsAndRestartsOnce(t *testing.T) {
	const (
		conf   = "/etc/chrony/chrony.conf"
		dropIn = "/etc/systemd/system/chronyd.service.d/10-site.conf"
	)
	u := &steps.SiteUnit{Name: "chronyd.service", ReloadOn: []string{"file:" + dropIn}, RestartOn: []string{"file:" + conf}}
	for _, tc := range []struct {
		name    string
		changed []string
		active  bool
		want    []string
	}{
		{"both changed, running", []string{"file:" + conf, "file:" + dropIn}, true, []string{"daemon-reload", "restart chronyd.service"}},
		{"drop-in changed, not running", []string{"file:" + dropIn}, false, []string{"daemon-reload"}},
		{"config changed, not running", []string{"file:" + conf}, false, nil},
		{"nothing changed", nil, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := stepstest.NewNode(t)
			fake := n.Online()
			if tc.active {
				fake.SetState("chronyd.service", "active")
			}
			n.Paths["file:"+conf] = []string{conf}
			n.Paths["file:"+dropIn] = []string{dropIn}
			for _, id := range tc.changed {
				n.Changes[id] = true
			}
			check := n.CheckApply(u, false)
			if check.Changed() != (len(tc.want) > 0) {
				t.Errorf("check says %+v, want a change: %v", check, len(tc.want) > 0)
			}
			if calls := fake.Calls(); len(calls) != 0 {
				t.Errorf("check made calls %q", calls)
			}
			n.CheckApply(u, true)
			if calls := fake.Calls(); !slices.Equal(calls, tc.want) {
				t.Errorf("calls %q, want %q", calls, tc.want)
			}
		})
	}
}

// Offline (an image build, --root) a site unit does nothing: systemd
// reads the files at boot.
func TestSiteUnitOffline(t *testing.T) {
	n := stepstest.NewNode(t)
	n.Changes["file:/etc/x"] = true
	u := &steps.SiteUnit{Name: "x.service", RestartOn: []string{"file:/etc/x"}}
	if ch := n.CheckApply(u, true); ch.Changed() {
		t.Errorf("offline: %+v", ch)
	}
}
