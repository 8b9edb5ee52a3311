package archive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/nodeup/nodeup/node/archive/archivetest"
	"github.com/nodeup/nodeup/node/host"
)

// The archive builders live in archivetest, shared with other packages' tests.
type ent = archivetest.Entry

var (
	file     = archivetest.File
	dir      = archivetest.Dir
	symlink  = archivetest.Symlink
	hardlink = archivetest.Hardlink
)

func makeTar(t *testing.T, ents []ent) []byte { return archivetest.Tar(t, ents...) }

func compress(t *testing.T, format Format, data []byte) []byte {
	return archivetest.Compress(t, format, data)
}

func openBytes(t *testing.T, format Format, data []byte) *Archive {
	t.Helper()
	p := filepath.Join(t.TempDir(), "artifact."+string(format))
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := Open(p, format)
	if err != nil {
		t.Fatal(err)
	}
	a.Log = t.Logf
	return a
}

func openTar(t *testing.T, format Format, ents []ent) *Archive {
	t.Helper()
	return openBytes(t, format, compress(t, format, makeTar(t, ents)))
}

func newHost(t *testing.T) *host.Host {
	t.Helper()
	h, err := host.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// snapshot lists everything under the root: path, kind, mode, content.
func snapshot(t *testing.T, root string) string {
	t.Helper()
	var lines []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Lstat(p)
		line := fmt.Sprintf("%s %v", strings.TrimPrefix(p, root), fi.Mode())
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			line += " -> " + l
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			line += " " + string(b)
		}
		lines = append(lines, line)
		return nil
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func sum(s string) string {
	b := sha256.Sum256([]byte(s))
	return hex.EncodeToString(b[:])
}

func read(t *testing.T, h *host.Host, p string) string {
	t.Helper()
	b, err := h.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var tarFormats = []Format{FormatTarGz, FormatTarZst, FormatTarXz}

// Upstream layouts: CNI with "./" entries, containerd with bin/, kata
// under ./opt/kata with a relative symlink and a hardlink.
var goodEntries = []ent{
	dir("./"),
	file("./bridge", "bridge plugin"),
	file("./loopback", "loopback plugin"),
	dir("bin/"),
	file("bin/containerd", "containerd binary"),
	file("bin/ctr", "ctr binary"),
	symlink("bin/ctr-link", "ctr"),
	dir("./opt/"),
	dir("./opt/kata/"),
	dir("./opt/kata/bin/"),
	file("./opt/kata/bin/containerd-shim-kata-v2", "kata shim"),
	hardlink("./opt/kata/bin/kata-runtime", "./opt/kata/bin/containerd-shim-kata-v2"),
	{Name: "./opt/kata/share/defaults/kata-containers/configuration-qemu.toml", Type: tar.TypeReg, Body: "[hypervisor.qemu]\n", Mode: 0o644},
	symlink("./opt/kata/share/defaults/kata-containers/configuration.toml", "configuration-qemu.toml"),
	symlink("./opt/kata/bin/up", "../share"),
	{Name: "./opt/kata/ro/", Type: tar.TypeDir, Mode: 0o555},
	{Name: "./opt/kata/ro/f", Type: tar.TypeReg, Body: "in a read-only dir", Mode: 0o444},
}

func TestGoodArchives(t *testing.T) {
	for _, format := range tarFormats {
		t.Run(string(format), func(t *testing.T) {
			a := openTar(t, format, goodEntries)
			h := newHost(t)
			got, err := a.Install(h, []Placement{
				{From: "./bridge", To: "/opt/cni/bin/bridge", Mode: 0o755},
				{From: "loopback", To: "/opt/cni/bin/loopback"},
				{From: "bin/containerd", To: "/usr/local/bin/containerd", Mode: 0o755},
				{From: "bin/ctr-link", To: "/usr/local/bin/ctr", Mode: 0o750},
				{From: "opt/kata/bin/kata-runtime", To: "/usr/local/bin/kata-runtime", Mode: 0o755},
			})
			if err != nil {
				t.Fatal(err)
			}
			want := []Installed{
				{"/opt/cni/bin/bridge", sum("bridge plugin")},
				{"/opt/cni/bin/loopback", sum("loopback plugin")},
				{"/usr/local/bin/containerd", sum("containerd binary")},
				{"/usr/local/bin/ctr", sum("ctr binary")},
				{"/usr/local/bin/kata-runtime", sum("kata shim")},
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("installed %v\nwant %v", got, want)
			}
			if read(t, h, "/usr/local/bin/ctr") != "ctr binary" || read(t, h, "/usr/local/bin/kata-runtime") != "kata shim" {
				t.Error("link members did not install their target's content")
			}
			if fi, _ := h.Lstat("/usr/local/bin/ctr"); fi.Mode() != 0o750 {
				t.Errorf("ctr mode %v", fi.Mode())
			}

			if err := a.InstallTree(h, Tree{From: "opt/kata", To: "/opt/kata"}); err != nil {
				t.Fatal(err)
			}
			if read(t, h, "/opt/kata/share/defaults/kata-containers/configuration.toml") != "[hypervisor.qemu]\n" {
				t.Error("configuration.toml symlink")
			}
			if l, _ := h.Readlink("/opt/kata/bin/up"); l != "../share" {
				t.Errorf("bin/up -> %q", l)
			}
			shim, _ := h.Stat("/opt/kata/bin/containerd-shim-kata-v2")
			rt, _ := h.Stat("/opt/kata/bin/kata-runtime")
			if !os.SameFile(shim, rt) {
				t.Error("hardlink not preserved in the tree")
			}
			if fi, _ := h.Stat("/opt/kata/ro"); fi.Mode().Perm() != 0o555 {
				t.Errorf("ro dir mode %v", fi.Mode())
			}
			if fi, _ := h.Stat("/opt/kata/share/defaults"); fi.Mode().Perm() != 0o755 {
				t.Errorf("implicit dir mode %v", fi.Mode())
			}
			assertClean(t, h)
		})
	}
}

// assertClean checks no temporary or staging file is left anywhere.
func assertClean(t *testing.T, h *host.Host) {
	t.Helper()
	filepath.WalkDir(h.Root(), func(p string, d fs.DirEntry, err error) error {
		if err == nil && (strings.HasPrefix(d.Name(), host.TempPrefix) || strings.HasPrefix(d.Name(), ".nodeup-stage-")) {
			t.Errorf("left behind: %s", p)
		}
		return nil
	})
}

func TestMembers(t *testing.T) {
	a := openTar(t, FormatTarGz, goodEntries[:7])
	ms, err := a.Members()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ms {
		got = append(got, fmt.Sprintf("%s %s %d %v %s %.8s", m.Name, m.Kind, m.Size, m.Mode, m.Link, m.SHA256))
	}
	want := []string{
		"bridge file 13 -rwxr-xr-x  " + sum("bridge plugin")[:8],
		"loopback file 15 -rwxr-xr-x  " + sum("loopback plugin")[:8],
		"bin dir 0 -rwxr-xr-x  ",
		"bin/containerd file 17 -rwxr-xr-x  " + sum("containerd binary")[:8],
		"bin/ctr file 10 -rwxr-xr-x  " + sum("ctr binary")[:8],
		"bin/ctr-link symlink 0 -rwxrwxrwx ctr ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("members:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestRawBinary(t *testing.T) {
	a := openBytes(t, FormatBinary, []byte("runc binary"))
	h := newHost(t)
	ms, err := a.Members()
	if err != nil || len(ms) != 1 || ms[0].Name != "" || ms[0].SHA256 != sum("runc binary") {
		t.Fatalf("members %v %v", ms, err)
	}
	got, err := a.Install(h, []Placement{{To: "/usr/local/sbin/runc", Mode: 0o755}})
	if err != nil || got[0].SHA256 != sum("runc binary") {
		t.Fatal(got, err)
	}
	if fi, _ := h.Stat("/usr/local/sbin/runc"); fi.Mode() != 0o755 || read(t, h, "/usr/local/sbin/runc") != "runc binary" {
		t.Errorf("runc: %v", fi.Mode())
	}
	if _, err := a.Install(h, []Placement{{From: "runc", To: "/x"}}); err == nil {
		t.Error("a member name on a raw binary was accepted")
	}
	if err := a.InstallTree(h, Tree{From: "opt", To: "/opt/x"}); err == nil {
		t.Error("a tree from a raw binary was accepted")
	}
}

func TestMissingMember(t *testing.T) {
	a := openTar(t, FormatTarGz, goodEntries[:7])
	h := newHost(t)
	h.WriteFile("/opt/cni/bin/bridge", []byte("old"), 0o755)
	before := snapshot(t, h.Root())
	_, err := a.Install(h, []Placement{
		{From: "bridge", To: "/opt/cni/bin/bridge"},
		{From: "portmap", To: "/opt/cni/bin/portmap"},
	})
	if err == nil || !strings.Contains(err.Error(), `no member "portmap"`) || !strings.Contains(err.Error(), "bridge, loopback") {
		t.Fatalf("got %v", err)
	}
	if after := snapshot(t, h.Root()); after != before {
		t.Errorf("node changed:\n%s\nwant:\n%s", after, before)
	}
	if err := a.InstallTree(h, Tree{From: "opt/kata", To: "/opt/kata"}); err == nil || !strings.Contains(err.Error(), `no directory "opt/kata"`) {
		t.Errorf("missing tree: %v", err)
	}
	assertClean(t, h)
}

// A stream that breaks after the first member: the first member must not be
// installed either.
func TestDamagedArchiveInstallsNothing(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	data := compress(t, FormatTarGz, makeTar(t, []ent{file("a", "new a"), file("b", big)}))
	a := openBytes(t, FormatTarGz, data[:len(data)*2/3])
	h := newHost(t)
	h.WriteFile("/usr/local/bin/a", []byte("old a"), 0o755)
	h.WriteFile("/usr/local/bin/b", []byte("old b"), 0o755)
	before := snapshot(t, h.Root())
	_, err := a.Install(h, []Placement{{From: "a", To: "/usr/local/bin/a"}, {From: "b", To: "/usr/local/bin/b"}})
	if err == nil || !strings.Contains(err.Error(), "unexpected EOF") {
		t.Fatalf("got %v", err)
	}
	if after := snapshot(t, h.Root()); after != before {
		t.Errorf("node changed:\n%s\nwant:\n%s", after, before)
	}
}

func TestTreeReplacesOldTree(t *testing.T) {
	h := newHost(t)
	h.WriteFile("/opt/kata/bin/old-only", []byte("old"), 0o755)
	h.WriteFile("/opt/kata/bin/containerd-shim-kata-v2", []byte("old shim"), 0o755)
	a := openTar(t, FormatTarZst, goodEntries)
	if err := a.InstallTree(h, Tree{From: "./opt/kata/", To: "/opt/kata"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Lstat("/opt/kata/bin/old-only"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("old tree's file survived: %v", err)
	}
	if read(t, h, "/opt/kata/bin/containerd-shim-kata-v2") != "kata shim" {
		t.Error("new tree not in place")
	}
	es, _ := h.ReadDir("/opt")
	if len(es) != 1 {
		t.Errorf("/opt holds %v, want only kata", es)
	}
	// A refused archive leaves the installed tree as it was.
	before := snapshot(t, h.Root())
	bad := openTar(t, FormatTarZst, []ent{file("opt/kata/bin/containerd-shim-kata-v2", "evil"), {Name: "opt/kata/dev", Type: tar.TypeChar}})
	if err := bad.InstallTree(h, Tree{From: "opt/kata", To: "/opt/kata"}); !errors.Is(err, ErrUnsafe) {
		t.Fatalf("got %v", err)
	}
	if after := snapshot(t, h.Root()); after != before {
		t.Errorf("tree changed:\n%s\nwant:\n%s", after, before)
	}
}

// Modes from an archive lose setuid, setgid and sticky bits and group and
// other write; each member's change is logged once, however many times the
// archive is read.
func TestArchiveModesMadeSafe(t *testing.T) {
	var logs []string
	a := openTar(t, FormatTarGz, []ent{
		{Name: "bin/x", Type: tar.TypeReg, Body: "x", Mode: 0o4755},
		{Name: "bin/w", Type: tar.TypeReg, Body: "w", Mode: 0o777},
		{Name: "bin/l", Type: tar.TypeSymlink, Link: "w", Mode: 0o777},
		{Name: "opt/t/", Type: tar.TypeDir, Mode: 0o1777},
		{Name: "opt/t/y", Type: tar.TypeReg, Body: "y", Mode: 0o2775},
		{Name: "opt/t/conf", Type: tar.TypeReg, Body: "c", Mode: 0o666},
		{Name: "opt/t/ok", Type: tar.TypeReg, Body: "ok", Mode: 0o644},
	})
	a.Log = func(f string, args ...any) { logs = append(logs, fmt.Sprintf(f, args...)) }
	h := newHost(t)
	if _, err := a.Members(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Install(h, []Placement{{From: "bin/x", To: "/usr/local/bin/x"}, {From: "bin/l", To: "/usr/local/bin/w"}}); err != nil {
		t.Fatal(err)
	}
	if err := a.InstallTree(h, Tree{From: "opt/t", To: "/opt/t"}); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]fs.FileMode{
		"/usr/local/bin/x": 0o755, "/usr/local/bin/w": 0o755,
		"/opt/t": fs.ModeDir | 0o755, "/opt/t/y": 0o755, "/opt/t/conf": 0o644, "/opt/t/ok": 0o644,
	} {
		if fi, _ := h.Lstat(p); fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode(), want)
		}
	}
	want := []string{
		"archive artifact.tar.gz: bin/x: stripped setuid bits (mode 4755 -> 0755)",
		"archive artifact.tar.gz: bin/w: cleared group/other write (mode 0777 -> 0755)",
		"archive artifact.tar.gz: opt/t/: stripped sticky bits and cleared group/other write (mode 1777 -> 0755)",
		"archive artifact.tar.gz: opt/t/y: stripped setgid bits and cleared group/other write (mode 2775 -> 0755)",
		"archive artifact.tar.gz: opt/t/conf: cleared group/other write (mode 0666 -> 0644)",
	}
	if strings.Join(logs, "\n") != strings.Join(want, "\n") {
		t.Errorf("log:\n%s\nwant once each:\n%s", strings.Join(logs, "\n"), strings.Join(want, "\n"))
	}
}

// Every order of files, symlinks, hardlinks and same-named entries that
// could put something outside the destination is refused, in every
// archive format, for members and for trees, and the node is left as it was.
func TestLinkCombinationsRefused(t *testing.T) {
	cases := []struct {
		name  string
		ents  []ent
		entry string
		why   string
	}{
		{"hardlink to a file a symlink replaced, then a file below it", []ent{
			dir("opt/kata/a/b/"), file("opt/kata/a/b/x", "x"), symlink("opt/kata/a/b/x", "../.."),
			hardlink("opt/kata/y", "opt/kata/a/b/x"), file("opt/kata/y/etc/escaped", "pwned"),
		}, "opt/kata/a/b/x", "replaces a file earlier in the archive with a symlink"},
		{"hardlink to a symlink", []ent{
			dir("opt/kata/a/b/"), symlink("opt/kata/a/b/x", "../.."), hardlink("opt/kata/y", "opt/kata/a/b/x"),
		}, "opt/kata/y", "not a file earlier in the archive"},
		{"hardlink to a directory", []ent{dir("opt/kata/d/"), hardlink("opt/kata/y", "opt/kata/d")}, "opt/kata/y", "not a file earlier"},
		{"hardlink to itself", []ent{file("opt/kata/y", "y"), hardlink("opt/kata/y", "opt/kata/y")}, "opt/kata/y", "not a file earlier"},
		{"hardlink before the file", []ent{hardlink("opt/kata/y", "opt/kata/x"), file("opt/kata/x", "x")}, "opt/kata/y", "not a file earlier"},
		{"symlink replaces a directory", []ent{dir("opt/kata/d/"), symlink("opt/kata/d", ".."), file("opt/kata/d/x", "x")}, "opt/kata/d", "replaces a dir earlier in the archive with a symlink"},
		{"symlink replaces an implicit directory", []ent{file("opt/kata/d/x", "x"), symlink("opt/kata/d", ".."), file("opt/kata/d/y", "y")}, "opt/kata/d", "replaces a dir"},
		{"directory replaces a symlink", []ent{symlink("opt/kata/d", "."), dir("opt/kata/d/")}, "opt/kata/d/", "replaces a symlink"},
		{"file replaces a symlink", []ent{symlink("opt/kata/d", "."), file("opt/kata/d", "x")}, "opt/kata/d", "replaces a symlink"},
		{"file below a file", []ent{file("opt/kata/f", "f"), file("opt/kata/f/x", "x")}, "opt/kata/f/x", "below opt/kata/f, a file"},
		{"file below a hardlink", []ent{file("opt/kata/f", "f"), hardlink("opt/kata/h", "opt/kata/f"), file("opt/kata/h/x", "x")}, "opt/kata/h/x", "below opt/kata/h, a file"},
		{"file below a symlink to a directory inside", []ent{dir("opt/kata/d/"), symlink("opt/kata/l", "d"), file("opt/kata/l/x", "x")}, "opt/kata/l/x", "written through opt/kata/l"},
		{"symlink chain climbing out", []ent{dir("opt/kata/a/"), symlink("opt/kata/a/up", ".."), symlink("opt/kata/b", "a/up/..")}, "opt/kata/b", "leads outside the tree"},
		{"directory replaces a file", []ent{file("opt/kata/d", "x"), dir("opt/kata/d/")}, "opt/kata/d/", "replaces a file earlier in the archive with a dir"},
	}
	for _, format := range tarFormats {
		for _, c := range cases {
			for _, tree := range []bool{true, false} {
				t.Run(fmt.Sprintf("%s/%s/tree=%v", format, c.name, tree), func(t *testing.T) {
					h := newHost(t)
					h.WriteFile("/opt/kata/old", []byte("old tree"), 0o644)
					h.WriteFile("/usr/local/bin/x", []byte("old"), 0o755)
					before := snapshot(t, h.Root())
					a := openTar(t, format, append([]ent{file("bin/x", "x")}, c.ents...))
					var err error
					if tree {
						err = a.InstallTree(h, Tree{From: "opt/kata", To: "/opt/kata"})
					} else {
						_, err = a.Install(h, []Placement{{From: "bin/x", To: "/usr/local/bin/x"}})
					}
					if c.why == "leads outside the tree" && !tree {
						// A member install reads only the member; the
						// chain is judged where it lands, in a tree.
						if err != nil {
							t.Fatal(err)
						}
						return
					}
					if !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), fmt.Sprintf("entry %q", c.entry)) || !strings.Contains(err.Error(), c.why) {
						t.Fatalf("got %v, want an unsafe-archive error naming %q and saying %q", err, c.entry, c.why)
					}
					if after := snapshot(t, h.Root()); after != before {
						t.Errorf("node changed:\n%s\nwant:\n%s", after, before)
					}
				})
			}
		}
	}
}

func TestUnsafeArchivesRefused(t *testing.T) {
	cases := []struct {
		name  string
		ents  []ent
		tree  string // install this tree instead of the bin/ok member
		entry string // the entry the error must name
		why   string
	}{
		{"absolute path", []ent{file("bin/ok", "ok"), file("/etc/passwd", "root::0:0")}, "", "/etc/passwd", "absolute path"},
		{"dotdot", []ent{file("bin/ok", "ok"), file("../../etc/passwd", "x")}, "", "../../etc/passwd", `".." component`},
		{"dotdot inside", []ent{file("bin/ok", "ok"), file("bin/../../x", "x")}, "", "bin/../../x", `".." component`},
		{"symlink out", []ent{file("bin/ok", "ok"), symlink("bin/etc", "../../etc")}, "", "bin/etc", "leaves the archive"},
		{"absolute symlink", []ent{file("bin/ok", "ok"), symlink("etc", "/etc")}, "", "etc", "is absolute"},
		{"file through absolute symlink", []ent{symlink("evil", "/etc"), file("evil/passwd", "x"), file("bin/ok", "ok")}, "", "evil", "is absolute"},
		{"file through symlink", []ent{dir("sub/"), symlink("lnk", "sub"), file("lnk/x", "x"), file("bin/ok", "ok")}, "", "lnk/x", "written through lnk"},
		{"symlink replaced", []ent{symlink("bin/ok", "other"), file("bin/ok", "ok")}, "", "bin/ok", "replaces a symlink"},
		{"hardlink outside", []ent{file("bin/ok", "ok"), hardlink("bin/shadow", "../../etc/shadow")}, "", "bin/shadow", "outside the archive"},
		{"hardlink absolute", []ent{file("bin/ok", "ok"), hardlink("bin/shadow", "/etc/shadow")}, "", "bin/shadow", "outside the archive"},
		{"hardlink to missing", []ent{file("bin/ok", "ok"), hardlink("bin/x", "bin/nothere")}, "", "bin/x", "not a file earlier in the archive"},
		{"char device", []ent{file("bin/ok", "ok"), {Name: "dev/null", Type: tar.TypeChar}}, "", "dev/null", "device node"},
		{"block device", []ent{file("bin/ok", "ok"), {Name: "dev/sda", Type: tar.TypeBlock}}, "", "dev/sda", "device node"},
		{"fifo", []ent{file("bin/ok", "ok"), {Name: "bin/pipe", Type: tar.TypeFifo}}, "", "bin/pipe", "fifo"},
		{"tree symlink out of tree", []ent{file("opt/kata/ok", "ok"), symlink("opt/kata/x", "../../usr/bin")}, "opt/kata", "opt/kata/x", "leaves opt/kata"},
		{"tree chained symlinks", []ent{dir("opt/kata/bin/"), symlink("opt/kata/bin/d", ".."), symlink("opt/kata/bin/x", "d/.."), file("opt/kata/ok", "ok")}, "opt/kata", "opt/kata/bin/x", "leads outside the tree"},
		{"tree hardlink out of tree", []ent{file("opt/other/f", "secret"), hardlink("opt/kata/f", "opt/other/f")}, "opt/kata", "opt/kata/f", "outside opt/kata"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHost(t)
			h.WriteFile("/usr/local/bin/ok", []byte("old"), 0o755)
			h.WriteFile("/opt/kata/old", []byte("old tree"), 0o644)
			before := snapshot(t, h.Root())
			outside := t.TempDir()
			a := openTar(t, FormatTarGz, c.ents)
			var err error
			if c.tree != "" {
				err = a.InstallTree(h, Tree{From: c.tree, To: "/opt/kata"})
			} else {
				_, err = a.Install(h, []Placement{{From: "bin/ok", To: "/usr/local/bin/ok"}})
			}
			if !errors.Is(err, ErrUnsafe) {
				t.Fatalf("got %v, want an unsafe-archive error", err)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("entry %q", c.entry)) || !strings.Contains(err.Error(), c.why) {
				t.Errorf("error %q does not name entry %q and say %q", err, c.entry, c.why)
			}
			if after := snapshot(t, h.Root()); after != before {
				t.Errorf("node changed:\n%s\nwant:\n%s", after, before)
			}
			if es, _ := os.ReadDir(outside); len(es) != 0 {
				t.Errorf("written outside: %v", es)
			}
			if _, err := a.Members(); !errors.Is(err, ErrUnsafe) && c.tree == "" {
				t.Errorf("Members accepted the archive: %v", err)
			}
		})
	}
}

// zeros is a reader of n zero bytes.
type zeros struct{ n int64 }

func (z *zeros) Read(b []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	n := min(int64(len(b)), z.n)
	clear(b[:n])
	z.n -= n
	return int(n), nil
}

// bomb writes a tar with one file of n zeros, compressed.
func bomb(t *testing.T, format Format, n int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	switch format {
	case FormatTarGz:
		w, _ = gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	case FormatTarZst:
		w, _ = zstd.NewWriter(&buf)
	}
	tw := tar.NewWriter(w)
	tw.WriteHeader(&tar.Header{Name: "zeros", Typeflag: tar.TypeReg, Size: n, Mode: 0o644})
	io.Copy(tw, &zeros{n})
	tw.Close()
	w.Close()
	return buf.Bytes()
}

func TestDecompressionBomb(t *testing.T) {
	for _, format := range []Format{FormatTarGz, FormatTarZst} {
		t.Run(string(format), func(t *testing.T) {
			data := bomb(t, format, 32<<20)
			a := openBytes(t, format, data)
			a.MaxBytes = 4 << 20
			h := newHost(t)
			before := snapshot(t, h.Root())
			err := a.InstallTree(h, Tree{To: "/opt/z"})
			if !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), `entry "zeros"`) || !strings.Contains(err.Error(), "4 MiB") {
				t.Fatalf("got %v (archive is %d bytes)", err, len(data))
			}
			if after := snapshot(t, h.Root()); after != before {
				t.Errorf("node changed:\n%s", after)
			}
		})
	}
	// With the default cap: a header announcing 8 GiB is refused before a
	// byte of it is decompressed.
	var buf bytes.Buffer
	zw, _ := zstd.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Name: "huge", Typeflag: tar.TypeReg, Size: 8 << 30, Mode: 0o644})
	tw.Flush()
	zw.Close()
	a := openBytes(t, FormatTarZst, buf.Bytes())
	if _, err := a.Members(); !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), "4 GiB") {
		t.Fatalf("8 GiB header: %v", err)
	}
	// Too many entries.
	var ents []ent
	for i := range 20 {
		ents = append(ents, file(fmt.Sprintf("f%d", i), ""))
	}
	a = openTar(t, FormatTarGz, ents)
	a.MaxEntries = 10
	if _, err := a.Members(); !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), `entry "f10"`) {
		t.Fatalf("entry cap: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(filepath.Join(t.TempDir(), "x"), FormatTarGz); err == nil {
		t.Error("missing file accepted")
	}
	p := filepath.Join(t.TempDir(), "x.zip")
	os.WriteFile(p, nil, 0o644)
	if _, err := Open(p, "zip"); err == nil || !strings.Contains(err.Error(), "unknown format") {
		t.Errorf("zip: %v", err)
	}
	a := openBytes(t, FormatTarXz, []byte("not xz at all"))
	if _, err := a.Members(); err == nil || !strings.Contains(err.Error(), "not a valid tar.xz") {
		t.Errorf("garbage: %v", err)
	}
}

// cni111 is the layout of CNI plugins 1.1.1: no dummy, no tap, which later
// releases added, and a LICENSE and README beside the plugins.
func cni111() []ent {
	ents := []ent{dir("./")}
	for _, p := range []string{"bandwidth", "bridge", "dhcp", "firewall", "host-device", "host-local", "ipvlan", "loopback",
		"macvlan", "portmap", "ptp", "sbr", "static", "tuning", "vlan", "vrf"} {
		ents = append(ents, file("./"+p, p+" plugin"))
	}
	return append(ents,
		ent{Name: "./LICENSE", Type: tar.TypeReg, Body: "license", Mode: 0o644},
		ent{Name: "./README.md", Type: tar.TypeReg, Body: "readme", Mode: 0o644})
}

func TestInstallEveryExecutable(t *testing.T) {
	a := openTar(t, FormatTarGz, cni111())
	h := newHost(t)
	got, err := a.Install(h, []Placement{{From: "*", To: "/opt/cni/bin/", Mode: 0o755}})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, in := range got {
		paths = append(paths, in.Path)
		if in.SHA256 != sum(strings.TrimPrefix(in.Path, "/opt/cni/bin/")+" plugin") {
			t.Errorf("%s: sha256 %s", in.Path, in.SHA256)
		}
	}
	if len(paths) != 16 || paths[0] != "/opt/cni/bin/bandwidth" || paths[15] != "/opt/cni/bin/vrf" {
		t.Errorf("installed %v, want the 16 plugins in name order", paths)
	}
	for _, p := range []string{"/opt/cni/bin/LICENSE", "/opt/cni/bin/README.md", "/opt/cni/bin/dummy"} {
		if _, err := h.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: %v, want it absent", p, err)
		}
	}
	if fi, err := h.Stat("/opt/cni/bin/loopback"); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("loopback: %v %v", fi, err)
	}
	assertClean(t, h)

	// A named plugin the release lacks: the error lists what it has.
	_, err = a.Install(h, []Placement{{From: "dummy", To: "/opt/cni/bin/dummy"}})
	if err == nil || !strings.Contains(err.Error(), `no member "dummy"`) || !strings.Contains(err.Error(), "bandwidth, bridge, dhcp, firewall, host-device, host-local, ipvlan, loopback, macvlan, portmap, ptp, sbr, static, tuning, vlan, vrf") {
		t.Errorf("dummy from CNI 1.1.1: %v", err)
	}

	// An archive without executables at its top installs nothing.
	a = openTar(t, FormatTarGz, goodEntries[3:7])
	if _, err := a.Install(newHost(t), []Placement{{From: "*", To: "/opt/cni/bin/", Mode: 0o755}}); err == nil || !strings.Contains(err.Error(), "no executable files at its top") {
		t.Errorf("no executables: %v", err)
	}
}

func TestRecorded(t *testing.T) {
	files := []Placement{
		{From: "bin/containerd", To: "/usr/local/bin/containerd", Mode: 0o755},
		{From: "*", To: "/opt/cni/bin/", Mode: 0o755},
	}
	recorded := func(dir string) []string {
		if dir != "/opt/cni/bin/" {
			t.Errorf("asked for %s", dir)
		}
		return []string{"/opt/cni/bin/bridge", "/opt/cni/bin/loopback"}
	}
	var got []string
	for _, f := range Recorded(files, recorded) {
		got = append(got, f.From+" "+f.To)
	}
	want := "bin/containerd /usr/local/bin/containerd|bridge /opt/cni/bin/bridge|loopback /opt/cni/bin/loopback"
	if strings.Join(got, "|") != want {
		t.Errorf("Recorded = %q, want %q", strings.Join(got, "|"), want)
	}
}

// endsWith is a reader of data that ends with err instead of io.EOF, as a
// download's reader ends when the bytes were not the verified file's.
type endsWith struct {
	r   io.Reader
	err error
}

func (e *endsWith) Read(b []byte) (int, error) {
	n, err := e.r.Read(b)
	if err == io.EOF {
		err = e.err
	}
	return n, err
}

func (e *endsWith) Close() error { return nil }

func TestStageStreamCommitsOnlyAtItsEnd(t *testing.T) {
	data := compress(t, FormatTarGz, makeTar(t, []ent{file("bin/containerd", "new")}))
	files := []Placement{{From: "bin/containerd", To: "/usr/local/bin/containerd"}}
	for _, tc := range []struct {
		name string
		end  error
	}{{"verified", io.EOF}, {"restarted", errors.New("the download started over")}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHost(t)
			a, err := OpenStream("containerd.tar.gz", func() (io.ReadCloser, error) {
				return &endsWith{r: bytes.NewReader(data), err: tc.end}, nil
			}, FormatTarGz)
			if err != nil {
				t.Fatal(err)
			}
			s, err := a.Stage(h, files)
			if tc.end != io.EOF {
				// The tar was whole, but its stream did not end well.
				if err == nil || !strings.Contains(err.Error(), "started over") {
					t.Errorf("Stage: %v, want the stream's error", err)
				}
				if got := snapshot(t, h.Root()); strings.Contains(got, "containerd") {
					t.Errorf("a failed stage left:\n%s", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(h.Root(), "usr/local/bin/containerd")); err == nil {
				t.Error("staging put the file in place")
			}
			if _, err := s.Commit(); err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(filepath.Join(h.Root(), "usr/local/bin/containerd")); string(b) != "new" {
				t.Errorf("committed %q", b)
			}
			if err := a.InstallTree(h, Tree{From: "bin", To: "/opt/x"}); err == nil {
				t.Error("a tree was installed from a stream")
			}
		})
	}
}
