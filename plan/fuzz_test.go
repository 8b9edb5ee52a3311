package plan

import (
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/nodeup/nodeup/steps"
)

// renderedPath matches the files a profile may render (docs/profile.md, "Files on the node"); a
// registry host is one directory below certs.d. A Windows node has its
// containerd files in containerd's directory, relative to the system drive.
var renderedPath = regexp.MustCompile(`^/etc/containerd/config\.toml$|^/etc/containerd/certs\.d/[^/]+/hosts\.toml$|` +
	`^/etc/systemd/system/(containerd|kubelet)\.service$|^/etc/systemd/system/kubelet\.service\.d/10-nodeup\.conf$|` +
	`^/var/lib/kubelet/config\.yaml$|^/etc/kubernetes/kubelet\.conf\.d/50-nodeup\.conf$|^/etc/kubernetes/image-credential-provider-config\.yaml$|^/etc/nodeup/runtimeclasses\.yaml$|^/etc/nodeup/kubelet-flags\.env$|^/etc/crictl\.yaml$|` +
	`^/etc/modules-load\.d/nodeup\.conf$|^/etc/sysctl\.d/99-nodeup\.conf$|` +
	`^/etc/systemd/system/(containerd|kubelet)\.service\.d/10-nodeup-(proxy|slice)\.conf$|^/etc/nodeup/proxy\.env$|` +
	`^/etc/systemd/system/kube\.slice$|^/etc/systemd/system/system\.slice\.d/10-nodeup\.conf$|` +
	`^/Program Files/containerd/config\.toml$|^/Program Files/containerd/certs\.d/[^/]+/hosts\.toml$|^/ProgramData/nodeup/runtimeclasses\.yaml$`)

// FuzzLoad feeds arbitrary bytes to the loader as a profile file. Whatever
// the input, Load must not panic; every error must point at a line of the
// file; a profile that loads must build into
// a graph, or fail with an error, without panicking; and the graph writes
// only those files.
//
//	go test ./plan -run '^$' -fuzz FuzzLoad -fuzztime 60s
//
// Crashers go to testdata/fuzz/FuzzLoad and run with every go test.
func FuzzLoad(f *testing.F) {
	for _, glob := range []string{"../profiles/*.hcl", "testdata/invalid/*.hcl", "testdata/cases/*/profile.hcl"} {
		files, err := filepath.Glob(glob)
		if err != nil {
			f.Fatal(err)
		}
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	// One directory per fuzzing process: its inputs run one at a time, and a
	// fresh directory per input would cost more than the load itself.
	dir := f.TempDir()
	file := filepath.Join(dir, "profile.hcl")
	f.Fuzz(func(t *testing.T, src []byte) {
		if err := os.WriteFile(file, src, 0o600); err != nil {
			t.Fatal(err)
		}
		loaded, diags := Load(file, Options{HostArch: "amd64"})
		if loaded == nil {
			t.Fatal("Load returned no result")
		}
		for _, d := range diags {
			if d.Severity != hcl.DiagError {
				continue
			}
			if d.Subject == nil {
				t.Errorf("error %q (%s) has no source position", d.Summary, d.Detail)
				continue
			}
			// A file() call may name another file; anything else is this one.
			if d.Subject.Filename != file && !strings.HasPrefix(d.Subject.Filename, dir) {
				t.Errorf("error %q names file %q, want %q", d.Summary, d.Subject.Filename, file)
			}
			if d.Subject.Start.Line < 1 {
				t.Errorf("error %q at %s: line %d < 1", d.Summary, d.Subject.Filename, d.Subject.Start.Line)
			}
		}
		if diags.HasErrors() {
			if loaded.Profile != nil {
				t.Errorf("profile returned despite errors:\n%s", diagText(diags))
			}
			return
		}
		if loaded.Profile == nil {
			t.Fatal("no profile and no error")
		}
		// Build renders every file too; an error is an answer, only a panic is a bug.
		g, err := Build(loaded.Profile)
		if err != nil {
			t.Logf("build: %v", err)
			return
		}
		// Whatever the profile says, nodeup writes only those files.
		for _, st := range g.Order() {
			f, ok := st.Action.(*steps.File)
			if !ok {
				continue
			}
			_, block := siteFileRange(loaded.Profile, f.Path) // a file block's own path
			if !(renderedPath.MatchString(f.Path) || block) || path.Clean(f.Path) != f.Path {
				t.Errorf("the profile renders %s, which is not a file a profile may render", f.Path)
			}
			if host := path.Base(path.Dir(f.Path)); path.Base(f.Path) == "hosts.toml" && (host == "." || host == "..") {
				t.Errorf("registry host %q renders %s", host, f.Path)
			}
		}
	})
}
