package plan

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/nodeup/nodeup/steps"
)

// TestRegistrySecrets: a client key is sensitive wherever it comes from,
// and its file is 0600; hosts.toml is 0600 only when a header holds a
// sensitive value, and the certificates stay 0644.
func TestRegistrySecrets(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile("testdata/cases/registries/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	dir := t.TempDir()
	for _, name := range []string{"ca.pem", "client.pem", "client.key"} {
		write(t, dir, name, read(name))
	}
	for _, c := range []struct {
		header    string
		hostsMode os.FileMode
	}{
		{`"Bearer plain"`, 0o644},
		{`var.token`, 0o600},
	} {
		path := write(t, dir, "p.hcl", `
variable "token" {
  default   = "Bearer s3cret"
  sensitive = true
}
containerd {
  version = "2.3.4"
  registry "registry.internal:5000" {
    ca          = file("ca.pem")
    client_cert = file("client.pem")
    client_key  = file("client.key")
    headers     = { Authorization = `+c.header+` }
  }
}
runc { version = "1.4.3" }
`)
		loaded, diags := load(t, path, Options{})
		if diags.HasErrors() {
			t.Fatal(diagText(diags))
		}
		if !slices.Contains(loaded.Profile.Sensitive, read("client.key")) {
			t.Errorf("%s: the client key is not sensitive", c.header)
		}
		g, err := Build(loaded.Profile)
		if err != nil {
			t.Fatal(err)
		}
		d := "/etc/containerd/certs.d/registry.internal:5000/"
		for name, want := range map[string]os.FileMode{"hosts.toml": c.hostsMode, "ca.crt": 0o644, "client.cert": 0o644, "client.key": 0o600} {
			f := g.Step(steps.FileID(d + name)).Action.(*steps.File)
			if f.Mode != want {
				t.Errorf("%s: %s mode %o, want %o", c.header, name, f.Mode, want)
			}
			if name == "hosts.toml" && !strings.Contains(string(f.Content), "client = [['client.cert', 'client.key']]") {
				t.Errorf("hosts.toml does not name the client pair:\n%s", f.Content)
			}
		}
	}
}
