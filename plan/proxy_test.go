package plan

import (
	"slices"
	"testing"

	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/steps"
)

// A password in a proxy URL is sensitive though no variable marks it: the
// environment file shows as sensitive content in plans, and containerd and
// the kubelet restart when it changes.
func TestProxyPasswordIsSensitive(t *testing.T) {
	loaded, diags := load(t, write(t, t.TempDir(), "p.hcl", `
node {
  proxy = { http = "http://node:hunter22@proxy:3128" }
}
containerd { version = "2.3.4" }
runc { version = "1.4.3" }
kubelet { version = "1.36.4" }
`), Options{})
	if diags.HasErrors() {
		t.Fatal(diagText(diags))
	}
	if !slices.Contains(loaded.Sensitive, "hunter22") {
		t.Errorf("sensitive values %q lack the proxy password", loaded.Sensitive)
	}
	_, secret, err := Render(loaded.Profile)
	if err != nil {
		t.Fatal(err)
	}
	if !secret[paths.ProxyEnv] || secret[paths.ContainerdProxyDropIn] {
		t.Errorf("sensitive files %v, want %s alone", secret, paths.ProxyEnv)
	}
	g, err := Build(loaded.Profile)
	if err != nil {
		t.Fatal(err)
	}
	for _, unit := range []string{paths.ContainerdService, paths.KubeletService} {
		u := g.Step(steps.UnitID(unit)).Action.(*steps.Unit)
		if !slices.Contains(u.RestartOn, steps.FileID(paths.ProxyEnv)) {
			t.Errorf("%s does not restart on %s: %v", unit, paths.ProxyEnv, u.RestartOn)
		}
	}
}
