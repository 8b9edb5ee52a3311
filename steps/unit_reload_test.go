package steps_test

import (
	"slices"
	"testing"

	"github.com/nodeup/nodeup/steps/stepstest"
)

// A unit file and drop-in written in this run need no daemon-reload when
// systemd loaded the unit from exactly those files after they were written
// (a unit nothing held loaded, which systemd loads when asked about it). A
// unit loaded from another file (one the new file shadows), without the new
// drop-in, or from files changed since it loaded them, gets one.
func TestUnitReloadsOnlyWhatSystemdHasNotRead(t *testing.T) {
	const (
		unitFile = "/etc/systemd/system/containerd.service"
		dropIn   = "/etc/systemd/system/containerd.service.d/10-nodeup.conf"
	)
	for _, tc := range []struct {
		name       string
		fragment   string
		dropIns    []string
		needReload bool
		reload     bool
	}{
		{"loaded from the files written", unitFile, []string{dropIn}, false, false},
		{"loaded from a file the new one shadows", "/lib/systemd/system/containerd.service", []string{dropIn}, false, true},
		{"loaded without the new drop-in", unitFile, nil, false, true},
		{"loaded before the files changed", unitFile, []string{dropIn}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := stepstest.NewNode(t)
			fake := n.Online()
			n.Write(unitFile, containerdUnitFile, 0o644)
			n.Write(dropIn, "[Service]\nEnvironment=A=1\n", 0o644)
			for id, p := range map[string]string{"file:" + unitFile: unitFile, "file:" + dropIn: dropIn} {
				n.Changes[id] = true // written in this run
				n.Paths[id] = []string{p}
			}
			u := containerdUnit()
			u.RestartOn = append(u.RestartOn, "file:"+dropIn)
			fu := fake.Unit("containerd.service")
			fu.Fragment, fu.DropIns, fu.NeedReload = tc.fragment, tc.dropIns, tc.needReload

			n.CheckApply(u, true)
			want := []string{"enable containerd.service", "start containerd.service"}
			if tc.reload {
				want = append([]string{"daemon-reload"}, want...)
			}
			if calls := fake.Calls(); !slices.Equal(calls, want) {
				t.Errorf("calls %q, want %q", calls, want)
			}
		})
	}
}
