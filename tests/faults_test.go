package tests

// Fault tests on real nodes: nodeup apply killed with SIGKILL at many moments,
// two applies at once, and hosts that are not what nodeup expects (an existing
// distribution config and unit, a masked unit, a runtime that does not start or
// does not listen, a full disk).
//
//	NODEUP_E2E=1 go test ./tests/ -run 'Fault|Crash|Lock|Surprise' -v -count=1

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/nodeup/nodeup/node/archive"
	"github.com/nodeup/nodeup/plan"
	"github.com/nodeup/nodeup/steps"
	"github.com/nodeup/nodeup/tests/testbed"
)

// nodeMirrorB is where the crash test mounts its second mirror (variantMirror).
const nodeMirrorB = "/srv/mirror-b"

// leftoverNames matches what an interrupted nodeup may leave beside the files it
// replaces: temporary files and staging directories.
var leftoverNames = regexp.MustCompile(`^\.nodeup-(tmp|stage)-`)

// nodeupDirs are the node directories nodeup writes into for profiles/demo.hcl.
var nodeupDirs = []string{"/etc", "/usr/local", "/opt", "/var/lib/nodeup", "/var/cache/nodeup", "/var/lib/kubelet"}

// faultNode boots a fresh node with the mirror, nodeup, the profiles and extra binds.
func faultNode(t *testing.T, bin string, extra ...testbed.Bind) *testbed.Node {
	t.Helper()
	return testbed.Boot(t, faultOptions(t, bin, extra...))
}

func faultOptions(t *testing.T, bin string, extra ...testbed.Bind) testbed.Options {
	t.Helper()
	return testbed.Options{Binds: append([]testbed.Bind{
		testbed.MirrorBind(t),
		{Host: bin, Node: nodeNodeupDir, ReadOnly: true},
		{Host: profilesDir(t), Node: nodeProfilesDir, ReadOnly: true},
	}, extra...)}
}

// runApply runs nodeup apply inside the node and returns what happened.
func runApply(n *testbed.Node, args ...string) testbed.Result {
	return n.Exec(append([]string{nodeNodeup, "apply"}, args...)...)
}

// leftovers lists temporary files and staging directories under nodeup's directories.
func leftovers(t *testing.T, n *testbed.Node) []string {
	t.Helper()
	var out []string
	for _, dir := range nodeupDirs {
		root := n.Path(dir)
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if leftoverNames.MatchString(d.Name()) {
				out = append(out, path.Join(dir, strings.TrimPrefix(p, root)))
				if d.IsDir() {
					return fs.SkipDir
				}
			}
			return nil
		})
	}
	return out
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// fileSHA256 is the sha256 of a host file, "" when it does not exist.
func fileSHA256(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if os.IsNotExist(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ---- the two states the crash test moves a node between ----

// variant is what a node looks like after applying profiles/demo.hcl with one
// set of artifacts: every rendered file, every installed binary, every tree.
type variant struct {
	name        string
	nodeVarFile string // --var-file inside the node
	version     string // containerd version crictl must report
	rendered    map[string][]byte
	files       map[string]string            // node path -> sha256 of the member installed there
	trees       map[string]map[string]string // node dir -> relative path -> "file <sha>", "link <target>", "dir"
	sha         map[string]string            // artifact name -> sha256 of its archive
}

// loadVariant renders the demo profile with hostVarFile and reads, from the
// artifacts in mirrorDir, what each installed file and tree must hold.
func loadVariant(t *testing.T, bin, name, hostVarFile, nodeVarFile, mirrorDir string) *variant {
	t.Helper()
	v := &variant{name: name, nodeVarFile: nodeVarFile, rendered: map[string][]byte{},
		files: map[string]string{}, trees: map[string]map[string]string{}, sha: map[string]string{}}
	out := t.TempDir()
	cmd := exec.Command(filepath.Join(bin, "nodeup"), "render", filepath.Join(profilesDir(t), "demo.hcl"), "--var-file", hostVarFile, "--out", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nodeup render: %v\n%s", err, b)
	}
	filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			v.rendered[strings.TrimPrefix(p, out)] = b
		}
		return nil
	})
	if len(v.rendered) < 5 {
		t.Fatalf("nodeup render wrote only %d files", len(v.rendered))
	}
	loaded, diags := plan.Load(filepath.Join(profilesDir(t), "demo.hcl"), plan.Options{VarFiles: []string{hostVarFile}, HostArch: "amd64"})
	if diags.HasErrors() {
		t.Fatalf("load demo.hcl with %s: %s", hostVarFile, diags.Error())
	}
	v.version = loaded.Profile.Containerd.Version
	g, err := plan.Build(loaded.Profile)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range g.Order() {
		a, ok := s.Action.(*steps.Artifact)
		if !ok {
			continue
		}
		v.sha[a.Name] = a.SHA256
		file := filepath.Join(mirrorDir, strings.TrimPrefix(a.URL, "https://"))
		if got := fileSHA256(t, file); got != a.SHA256 {
			t.Fatalf("%s: sha256 %s, the profile pins %s", file, got, a.SHA256)
		}
		if a.Format == archive.FormatBinary {
			for _, f := range a.Files {
				v.files[f.To] = a.SHA256
			}
			continue
		}
		members := readArchive(t, file, a.Format)
		for _, f := range a.Files {
			sum, ok := members.fileSHA(path.Clean(f.From))
			if !ok {
				t.Fatalf("%s has no file %s", file, f.From)
			}
			v.files[f.To] = sum
		}
		for _, tr := range a.Trees {
			v.trees[tr.To] = members.tree(path.Clean(tr.From))
		}
	}
	return v
}

type member struct {
	kind byte // tar.TypeReg, TypeSymlink, TypeLink, TypeDir
	sha  string
	link string
}

type members map[string]member

// readArchive reads every member of a tar.gz or tar.zst, by cleaned name.
func readArchive(t *testing.T, p string, format archive.Format) members {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader
	switch format {
	case archive.FormatTarGz:
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case archive.FormatTarZst:
		zr, err := zstd.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	default:
		t.Fatalf("%s: format %s", p, format)
	}
	m := members{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return m
		}
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		e := member{kind: h.Typeflag, link: h.Linkname}
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			e.sha = sha256Hex(b)
		}
		m[path.Clean(h.Name)] = e
	}
}

// fileSHA follows links from name to a file and returns its sha256.
func (m members) fileSHA(name string) (string, bool) {
	for range 40 {
		e, ok := m[name]
		switch {
		case !ok:
			return "", false
		case e.kind == tar.TypeReg:
			return e.sha, true
		case e.kind == tar.TypeSymlink:
			name = path.Join(path.Dir(name), e.link)
		case e.kind == tar.TypeLink:
			name = path.Clean(e.link)
		default:
			return "", false
		}
	}
	return "", false
}

// tree describes the members below dir as treeOf describes a directory on disk.
func (m members) tree(dir string) map[string]string {
	out := map[string]string{}
	for name, e := range m {
		rel, ok := strings.CutPrefix(name, dir+"/")
		if !ok {
			continue
		}
		switch e.kind {
		case tar.TypeReg:
			out[rel] = "file " + e.sha
		case tar.TypeSymlink:
			out[rel] = "link " + e.link
		case tar.TypeLink:
			sum, _ := m.fileSHA(name)
			out[rel] = "file " + sum
		case tar.TypeDir:
			out[rel] = "dir"
		}
	}
	return out
}

// treeOf describes the host directory root; nil when it does not exist.
func treeOf(t *testing.T, root string) map[string]string {
	t.Helper()
	if _, err := os.Lstat(root); os.IsNotExist(err) {
		return nil
	}
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel := strings.TrimPrefix(p, root+"/")
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out[rel] = "link " + target
		case d.IsDir():
			out[rel] = "dir"
		default:
			out[rel] = "file " + fileSHA256(t, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameTree(a, b map[string]string) bool {
	if len(a) != len(b) || (a == nil) != (b == nil) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// variantMirror writes a second mirror in the upstream layout in which every
// artifact differs from the test bed's: containerd is 1.7.30 (schema 2 config)
// and every regular file of every archive, and the runc binary, has a marker
// appended (trailing bytes an ELF loader ignores, a comment in a text file). So
// moving a node between the two mirrors replaces every binary, every tree and
// containerd's config, and restarts containerd. It returns the mirror's host
// directory and a --var-file for profiles/demo.hcl (host path, also inside the
// mirror at the same relative path). It is cached beside the test bed's mirror,
// keyed by that mirror's manifest.
func variantMirror(t *testing.T, m testbed.Manifest) (string, string) {
	t.Helper()
	marker := []byte("\n# nodeup fault-test variant\n")
	manifest, err := os.ReadFile(filepath.Join(testbed.Mirror(t), "manifest.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	key := sha256Hex(append(manifest, marker...))
	final := filepath.Join(testbed.Cache(), "mirror-fault-variant")
	varFile := filepath.Join(final, "vars-variant.hcl")
	if stamp, err := os.ReadFile(filepath.Join(final, "key")); err == nil && string(stamp) == key {
		return final, varFile
	}
	dir, err := os.MkdirTemp(testbed.Cache(), ".mirror-fault-variant-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	var vars strings.Builder
	fmt.Fprintf(&vars, "mirror_url = %q\n", "file://"+nodeMirrorB)
	for _, c := range []struct{ component, version, name string }{
		{"containerd", "1.7.30", "containerd"}, {"runc", "", "runc"}, {"cni", "", "cni"},
		{"crictl", "", "crictl"}, {"kata", "", "kata"},
	} {
		a := m.Get(t, c.component, c.version)
		dst := filepath.Join(dir, a.Path)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		src, err := os.ReadFile(a.File)
		if err != nil {
			t.Fatal(err)
		}
		var out []byte
		switch format := archive.FormatOf(a.Path); format {
		case archive.FormatBinary:
			out = append(src, marker...)
		default:
			out = retar(t, src, format, func(_ string, body []byte) []byte { return append(body, marker...) })
		}
		if err := os.WriteFile(dst, out, 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&vars, "%s_version = %q\n%s_sha256 = %q\n", c.name, a.Version, c.name, sha256Hex(out))
	}
	if err := os.WriteFile(filepath.Join(dir, "vars-variant.hcl"), []byte(vars.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key"), []byte(key), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(final); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dir, final); err != nil {
		t.Fatal(err)
	}
	return final, varFile
}

// retar rewrites a tar.gz or tar.zst with every regular file's content
// replaced by what edit makes of it.
func retar(t *testing.T, src []byte, format archive.Format, edit func(name string, body []byte) []byte) []byte {
	t.Helper()
	var in io.Reader
	var buf bytes.Buffer
	var zw io.WriteCloser
	var err error
	switch format {
	case archive.FormatTarGz:
		if in, err = gzip.NewReader(bytes.NewReader(src)); err != nil {
			t.Fatal(err)
		}
		zw, _ = gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	case archive.FormatTarZst:
		d, err := zstd.NewReader(bytes.NewReader(src))
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		in = d
		if zw, err = zstd.NewWriter(&buf, zstd.WithEncoderLevel(zstd.SpeedFastest)); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("retar: format %s", format)
	}
	tr, tw := tar.NewReader(in), tar.NewWriter(zw)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var body []byte
		if h.Typeflag == tar.TypeReg {
			if body, err = io.ReadAll(tr); err != nil {
				t.Fatal(err)
			}
			body = edit(h.Name, body)
			h.Size = int64(len(body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// ---- checking a node against the variants ----

// snapshot is what n holds now of everything v manages: a rendered file's
// content (nil: absent), an installed file's sha256 ("": absent), a tree.
func snapshot(t *testing.T, n *testbed.Node, v *variant) *variant {
	t.Helper()
	s := &variant{name: "before", rendered: map[string][]byte{}, files: map[string]string{}, trees: map[string]map[string]string{}}
	for f := range v.rendered {
		if b, err := os.ReadFile(n.Path(f)); err == nil {
			s.rendered[f] = b
		}
	}
	for f := range v.files {
		s.files[f] = fileSHA256(t, n.Path(f))
	}
	for dir := range v.trees {
		s.trees[dir] = treeOf(t, n.Path(dir))
	}
	return s
}

// progress is how far a node got from old to new: how many of the rendered
// files, installed files and trees are new (and were not before). Anything
// that is neither old nor new, such as a half-written file, is a problem.
type progress struct {
	rendered, files, trees int // new now
	changing               int // how many were not new before
	done                   int // of those, how many are new now
	problems               []string
}

func (p progress) String() string {
	return fmt.Sprintf("%d of %d changes made", p.done, p.changing)
}

// between checks that every file nodeup manages on n is as it was (old, a
// snapshot) or as new wants it, never anything else.
func between(t *testing.T, n *testbed.Node, old, new *variant) progress {
	t.Helper()
	var p progress
	count := func(isNew, wasNew bool) {
		if !wasNew {
			p.changing++
			if isNew {
				p.done++
			}
		}
	}
	for f, want := range new.rendered {
		was := old.rendered[f]
		got, err := os.ReadFile(n.Path(f))
		isNew := err == nil && bytes.Equal(got, want)
		count(isNew, bytes.Equal(was, want) && was != nil)
		switch {
		case isNew:
			p.rendered++
		case err == nil && was != nil && bytes.Equal(got, was):
		case os.IsNotExist(err) && was == nil:
		case err != nil:
			p.problems = append(p.problems, fmt.Sprintf("%s: %v", f, err))
		default:
			p.problems = append(p.problems, fmt.Sprintf("%s is neither the old nor the new rendered file (%d bytes):\n%s", f, len(got), got))
		}
	}
	for f, want := range new.files {
		got := fileSHA256(t, n.Path(f))
		count(got == want, old.files[f] == want)
		switch {
		case got == want:
			p.files++
		case got == old.files[f]:
		default:
			p.problems = append(p.problems, fmt.Sprintf("%s has sha256 %q: neither the old (%q) nor the new (%s) archive member", f, got, old.files[f], want))
		}
	}
	for dir, want := range new.trees {
		got := treeOf(t, n.Path(dir))
		count(sameTree(got, want), sameTree(old.trees[dir], want))
		switch {
		case sameTree(got, want):
			p.trees++
		case sameTree(got, old.trees[dir]):
		default:
			p.problems = append(p.problems, fmt.Sprintf("tree %s is neither the old nor the new one: %v", dir, got))
		}
	}
	if b, err := os.ReadFile(n.Path("/var/lib/nodeup/state.json")); err == nil && !json.Valid(b) {
		p.problems = append(p.problems, fmt.Sprintf("state.json is not valid JSON:\n%s", b))
	}
	return p
}

// absent is the snapshot of a node that has none of the files.
var absent = &variant{rendered: map[string][]byte{}, files: map[string]string{}, trees: map[string]map[string]string{}}

// converged checks that a completed apply left n exactly as v says, with
// containerd running v's version and nothing temporary behind.
func converged(t *testing.T, n *testbed.Node, v *variant, out testbed.Result) {
	t.Helper()
	p := between(t, n, absent, v)
	for _, problem := range p.problems {
		t.Errorf("after the apply: %s", problem)
	}
	if p.rendered != len(v.rendered) || p.files != len(v.files) || p.trees != len(v.trees) {
		t.Errorf("after the apply only %d rendered files, %d binaries, %d trees are right (of %d, %d, %d)",
			p.rendered, p.files, p.trees, len(v.rendered), len(v.files), len(v.trees))
	}
	if l := leftovers(t, n); len(l) > 0 {
		t.Errorf("after the apply, leftovers of the killed run: %v", l)
	}
	if !regexp.MustCompile(`(?m)^\s*ok\s+runtime-ready\b`).MatchString(out.Stdout) {
		t.Errorf("the apply did not verify the runtime:\n%s", out.Stdout)
	}
	if s := strings.TrimSpace(n.Exec("systemctl", "is-active", "containerd").Stdout); s != "active" {
		t.Errorf("containerd is %s after the apply\n%s", s, n.Journal("containerd"))
	}
	if r := n.Exec("systemctl", "show", "-p", "NeedDaemonReload", "--value", "containerd"); strings.TrimSpace(r.Stdout) != "no" {
		t.Errorf("systemd has not loaded the containerd.service nodeup wrote (NeedDaemonReload=%s)", r.Stdout)
	}
	ver := n.Exec(nodeCrictl, "--runtime-endpoint", "unix:///run/containerd/containerd.sock", "version")
	if !strings.Contains(ver.Stdout, "RuntimeVersion:  v"+v.version) {
		t.Errorf("crictl version after the apply: want containerd v%s (the new binary, restarted):\n%s\napply:\n%s", v.version, ver, out.Stdout)
	}
}

// ---- killing an apply ----

// killPoint is when to SIGKILL an apply: after a delay, or as soon as the
// apply has a file open whose node path matches fd, or as soon as when says so.
type killPoint struct {
	delay time.Duration
	fd    *regexp.Regexp
	when  func() bool
	label string
}

func (k killPoint) String() string {
	if k.label != "" {
		return k.label
	}
	return "after " + k.delay.String()
}

// killResult is what a killed apply was doing.
type killResult struct {
	killed  bool          // false: the apply finished first
	after   time.Duration // since the command started
	openFDs []string      // node paths nodeup had open at the kill
	sockIno uint64        // inode of containerd's socket at the kill; 0: none
	out     testbed.Result
}

// socketInode is the inode of containerd's socket on n, 0 when there is none.
func socketInode(n *testbed.Node) uint64 {
	var st syscall.Stat_t
	if syscall.Stat(n.Path("/run/containerd/containerd.sock"), &st) != nil {
		return 0
	}
	return st.Ino
}

// applyAndKill starts nodeup apply in n and SIGKILLs the nodeup process at k.
func applyAndKill(t *testing.T, n *testbed.Node, k killPoint, args ...string) killResult {
	t.Helper()
	cmd := n.Command(append([]string{nodeNodeup, "apply"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var res killResult
	pid := 0
	for {
		select {
		case err := <-done:
			res.after = time.Since(start)
			res.out = testbed.Result{Stdout: stdout.String(), Stderr: stderr.String(), Code: cmd.ProcessState.ExitCode(), Err: err}
			return res
		default:
		}
		if pid == 0 {
			pid = descendant(cmd.Process.Pid, "nodeup")
		}
		if pid != 0 {
			fire := false
			var fds []string
			switch {
			case k.fd != nil:
				fds = openFiles(pid)
				for _, f := range fds {
					fire = fire || k.fd.MatchString(f)
				}
			case k.when != nil:
				fire = k.when()
			default:
				fire = time.Since(start) >= k.delay
			}
			if fire {
				if fds == nil {
					fds = openFiles(pid)
				}
				ino := socketInode(n)
				if syscall.Kill(pid, syscall.SIGKILL) == nil {
					res.killed, res.after, res.openFDs, res.sockIno = true, time.Since(start), fds, ino
				}
				err := <-done
				res.out = testbed.Result{Stdout: stdout.String(), Stderr: stderr.String(), Code: cmd.ProcessState.ExitCode(), Err: err}
				return res
			}
		}
		time.Sleep(time.Millisecond)
	}
}

// descendant finds the process named comm below pid (nsenter forks, then execs).
func descendant(pid int, comm string) int {
	children, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	for _, f := range strings.Fields(string(children)) {
		c, _ := strconv.Atoi(f)
		if name, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", c)); strings.TrimSpace(string(name)) == comm {
			return c
		}
		if d := descendant(c, comm); d != 0 {
			return d
		}
	}
	return 0
}

// openFiles lists the paths a process has open, as it sees them.
func openFiles(pid int) []string {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, _ := os.ReadDir(dir)
	var out []string
	for _, e := range entries {
		if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && strings.HasPrefix(l, "/") {
			out = append(out, l)
		}
	}
	return out
}

// activities names what a killed apply was doing: from the files it had open
// (downloads, unpacking, file writes run in parallel) and, when the files
// containerd reads were all new, from containerd's socket at the kill (sockBefore
// is its inode before the apply): gone or still the old one means the restart
// was under way or due.
func activities(t *testing.T, n *testbed.Node, k killResult, sockBefore uint64, p progress, old, new *variant) []string {
	t.Helper()
	set := map[string]bool{}
	for _, f := range k.openFDs {
		switch {
		case strings.HasPrefix(f, "/var/cache/nodeup/") && strings.Contains(f, "/.nodeup-tmp-"):
			set["download"] = true
		case strings.Contains(f, "/.nodeup-stage-"):
			set["unpack tree"] = true
		case strings.Contains(f, "/.nodeup-tmp-") && (strings.HasPrefix(f, "/usr/local/") || strings.HasPrefix(f, "/opt/")):
			set["unpack binaries"] = true
		case strings.Contains(f, "/.nodeup-tmp-"):
			set["file writes"] = true
		}
	}
	renderedChanging, renderedDone := 0, 0
	for f, want := range new.rendered {
		if !bytes.Equal(old.rendered[f], want) {
			renderedChanging++
			if b, err := os.ReadFile(n.Path(f)); err == nil && bytes.Equal(b, want) {
				renderedDone++
			}
		}
	}
	if renderedDone > 0 && renderedDone < renderedChanging {
		set["file writes"] = true
	}
	// containerd's own inputs: its binaries and its config.
	inputsNew := bytes.Equal(mustRead(n, "/etc/containerd/config.toml"), new.rendered["/etc/containerd/config.toml"])
	for _, f := range []string{"/usr/local/bin/containerd", "/usr/local/bin/containerd-shim-runc-v2"} {
		inputsNew = inputsNew && fileSHA256(t, n.Path(f)) == new.files[f]
	}
	if inputsNew {
		switch {
		case k.sockIno == 0 || k.sockIno == sockBefore:
			set["unit restart"] = true
		case p.done == p.changing:
			set["verify"] = true
		}
	}
	if len(set) == 0 {
		if p.done == 0 {
			set["load, plan"] = true
		} else {
			set["between steps"] = true
		}
	}
	var out []string
	for a := range set {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

func mustRead(n *testbed.Node, p string) []byte {
	b, _ := os.ReadFile(n.Path(p))
	return b
}

// perturb removes the rendered files other than containerd's config (which
// changes anyway), so each apply also creates files, unit files included
// (daemon-reload), not only the binaries and the config.
func perturb(t *testing.T, n *testbed.Node, v *variant) {
	t.Helper()
	for f := range v.rendered {
		if f != "/etc/containerd/config.toml" {
			if err := os.Remove(n.Path(f)); err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
		}
	}
}

// TestCrashApplyKilled kills nodeup apply of profiles/demo.hcl with SIGKILL at
// many moments on one node, never reset between kills. The node moves between
// two sets of artifacts, so that every apply downloads (the cache is emptied
// first), unpacks and replaces every binary and tree, rewrites containerd's
// config and restarts containerd; the other rendered files are removed before
// each apply, so it creates them again. After each kill every file nodeup
// manages is the old or the new one, never a partial one; a plain re-run
// converges, verifies and leaves nothing temporary behind.
func TestCrashApplyKilled(t *testing.T) {
	start := time.Now()
	bin := buildNodeup(t)
	m := testbed.ReadManifest(t)
	mirrorB, varFileB := variantMirror(t, m)
	a := loadVariant(t, bin, "A", testbed.VarFile(t, "2.3.4"), varFile("2.3.4"), testbed.Mirror(t))
	b := loadVariant(t, bin, "B", varFileB, nodeMirrorB+"/vars-variant.hcl", mirrorB)
	for f := range a.files {
		if a.files[f] == b.files[f] {
			t.Fatalf("both variants install the same %s", f)
		}
	}
	t.Logf("two mirrors ready in %s", time.Since(start).Round(time.Millisecond))

	n := faultNode(t, bin, testbed.Bind{Host: mirrorB, Node: nodeMirrorB, ReadOnly: true})
	// The variants move containerd between 2.3.4 and 1.7.30, both ways.
	argsFor := func(v *variant) []string {
		return []string{demoProfile, "--var-file", v.nodeVarFile, "--allow-downgrade"}
	}
	clearCache := func() {
		if err := os.RemoveAll(n.Path("/var/cache/nodeup/sha256")); err != nil {
			t.Fatal(err)
		}
	}
	// move applies v as every killed apply will: empty cache, files removed.
	move := func(v *variant) time.Duration {
		clearCache()
		perturb(t, n, v)
		t0 := time.Now()
		r := runApply(n, argsFor(v)...)
		took := time.Since(t0)
		if r.Code != 0 {
			t.Fatalf("apply of %s: %s", v.name, r)
		}
		converged(t, n, v, r)
		if t.Failed() {
			t.FailNow()
		}
		return took
	}
	// Measure: a fresh apply, then two moves; kill delays step over the faster move.
	fresh := move(a)
	full := min(move(b), move(a))
	t.Logf("fresh apply %s, a move between the variants %s", fresh.Round(time.Millisecond), full.Round(time.Millisecond))

	var points []killPoint
	const timed = 20
	for i := range timed {
		// Up to 80%: a move is often faster than the one measured.
		points = append(points, killPoint{delay: time.Duration(float64(full) * (0.01 + 0.8*float64(i)/float64(timed-1)))})
	}
	inode := func() uint64 { return socketInode(n) }
	var sockBefore uint64
	var next *variant
	var before *variant
	points = append(points,
		killPoint{label: "at the first file change", when: func() bool {
			for f, want := range next.rendered {
				got, err := os.ReadFile(n.Path(f))
				if (err == nil) != (before.rendered[f] != nil) || (err == nil && bytes.Equal(got, want) && !bytes.Equal(got, before.rendered[f])) {
					return true
				}
			}
			return false
		}},
		killPoint{fd: regexp.MustCompile(`^/var/cache/nodeup/sha256/\.nodeup-tmp-`), label: "while downloading"},
		killPoint{fd: regexp.MustCompile(`^/usr/local/bin/\.nodeup-tmp-containerd`), label: "while unpacking containerd"},
		killPoint{fd: regexp.MustCompile(`^/opt/cni/bin/\.nodeup-tmp-`), label: "while unpacking the CNI plugins"},
		killPoint{fd: regexp.MustCompile(`^/usr/local/sbin/\.nodeup-tmp-runc`), label: "while unpacking runc"},
		killPoint{fd: regexp.MustCompile(`^/opt/\.nodeup-stage-kata`), label: "while unpacking the kata tree"},
		killPoint{label: "when config.toml is new", when: func() bool {
			return bytes.Equal(mustRead(n, "/etc/containerd/config.toml"), next.rendered["/etc/containerd/config.toml"])
		}},
		killPoint{label: "with containerd's files new, before its restart", when: func() bool {
			return inode() == sockBefore && bytes.Equal(mustRead(n, "/etc/containerd/config.toml"), next.rendered["/etc/containerd/config.toml"]) &&
				fileSHA256(t, n.Path("/usr/local/bin/containerd")) == next.files["/usr/local/bin/containerd"]
		}},
		killPoint{label: "while containerd restarts (no socket)", when: func() bool { return inode() == 0 }},
		killPoint{label: "once containerd has restarted (new socket)", when: func() bool { i := inode(); return i != 0 && i != sockBefore }},
	)

	cur := a
	spread := map[string]int{}
	survived, missed, swept := 0, 0, 0
	for i, k := range points {
		next = b
		if cur == b {
			next = a
		}
		clearCache()
		perturb(t, n, next)
		before = snapshot(t, n, next)
		sockBefore = inode()
		res := applyAndKill(t, n, k, argsFor(next)...)
		if !res.killed {
			missed++
			t.Logf("kill %2d (%s): the apply finished first, in %s", i+1, k, res.after.Round(time.Millisecond))
			if res.out.Code != 0 {
				t.Fatalf("apply that was not killed: %s", res.out)
			}
			converged(t, n, next, res.out)
			cur = next
			continue
		}
		p := between(t, n, before, next)
		acts := activities(t, n, res, sockBefore, p, before, next)
		for _, act := range acts {
			spread[act]++
		}
		t.Logf("kill %2d (%s) at %s: %s; %s", i+1, k, res.after.Round(time.Millisecond), strings.Join(acts, " + "), p)
		for _, problem := range p.problems {
			t.Errorf("after kill %d (%s): %s", i+1, k, problem)
		}
		rr := runApply(n, argsFor(next)...)
		if rr.Code != 0 {
			t.Fatalf("re-run after kill %d (%s): %s\n%s", i+1, k, rr, n.Journal("containerd"))
		}
		if strings.Contains(rr.Stderr, "leftovers of an interrupted run") {
			swept++
		}
		converged(t, n, next, rr)
		if t.Failed() {
			t.FailNow()
		}
		cur = next
		survived++
	}

	// The node is converged: nothing left to do.
	if r := n.Exec(append([]string{nodeNodeup, "plan", "--detailed-exitcode"}, argsFor(cur)...)...); r.Code != 0 {
		t.Errorf("plan after the last re-run: want exit 0, got %s", r)
	}
	if backups := strings.TrimSpace(n.Exec("sh", "-c", "find /var/lib/nodeup/backup -type f 2>/dev/null | sort").Stdout); backups != "" {
		t.Errorf("nodeup backed up files it had written itself:\n%s", backups)
	}
	var stages []string
	for s, c := range spread {
		stages = append(stages, fmt.Sprintf("%s %d", s, c))
	}
	sort.Strings(stages)
	t.Logf("survived %d SIGKILLs in %s (%d kill points came after the apply had finished; %d re-runs swept leftovers); kills per activity: %s",
		survived, time.Since(start).Round(time.Second), missed, swept, strings.Join(stages, ", "))
	if survived < 20 {
		t.Errorf("only %d kills landed; want at least 20", survived)
	}
	for _, act := range []string{"download", "unpack binaries", "file writes", "unit restart"} {
		if spread[act] == 0 {
			t.Errorf("no kill landed during %s", act)
		}
	}
}

// TestCrashFreshNode kills the very first apply on fresh nodes: while it
// downloads, while it unpacks containerd, and once containerd first listens.
// The files are absent or complete, and a re-run converges.
func TestCrashFreshNode(t *testing.T) {
	bin := buildNodeup(t)
	a := loadVariant(t, bin, "A", testbed.VarFile(t, "2.3.4"), varFile("2.3.4"), testbed.Mirror(t))
	args := []string{demoProfile, "--var-file", a.nodeVarFile}
	for _, c := range []struct {
		name string
		kill func(n *testbed.Node) killPoint
	}{
		{"download", func(*testbed.Node) killPoint {
			return killPoint{fd: regexp.MustCompile(`^/var/cache/nodeup/sha256/\.nodeup-tmp-`), label: "while downloading"}
		}},
		{"unpack", func(*testbed.Node) killPoint {
			return killPoint{fd: regexp.MustCompile(`^/usr/local/bin/\.nodeup-tmp-containerd`), label: "while unpacking containerd"}
		}},
		{"first-start", func(n *testbed.Node) killPoint {
			return killPoint{label: "once containerd first listens", when: func() bool {
				_, err := os.Stat(n.Path("/run/containerd/containerd.sock"))
				return err == nil
			}}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := faultNode(t, bin)
			k := c.kill(n)
			res := applyAndKill(t, n, k, args...)
			if !res.killed {
				t.Fatalf("the apply finished before %s: %s", k, res.out)
			}
			p := between(t, n, absent, a)
			acts := activities(t, n, res, 0, p, absent, a)
			t.Logf("killed %s at %s: %s; %s", k, res.after.Round(time.Millisecond), strings.Join(acts, " + "), p)
			for _, problem := range p.problems {
				t.Errorf("after the kill: %s", problem)
			}
			r := runApply(n, args...)
			if r.Code != 0 {
				t.Fatalf("re-run: %s\n%s", r, n.Journal("containerd"))
			}
			converged(t, n, a, r)
		})
	}
}

// nodePID is the pid that process pid (a host pid) has inside its node.
func nodePID(t *testing.T, pid int) string {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if ids, ok := strings.CutPrefix(line, "NSpid:"); ok {
			f := strings.Fields(ids)
			return f[len(f)-1]
		}
	}
	t.Fatalf("no NSpid in /proc/%d/status", pid)
	return ""
}

// TestLockSecondApply runs two applies at once on a fresh node: the second
// fails at once naming the lock and the holder's pid; one with --wait waits
// for the first and then succeeds.
func TestLockSecondApply(t *testing.T) {
	bin := buildNodeup(t)
	n := faultNode(t, bin)
	args := []string{demoProfile, "--var-file", varFile("2.3.4")}

	first := n.Command(append([]string{nodeNodeup, "apply"}, args...)...)
	var firstOut bytes.Buffer
	first.Stdout, first.Stderr = &firstOut, &firstOut
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	firstDone := make(chan struct{})
	var firstEnd time.Time
	go func() { first.Wait(); firstEnd = time.Now(); close(firstDone) }()
	// The holder writes its pid into the lock once it has it.
	holder := ""
	for deadline := time.Now().Add(30 * time.Second); holder == ""; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the first apply never took the lock:\n%s", firstOut.String())
		}
		b, _ := os.ReadFile(n.Path("/run/nodeup.lock"))
		holder = strings.TrimSpace(string(b))
	}
	if pid := descendant(first.Process.Pid, "nodeup"); pid == 0 || nodePID(t, pid) != holder {
		t.Errorf("the lock holds pid %s; the first apply is pid %d on the host", holder, pid)
	}

	t0 := time.Now()
	second := runApply(n, args...)
	took := time.Since(t0)
	select {
	case <-firstDone:
		t.Fatalf("the first apply finished before the second was refused; its output:\n%s", firstOut.String())
	default:
	}
	t.Logf("second apply refused in %s: %s", took.Round(time.Millisecond), strings.TrimSpace(second.Stderr))
	if second.Code != 1 {
		t.Errorf("second apply: want exit 1, got %s", second)
	}
	msg := second.Stdout + second.Stderr
	for _, want := range []string{"/run/nodeup.lock", "pid " + holder} {
		if !strings.Contains(msg, want) {
			t.Errorf("the refusal does not name %q: %s", want, msg)
		}
	}

	// With --wait, a third apply waits for the first, then succeeds.
	select {
	case <-firstDone:
		t.Fatalf("the first apply finished before --wait could be tried; its output:\n%s", firstOut.String())
	default:
	}
	third := runApply(n, append([]string{"--wait"}, args...)...)
	thirdDone := time.Now()
	<-firstDone
	if first.ProcessState.ExitCode() != 0 {
		t.Fatalf("first apply: exit %d\n%s", first.ProcessState.ExitCode(), firstOut.String())
	}
	if third.Code != 0 {
		t.Fatalf("apply --wait: %s", third)
	}
	if thirdDone.Before(firstEnd) {
		t.Errorf("apply --wait ended before the first apply (%s before)", firstEnd.Sub(thirdDone))
	}
	if m := applySummary.FindStringSubmatch(third.Stdout); m == nil || m[1] != "0" || m[2] != "0" || m[5] != "0" {
		t.Errorf("apply --wait after the first: want no changes, got %q\n%s", m, third.Stdout)
	}
	if b, _ := os.ReadFile(n.Path("/run/nodeup.lock")); len(bytes.TrimSpace(b)) != 0 {
		t.Errorf("the lock still names a holder after every apply ended: %q", b)
	}
}

// demoWith writes profiles/demo.hcl changed by replacements (old, new, old,
// new...; each old must occur once) into the node as /root/NAME.hcl and
// returns its node path.
func demoWith(t *testing.T, n *testbed.Node, name string, replacements ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(profilesDir(t), "demo.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i+1 < len(replacements); i += 2 {
		if strings.Count(s, replacements[i]) != 1 {
			t.Fatalf("profiles/demo.hcl does not hold %q exactly once", replacements[i])
		}
		s = strings.Replace(s, replacements[i], replacements[i+1], 1)
	}
	p := "/root/" + name + ".hcl"
	if err := n.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// withContainerdConfig is the replacement that gives demo.hcl's containerd
// block a raw config.
func withContainerdConfig(raw string) []string {
	return []string{"  sha256  = var.containerd_sha256\n}", "  sha256  = var.containerd_sha256\n  config  = <<-EOT\n" + raw + "  EOT\n}"}
}

// Files as a distribution package or an earlier manual install leaves them.
const (
	distroConfig = `version = 2
root = "/var/lib/containerd"
state = "/run/containerd"

[grpc]
  address = "/run/containerd/containerd.sock"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.6"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
    SystemdCgroup = false
`
	distroUnit = `[Unit]
Description=containerd container runtime
Documentation=https://containerd.io
After=network.target local-fs.target

[Service]
ExecStartPre=-/sbin/modprobe overlay
ExecStart=/usr/bin/containerd
Type=notify
Delegate=yes
KillMode=process
Restart=always
RestartSec=5

[Install]
WantedBy=multi-user.target
`
)

// TestSurpriseDistroFiles starts from a node that already has a
// distribution's containerd config and unit: plan shows both as updates with
// a diff and says they will be backed up; apply backs them up under
// /var/lib/nodeup/backup, replaces them and runs nodeup's containerd.
func TestSurpriseDistroFiles(t *testing.T) {
	bin := buildNodeup(t)
	a := loadVariant(t, bin, "A", testbed.VarFile(t, "2.3.4"), varFile("2.3.4"), testbed.Mirror(t))
	n := testbed.Create(t, faultOptions(t, bin))
	for p, content := range map[string]string{"/etc/containerd/config.toml": distroConfig, "/etc/systemd/system/containerd.service": distroUnit} {
		if err := n.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	n.Start() // systemd loads the distribution's unit at boot
	args := []string{demoProfile, "--var-file", a.nodeVarFile}

	r := n.Exec(append([]string{nodeNodeup, "plan"}, args...)...)
	if r.Code != 0 {
		t.Fatalf("plan: %s", r)
	}
	for _, want := range []string{
		`(?m)^~ file:/etc/containerd/config\.toml: update .*nodeup did not write it: the old file is backed up under /var/lib/nodeup/backup$`,
		`(?m)^~ file:/etc/systemd/system/containerd\.service: update .*nodeup did not write it: the old file is backed up under /var/lib/nodeup/backup$`,
		`(?m)^\s+--- /etc/containerd/config\.toml$`, `(?m)^\s+-  sandbox_image = "registry\.k8s\.io/pause:3\.6"$`,
		`(?m)^\s+--- /etc/systemd/system/containerd\.service$`, `(?m)^\s+-ExecStart=/usr/bin/containerd$`, `(?m)^\s+\+ExecStart=/usr/local/bin/containerd$`,
	} {
		if !regexp.MustCompile(want).MatchString(r.Stdout) {
			t.Errorf("plan lacks %s:\n%s", want, r.Stdout)
		}
	}

	r = runApply(n, args...)
	if r.Code != 0 {
		t.Fatalf("apply: %s\n%s", r, n.Journal("containerd"))
	}
	converged(t, n, a, r)
	for p, want := range map[string]string{"/etc/containerd/config.toml": distroConfig, "/etc/systemd/system/containerd.service": distroUnit} {
		got, err := os.ReadFile(n.Path(path.Join("/var/lib/nodeup/backup", p)))
		if err != nil || string(got) != want {
			t.Errorf("backup of %s: %v\n%s", p, err, got)
		}
	}
	if exec := n.Run(t, "systemctl", "show", "-p", "ExecStart", "--value", "containerd"); !strings.Contains(exec, "path=/usr/local/bin/containerd") {
		t.Errorf("containerd runs from %s, not nodeup's unit", exec)
	}
	backups := n.Run(t, "find", "/var/lib/nodeup/backup", "-type", "f")
	r = runApply(n, args...)
	if r.Code != 0 {
		t.Fatalf("second apply: %s", r)
	}
	if again := n.Run(t, "find", "/var/lib/nodeup/backup", "-type", "f"); again != backups {
		t.Errorf("the second apply made backups: %s", again)
	}
}

// TestSurpriseMaskedUnit masks containerd (the mask is
// /etc/systemd/system/containerd.service -> /dev/null, where nodeup's unit
// goes) before the first apply and on a node nodeup set up. Apply exits 1 telling
// the operator to unmask, leaves the mask alone and still reports the other
// steps; after systemctl unmask, apply converges.
func TestSurpriseMaskedUnit(t *testing.T) {
	bin := buildNodeup(t)
	a := loadVariant(t, bin, "A", testbed.VarFile(t, "2.3.4"), varFile("2.3.4"), testbed.Mirror(t))
	args := []string{demoProfile, "--var-file", a.nodeVarFile}
	check := func(t *testing.T, n *testbed.Node, r testbed.Result, created bool) {
		t.Helper()
		t.Logf("apply of a masked containerd:\n%s", r.Stdout)
		if r.Code != 1 {
			t.Errorf("apply: want exit 1, got %d", r.Code)
		}
		for _, want := range []string{"containerd.service", "masked", "systemctl unmask containerd.service", "! verify:cri: not run"} {
			if !strings.Contains(r.Stdout+r.Stderr, want) {
				t.Errorf("apply output lacks %q", want)
			}
		}
		m := applySummary.FindStringSubmatch(r.Stdout)
		if m == nil || m[5] == "0" || (created && m[1] == "0") {
			t.Errorf("apply summary: %q; want the other steps done and the failure counted", m)
		}
		if s := strings.TrimSpace(n.Exec("systemctl", "is-enabled", "containerd.service").Stdout); !strings.HasPrefix(s, "masked") {
			t.Errorf("containerd.service is %q after the apply; nodeup must leave the mask alone", s)
		}
	}
	t.Run("before-first-apply", func(t *testing.T) {
		n := faultNode(t, bin)
		n.Run(t, "systemctl", "mask", "containerd.service")
		check(t, n, runApply(n, args...), true)
		if target, _ := os.Readlink(n.Path("/etc/systemd/system/containerd.service")); target != "/dev/null" {
			t.Errorf("the mask link now points to %q", target)
		}
		n.Run(t, "systemctl", "unmask", "containerd.service")
		r := runApply(n, args...)
		if r.Code != 0 {
			t.Fatalf("apply after unmask: %s", r)
		}
		converged(t, n, a, r)
	})
	// On a node nodeup set up, its unit file sits where the mask goes
	// (systemctl mask refuses to replace it, and a runtime mask in /run
	// does not override /etc): the operator removes it, then masks.
	t.Run("after-apply", func(t *testing.T) {
		n := faultNode(t, bin)
		if r := runApply(n, args...); r.Code != 0 {
			t.Fatalf("first apply: %s", r)
		}
		n.Run(t, "systemctl", "disable", "--now", "containerd.service")
		n.Run(t, "rm", "/etc/systemd/system/containerd.service")
		n.Run(t, "systemctl", "mask", "containerd.service")
		check(t, n, runApply(n, args...), false)
		n.Run(t, "systemctl", "unmask", "containerd.service")
		r := runApply(n, args...)
		if r.Code != 0 {
			t.Fatalf("apply after unmask: %s", r)
		}
		converged(t, n, a, r)
	})
}

// TestSurpriseUnitFailsToStart gives containerd a raw config it refuses to
// start with: apply exits 1 and the error carries containerd's journal.
func TestSurpriseUnitFailsToStart(t *testing.T) {
	bin := buildNodeup(t)
	n := faultNode(t, bin)
	profile := demoWith(t, n, "bad-config", withContainerdConfig("    required_plugins = [\"io.containerd.nodeup-fault.v1.missing\"]\n")...)
	t0 := time.Now()
	r := runApply(n, profile, "--var-file", varFile("2.3.4"))
	took := time.Since(t0)
	t.Logf("apply with a config containerd refuses (%s):\n%s", took.Round(time.Millisecond), r.Stdout)
	if r.Code != 1 {
		t.Fatalf("apply: want exit 1, got %s", r)
	}
	for _, want := range []string{"✗ unit:containerd.service failed", "last journal lines (journalctl -u containerd.service)", "io.containerd.nodeup-fault.v1.missing", "! verify:cri: not run"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("apply output lacks %q", want)
		}
	}
}

// TestSurpriseSocketNeverAppears makes containerd listen elsewhere than the
// profile's socket: verification times out with an error naming the socket.
func TestSurpriseSocketNeverAppears(t *testing.T) {
	bin := buildNodeup(t)
	n := faultNode(t, bin)
	// The profile cannot move the socket (it owns the address), so an
	// operator's drop-in does: containerd's --address wins over its config.
	if err := n.WriteFile("/etc/systemd/system/containerd.service.d/50-elsewhere.conf",
		[]byte("[Service]\nExecStart=\nExecStart=/usr/local/bin/containerd --address /run/containerd/elsewhere.sock\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	profile := demoWith(t, n, "other-socket", `timeout  = "60s"`, `timeout  = "5s"`)
	t0 := time.Now()
	r := runApply(n, profile, "--var-file", varFile("2.3.4"))
	took := time.Since(t0)
	t.Logf("apply with containerd listening elsewhere (%s):\n%s", took.Round(time.Millisecond), r.Stdout)
	if r.Code != 1 {
		t.Fatalf("apply: want exit 1, got %s", r)
	}
	if !regexp.MustCompile(`✗ verify:cri failed.*\n.*CRI socket /run/containerd/containerd\.sock did not appear within 5`).MatchString(r.Stdout) {
		t.Errorf("apply output does not say the socket did not appear within the timeout")
	}
}

// TestFaultFullDisk fills the download cache: a 5 MiB tmpfs on
// /var/cache/nodeup. Apply fails saying there is no space, installs nothing
// halfway and leaves nothing temporary; once the tmpfs is gone, a re-run
// converges.
func TestFaultFullDisk(t *testing.T) {
	bin := buildNodeup(t)
	a := loadVariant(t, bin, "A", testbed.VarFile(t, "2.3.4"), varFile("2.3.4"), testbed.Mirror(t))
	n := faultNode(t, bin)
	args := []string{demoProfile, "--var-file", a.nodeVarFile}
	n.Run(t, "mkdir", "-p", "/var/cache/nodeup")
	n.Run(t, "mount", "-t", "tmpfs", "-o", "size=5m", "tmpfs", "/var/cache/nodeup")
	r := runApply(n, args...)
	t.Logf("apply with a full cache:\n%s", r.Stdout)
	if r.Code != 1 {
		t.Fatalf("apply: want exit 1, got %s", r)
	}
	for _, want := range []string{"cannot write the download cache", "no space left on device", "free some space on the filesystem of /var/cache/nodeup"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("apply output lacks %q", want)
		}
	}
	// A full disk is not the mirror's fault: no retries, no advice about mirrors.
	for _, unwanted := range []string{"tries)", "check that the mirrors serve this file"} {
		if strings.Contains(r.Stdout, unwanted) {
			t.Errorf("apply output has %q", unwanted)
		}
	}
	p := between(t, n, absent, a)
	for _, problem := range p.problems {
		t.Errorf("after the failed apply: %s", problem)
	}
	if l := leftovers(t, n); len(l) > 0 {
		t.Errorf("the failed apply left temporary files: %v", l)
	}
	n.Run(t, "umount", "/var/cache/nodeup")
	r = runApply(n, args...)
	if r.Code != 0 {
		t.Fatalf("apply after the tmpfs is gone: %s", r)
	}
	converged(t, n, a, r)
}

// TestCrashRestartDue kills an apply that has replaced containerd's binaries
// and config but not yet restarted it, on a node where containerd started a
// moment before (an operator's restart, or systemd's Restart=always). The
// re-run must still restart containerd onto the new binary, although its files
// are only a moment newer than its process.
func TestCrashRestartDue(t *testing.T) {
	bin := buildNodeup(t)
	m := testbed.ReadManifest(t)
	mirrorB, varFileB := variantMirror(t, m)
	a := loadVariant(t, bin, "A", testbed.VarFile(t, "2.3.4"), varFile("2.3.4"), testbed.Mirror(t))
	b := loadVariant(t, bin, "B", varFileB, nodeMirrorB+"/vars-variant.hcl", mirrorB)
	n := faultNode(t, bin, testbed.Bind{Host: mirrorB, Node: nodeMirrorB, ReadOnly: true})
	// The variants move containerd between 2.3.4 and 1.7.30, both ways.
	argsFor := func(v *variant) []string {
		return []string{demoProfile, "--var-file", v.nodeVarFile, "--allow-downgrade"}
	}
	// Both variants in the cache, the node on A.
	for _, v := range []*variant{b, a} {
		if r := runApply(n, argsFor(v)...); r.Code != 0 {
			t.Fatalf("apply of %s: %s", v.name, r)
		}
	}
	// While the apply unpacks containerd, containerd restarts (as systemd's
	// Restart=always would after a crash); once the apply has installed it
	// (recorded in its state) and written its config, the apply is killed,
	// before its own restart. The new files are a moment newer than the
	// process, which still runs the old binary.
	recorded := func() bool {
		var st struct {
			Artifacts map[string]struct{ SHA256 string }
		}
		b2, _ := os.ReadFile(n.Path("/var/lib/nodeup/state.json"))
		return json.Unmarshal(b2, &st) == nil && st.Artifacts["containerd"].SHA256 == b.sha["containerd"]
	}
	var sockAfter uint64
	res := applyAndKill(t, n, killPoint{label: "with containerd installed and configured, before its restart", when: func() bool {
		if sockAfter == 0 {
			entries, _ := os.ReadDir(n.Path("/usr/local/bin"))
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), ".nodeup-tmp-containerd-") {
					n.Run(t, "systemctl", "restart", "containerd.service")
					sockAfter = socketInode(n)
				}
			}
			return false
		}
		return socketInode(n) == sockAfter && recorded() &&
			bytes.Equal(mustRead(n, "/etc/containerd/config.toml"), b.rendered["/etc/containerd/config.toml"])
	}}, argsFor(b)...)
	if !res.killed {
		t.Fatalf("the apply finished before the kill: %s", res.out)
	}
	exe := n.Run(t, "sh", "-c", "readlink /proc/$(systemctl show -p MainPID --value containerd)/exe")
	t.Logf("killed at %s, %s; containerd runs %s", res.after.Round(time.Millisecond), between(t, n, a, b), strings.TrimSpace(exe))
	r := runApply(n, argsFor(b)...)
	t.Logf("re-run:\n%s", r.Stdout)
	if r.Code != 0 {
		t.Fatalf("re-run: %s", r)
	}
	converged(t, n, b, r)
}
