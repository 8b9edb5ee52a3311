//go:build vm

package vm

import (
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/nodeup/nodeup/node/images"
	"github.com/nodeup/nodeup/plan/pins"
	"github.com/nodeup/nodeup/tests/testbed"
)

// credprovTime bounds the credential provider test's boot: one node, a
// refused pull and a pull through the provider.
const credprovTime = 30 * time.Minute

// TestCredentialProviderOnVM proves a kubelet { credential_provider } block
// on a real node: in a VM, the test's registry (the distribution registry,
// basic auth) runs on the node with the test image pushed to it; the
// kubelet nodeup installs without a provider fails to pull a static pod's
// image from it with 401; with the test's provider (tests/vm/credprovider)
// declared, nodeup installs it and its configuration (0600), restarts the
// kubelet with its flags, and the kubelet pulls the image with the
// provider's credentials and runs the pod. The guest's part is
// guest/run-credprov.sh. Behind the vm build tag: make e2e-vm.
func TestCredentialProviderOnVM(t *testing.T) {
	here, repo := prerequisites(t)
	step(t, "kubelet "+kubeletVersion, filepath.Join(here, "build-kube.sh"), kubeletVersion, "kubelet")
	reg := testbed.RegistryBin(t)
	work := t.TempDir()
	in := newInput(t, here, repo, filepath.Join(work, "in"), "run-credprov.sh", "")
	for dir, files := range map[string][]string{
		"without": {"credprov.hcl", "credprov-kubelet.hcl", "bridge.conflist"},
		"with":    {"credprov.hcl", "credprov-provider.hcl", "bridge.conflist"},
	} {
		for _, f := range files {
			in.file(t, filepath.Join(here, "testdata", f), filepath.Join(dir, f), 0o644)
		}
	}
	in.artifacts(t, "containerd "+proofContainerd, "cni", "crictl")
	in.seccompRunc(t)
	in.binary(t, pins.Kubelet, kubeletVersion, filepath.Join(testbed.Cache(), "bin", "kubernetes-"+kubeletVersion, "kubelet"),
		pins.Builtin().UpstreamURL(pins.Kubelet, kubeletVersion, "amd64"))
	in.images(t, repo, "registry.k8s.io/pause:3.10", "nodeup.test/busybox:1")
	// The pushed image is the busybox one, from the mirror the input holds.
	ref, err := images.Normalize("nodeup.test/busybox:1")
	if err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(in.dir, "mirror", images.MirrorPath(ref)), filepath.Join(in.dir, "hello.tar"), 0o644)

	provider := filepath.Join(work, "credprovider")
	step(t, "the test's credential provider", "env", "CGO_ENABLED=0", "go", "build", "-C", repo, "-trimpath", "-o", provider, "./tests/vm/credprovider")
	copyFile(t, provider, filepath.Join(in.dir, "mirror", mirrorPath(t, "https://artifacts.nodeup.test/credprovider/v1/credprovider-amd64")), 0o644)
	in.vars["credprovider_sha256"] = fileSHA(t, provider)

	user, password := "nodeup", rand.Text()
	in.vars["registry_user"], in.vars["registry_password"] = user, password
	registryFiles(t, in, reg, user, password)
	in.writeVars(t, "")

	bootAndCheck(t, in, work, credprovTime, "credprov", []string{
		"registry-up", "apply-without", "push", "pull-fails-without", "not-running-without",
		"apply-with", "provider-config-0600", "provider-installed", "provider-flags",
		"pull-with-provider", "provider-asked", "pod-logs", "plan-no-changes",
	})
}

// registryFiles puts the registry, its configuration (plain HTTP on the
// node's loopback, basic auth from an htpasswd file) and the credentials
// the guest pushes with into the input.
func registryFiles(t *testing.T, in *input, bin, user, password string) {
	t.Helper()
	line, err := exec.Command(filepath.Join(bin, "htpasswd"), user, password).Output()
	if err != nil {
		t.Fatalf("htpasswd: %v", err)
	}
	in.file(t, filepath.Join(bin, "registry"), "registry", 0o755)
	files := map[string]string{
		"htpasswd": string(line),
		"registry.yml": `version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: /var/lib/registry
http:
  addr: 127.0.0.1:5000
  secret: nodeup-credprov-test
auth:
  htpasswd:
    realm: nodeup-credprov-test
    path: /mnt/in/htpasswd
`,
		"registry.env": fmt.Sprintf("REGISTRY_USER=%s\nREGISTRY_PASSWORD=%s\n", user, password),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(in.dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
