package tests

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nodeup/nodeup/tests/testbed"
)

// TestPackerValidate has Debian's packer (1.6, no plugins) validate the
// shipped template as it is, from the repository root and from elsewhere
// (its paths are relative to the template), and with every variable set.
func TestPackerValidate(t *testing.T) {
	testbed.InstallDeps(t)
	template, err := filepath.Abs("../packaging/packer/node.pkr.hcl")
	if err != nil {
		t.Fatal(err)
	}
	// packer reads the key when it validates: a throwaway one.
	_, key := sshKey(t, t.TempDir())
	version, _ := exec.Command("packer", "version").CombinedOutput()
	t.Logf("packer version: %s", version)
	for _, c := range []struct {
		dir  string
		args []string
	}{
		{"..", []string{"validate", "packaging/packer/node.pkr.hcl"}},
		{t.TempDir(), []string{"validate", template}},
		{t.TempDir(), []string{"validate", "-var", "ssh_host=10.0.0.7", "-var", "ssh_username=admin", "-var", "ssh_private_key_file=" + key,
			"-var", "arch=arm64", "-var", "profile=/srv/profile.d", "-var", "var_file=/srv/vars.hcl", "-var", "nodeup_binary=/srv/nodeup", template}},
	} {
		cmd := exec.Command("packer", c.args...)
		cmd.Dir = c.dir
		out, err := cmd.CombinedOutput()
		t.Logf("(in %s) packer %s: %v\n%s", c.dir, strings.Join(c.args, " "), err, out)
		if err != nil {
			t.Errorf("packer %s: %v\n%s", strings.Join(c.args, " "), err, out)
		}
	}
	// What the template does, as packer reads it.
	out, err := exec.Command("packer", "inspect", template).CombinedOutput()
	t.Logf("packer inspect:\n%s", out)
	for _, want := range []string{"null.node", "shell-local", "file", "shell"} {
		if err != nil || !strings.Contains(string(out), want) {
			t.Errorf("packer inspect lacks %s: %v", want, err)
		}
	}
}

// sshKey makes a throwaway ECDSA key and writes it, PEM-encoded, to
// dir/id_ecdsa.
func sshKey(t *testing.T, dir string) (*ecdsa.PrivateKey, string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "id_ecdsa")
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return priv, key
}

// authorizedKey is the OpenSSH authorized_keys line of an ECDSA P-256 key:
// the key type, then the base64 of its wire form (type, curve, point).
func authorizedKey(t *testing.T, priv *ecdsa.PrivateKey) string {
	t.Helper()
	pub, err := priv.PublicKey.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	var blob []byte
	for _, field := range [][]byte{[]byte("ecdsa-sha2-nistp256"), []byte("nistp256"), pub.Bytes()} {
		blob = binary.BigEndian.AppendUint32(blob, uint32(len(field)))
		blob = append(blob, field...)
	}
	return "ecdsa-sha2-nistp256 " + base64.StdEncoding.EncodeToString(blob) + " nodeup-test\n"
}

// TestPackerBuildThenBoot runs the shipped template for real: Debian's
// packer, from the host but inside the node's network, bakes a running
// node over SSH with the null builder (nodeup uploaded, the demo profile
// and a variables file, the boot unit enabled, the bake, cache clean).
// The node then reboots, and nodeup-boot.service brings containerd up,
// verified, from what the bake kept.
func TestPackerBuildThenBoot(t *testing.T) {
	testbed.InstallDeps(t)
	bin := buildNodeup(t)
	n := testbed.Create(t, testbed.Options{Rootfs: testbed.CloudRootfs(t), BootTimeout: 30 * time.Minute,
		Binds: []testbed.Bind{testbed.MirrorBind(t)}})
	work := t.TempDir()
	priv, key := sshKey(t, work)
	if err := os.MkdirAll(n.Path("/root/.ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := n.WriteFile("/root/.ssh/authorized_keys", []byte(authorizedKey(t, priv)), 0o600); err != nil {
		t.Fatal(err)
	}
	// The profile's values, with the mirror where the node sees it.
	vars := filepath.Join(work, "vars.hcl")
	values, err := os.ReadFile(testbed.VarFile(t, "2.3.4"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(vars, append(values, []byte("mirror_url = \"file:///srv/mirror\"\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	n.Start()
	n.Run(t, "systemctl", "start", "ssh.service")

	template, _ := filepath.Abs("../packaging/packer/node.pkr.hcl")
	cmd := n.InNetwork("packer", "build", "-color=false",
		"-var", "ssh_host=127.0.0.1", "-var", "ssh_username=root", "-var", "ssh_private_key_file="+key,
		"-var", "nodeup_binary="+filepath.Join(bin, "nodeup"), "-var", "profile="+filepath.Join(profilesDir(t), "demo.hcl"),
		"-var", "var_file="+vars, template)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + work,
		"CHECKPOINT_DISABLE=1", "PACKER_CACHE_DIR=" + filepath.Join(work, "packer-cache")}
	out, err := cmd.CombinedOutput()
	t.Logf("packer build:\n%s", out)
	if err != nil {
		t.Fatalf("packer build: %v", err)
	}
	for _, want := range []string{"Profile kept in /etc/nodeup/profile.d", "removed 5 files"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("packer build output lacks %q", want)
		}
	}
	if _, err := os.Stat("../packaging/packer/.stage"); err == nil {
		t.Error("the build left packaging/packer/.stage behind")
	}
	// Baked, not started; no downloads and no staged files left in the image.
	if got := n.Exec("systemctl", "is-active", "containerd.service"); strings.TrimSpace(got.Stdout) == "active" {
		t.Errorf("the bake started containerd")
	}
	if got := n.Run(t, "find", "/var/cache/nodeup", "-type", "f"); got != "" {
		t.Errorf("downloads left in the image's cache:\n%s", got)
	}
	if r := n.Exec("test", "-e", "/tmp/nodeup-stage"); r.Code == 0 {
		t.Error("the staged files are left in the image")
	}
	if got := n.Run(t, "systemctl", "is-enabled", "nodeup-boot.service"); strings.TrimSpace(got) != "enabled" {
		t.Errorf("nodeup-boot.service is %q", got)
	}

	// First boot of the image.
	n.Stop()
	n.Start()
	state := n.Run(t, "systemctl", "show", "-p", "ActiveState", "-p", "Result", "nodeup-boot.service")
	journal := n.Run(t, "journalctl", "--no-pager", "-o", "cat", "-b", "-u", "nodeup-boot.service")
	t.Logf("nodeup-boot.service after the reboot: %s\n%s", state, journal)
	if !strings.Contains(state, "ActiveState=active") || !strings.Contains(state, "Result=success") {
		t.Fatalf("nodeup-boot.service: %s", state)
	}
	requireVerified(t, "nodeup-boot.service", journal)
}
