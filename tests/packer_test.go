package tests

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

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
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(t.TempDir(), "id_ecdsa")
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
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
