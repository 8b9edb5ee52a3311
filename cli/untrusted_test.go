package cli

import (
	"github.com/nodeup/nodeup/internal/escape"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// noControl fails when output holds a control character a terminal acts
// on.
func noControl(t *testing.T, what, s string) {
	t.Helper()
	for _, r := range s {
		if r != '\n' && r != '\t' && escape.Escaped(r) {
			t.Errorf("%s holds the control character %U:\n%q", what, r, s)
			return
		}
	}
}

// Text from outside nodeup — a mirror's HTTP reason phrase, a file on
// the node, a profile's strings — reaches the terminal escaped.
func TestUntrustedTextEscaped(t *testing.T) {
	profile := testProfileServed(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		buf.WriteString("HTTP/1.1 404 \x1b]0;owned\x07\x1b[2J all is well\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		buf.Flush()
	})
	root := t.TempDir()
	// A file on the node with escape sequences, which the plan's diff shows.
	crictl := filepath.Join(root, "etc/containerd/config.toml")
	os.MkdirAll(filepath.Dir(crictl), 0o755)
	os.WriteFile(crictl, []byte("\x1b[31mred\x1b[0m\n"), 0o644)

	code, out, errs := nodeup(t, "apply", profile, "--root", root, "--phase", "bake")
	if code != 1 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	noControl(t, "apply's stdout", out)
	noControl(t, "apply's stderr", errs)
	if !strings.Contains(out, `HTTP 404 \x1b]0;owned\a\x1b[2J all is well`) && !strings.Contains(out, `HTTP 404 \x1b]0;owned\x07\x1b[2J all is well`) {
		t.Errorf("the reason phrase is not shown escaped:\n%s", out)
	}
	if !strings.Contains(out, `    -\x1b[31mred\x1b[0m`) {
		t.Errorf("the old file's line is not shown escaped:\n%s", out)
	}

	// A profile's strings in diagnostics.
	code, _, errs = run(t, "validate", "../plan/testdata/invalid/control_characters.hcl")
	if code != 1 {
		t.Errorf("validate: exit %d", code)
	}
	noControl(t, "validate's diagnostics", errs)
}
