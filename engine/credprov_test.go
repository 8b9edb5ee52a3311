package engine

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/steps"
	"github.com/nodeup/nodeup/steps/stepstest"
)

// provider is a kubelet.credential_provider block of the release, its
// binary served by the release's mirror.
func (r *release) provider(name, binary, matchImages string) string {
	return fmt.Sprintf("\n  credential_provider %q {\n    %s\n    match_images = [%q]\n    default_cache_duration = \"12h\"\n  }",
		name, strings.ReplaceAll(r.Put("providers/"+name, []byte(binary)), "\n", "\n  "), matchImages)
}

// archivedProvider is a credential_provider block whose binary comes in a
// tar.gz, at the top under the provider's name.
func (r *release) archivedProvider() string {
	arc := stepstest.TarGz(r.t, stepstest.Reg("README.md", "docs"), stepstest.Reg("archived", "archived provider"))
	return fmt.Sprintf("\n  credential_provider \"archived\" {\n    %s\n    match_images = [\"*.example\"]\n    default_cache_duration = \"0s\"\n  }",
		strings.ReplaceAll(r.Put("providers/archived.tar.gz", arc), "\n", "\n  "))
}

// A credential provider is installed in the provider directory under its
// name, its configuration written and passed to the kubelet; a change to
// either restarts the kubelet once, and nothing else does; removed from the
// profile, the plan shows its binary and configuration as deletes and the
// apply takes them off, restarting the kubelet once on a drop-in without
// the flags; a reset takes off what is left.
func TestCredentialProviderLifecycle(t *testing.T) {
	r := newRelease(t)
	n := newGraphNode(t)
	bin := paths.CredentialProviderBinDir + "/test-provider"
	artifact := steps.ArtifactID("credential-provider/test-provider")
	config := steps.FileID(paths.CredentialProviderConfig)
	kubelet := steps.UnitID(paths.KubeletService)

	r.kubeletExtra = r.provider("test-provider", "provider 1", "registry.internal:5000") + r.archivedProvider()
	n.converge(r.graph())
	if got := n.Read(bin); got != "provider 1" {
		t.Errorf("%s: %q", bin, got)
	}
	if got := n.Read(paths.CredentialProviderBinDir + "/archived"); got != "archived provider" || n.Exists(paths.CredentialProviderBinDir+"/README.md") {
		t.Errorf("the archived provider: %q", got)
	}
	if fi, err := os.Stat(n.Real(bin)); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("%s: %v, mode %v", bin, err, fi)
	}
	if got := n.Read(paths.CredentialProviderConfig); !strings.Contains(got, "  name: test-provider") || !strings.Contains(got, "registry.internal:5000") {
		t.Errorf("the provider config:\n%s", got)
	}
	if dropIn := n.Read(paths.KubeletDropIn); !strings.Contains(dropIn, "--image-credential-provider-config="+paths.CredentialProviderConfig+" --image-credential-provider-bin-dir="+paths.CredentialProviderBinDir) {
		t.Errorf("the drop-in passes no providers:\n%s", dropIn)
	}

	for _, tc := range []struct {
		name    string
		change  func()
		changed []string
		restart int
	}{
		{"nothing", func() {}, nil, 0},
		{"the binary", func() {
			r.kubeletExtra = r.provider("test-provider", "provider 2", "registry.internal:5000") + r.archivedProvider()
		}, []string{artifact, kubelet}, 1},
		{"the configuration", func() {
			r.kubeletExtra = r.provider("test-provider", "provider 2", "*.registry.internal") + r.archivedProvider()
		},
			[]string{config, kubelet}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.change()
			res := n.converge(r.graph())
			if got := changedIDs(res); !slices.Equal(got, tc.changed) {
				t.Errorf("changed %q, want %q", got, tc.changed)
			}
			if got := n.Fake.Count("restart", paths.KubeletService); got != tc.restart {
				t.Errorf("%d kubelet restarts, want %d: %q", got, tc.restart, n.Fake.Calls())
			}
		})
	}
	if got := n.Read(bin); got != "provider 2" {
		t.Errorf("%s after the update: %q", bin, got)
	}

	r.kubeletExtra = ""
	g := r.graph()
	if err := AddPrunes(g, n.Env); err != nil {
		t.Fatal(err)
	}
	planned := n.run(g, false)
	for id, reason := range map[string]string{
		artifact: "(no longer in the profile): remove " + bin,
		config:   "(no longer in the profile)",
		steps.DirID(paths.CredentialProviderBinDir): "(no longer in the profile): remove if empty",
	} {
		if res := planned[id]; res.Err != nil || res.Action != steps.Delete || !strings.HasPrefix(res.Reason, reason) {
			t.Errorf("plan: %s: %+v, want delete %q", id, res, reason)
		}
	}
	n.converge(g)
	for _, p := range []string{bin, paths.CredentialProviderBinDir, "/usr/local/lib/nodeup", paths.CredentialProviderConfig} {
		if n.Exists(p) {
			t.Errorf("%s is still on the node", p)
		}
	}
	if dropIn := n.Read(paths.KubeletDropIn); strings.Contains(dropIn, "credential-provider") {
		t.Errorf("the drop-in still passes providers:\n%s", dropIn)
	}
	if got := n.Fake.Count("restart", paths.KubeletService); got != 1 {
		t.Errorf("%d kubelet restarts, want 1: %q", got, n.Fake.Calls())
	}
	again := r.graph()
	if err := AddPrunes(again, n.Env); err != nil {
		t.Fatal(err)
	}
	if ids := changedIDs(n.run(again, false)); len(ids) != 0 {
		t.Errorf("the plan after the apply changes %v", ids)
	}

	// Back in the profile, then reset: nothing of it is left.
	r.kubeletExtra = r.provider("test-provider", "provider 2", "registry.internal:5000")
	n.converge(r.graph())
	if err := n.Env.State.Save(n.Host); err != nil {
		t.Fatal(err)
	}
	p, err := PlanReset(context.Background(), n.Env, ResetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{bin, "/usr/local/lib/nodeup", paths.CredentialProviderConfig} {
		if n.Exists(p) {
			t.Errorf("%s is left after the reset", p)
		}
	}
}
