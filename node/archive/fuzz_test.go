package archive

import (
	"archive/tar"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/nodeup/nodeup/node/archive/archivetest"
	"github.com/nodeup/nodeup/node/host"
)

// Names and link targets the fuzzer combines: deep enough to climb out of
// the tree and the root, few enough that entries meet each other.
var (
	fuzzNames = []string{"opt/kata/a", "opt/kata/b", "opt/kata/a/b", "opt/kata/a/c", "opt/kata/b/c",
		"opt/kata/a/b/c", "opt/kata", "opt", "bin/x", "opt/kata/c", "opt/kata/b/a/x", "opt/kata/a/b/c/d"}
	fuzzTargets = []string{".", "..", "../..", "../../..", "../../../..", "a", "b", "a/b", "../a", "b/..",
		"/etc", "a/../..", "c/../../..", "b/c", "../kata/a", "d/../../.."}
	fuzzModes = []int64{0o755, 0o644, 0o777, 0o4755, 0o2666}
)

// fuzzEntries reads an archive member sequence from data, three bytes an
// entry: kind and mode, name, link target.
func fuzzEntries(data []byte) []archivetest.Entry {
	var out []archivetest.Entry
	for i := 0; i+3 <= len(data) && len(out) < 64; i += 3 {
		k, n, l := int(data[i]), int(data[i+1]), int(data[i+2])
		e := archivetest.Entry{Name: fuzzNames[n%len(fuzzNames)], Mode: fuzzModes[(k/4)%len(fuzzModes)]}
		switch k % 4 {
		case 0:
			e.Type, e.Body = tar.TypeReg, e.Name
		case 1:
			e.Type, e.Name = tar.TypeDir, e.Name+"/"
		case 2:
			e.Type, e.Link = tar.TypeSymlink, fuzzTargets[l%len(fuzzTargets)]
		case 3:
			e.Type, e.Link = tar.TypeLink, fuzzNames[l%len(fuzzNames)]
		}
		out = append(out, e)
	}
	return out
}

// encode is a fuzz input for the entries in the format at index format of
// the fuzz target's list (0: tar.gz, 5: tar.zst, 7: tar.xz).
func encode(t testing.TB, format byte, ents ...archivetest.Entry) []byte {
	index := func(list []string, s string) byte {
		for i, v := range list {
			if v == s {
				return byte(i)
			}
		}
		t.Fatalf("%q is not in the fuzz alphabet", s)
		return 0
	}
	out := []byte{format}
	for _, e := range ents {
		name := strings.TrimSuffix(e.Name, "/")
		switch e.Type {
		case tar.TypeReg:
			out = append(out, 0, index(fuzzNames, name), 0)
		case tar.TypeDir:
			out = append(out, 1, index(fuzzNames, name), 0)
		case tar.TypeSymlink:
			out = append(out, 2, index(fuzzNames, name), index(fuzzTargets, e.Link))
		case tar.TypeLink:
			out = append(out, 3, index(fuzzNames, name), index(fuzzNames, e.Link))
		}
	}
	return out
}

// FuzzUnpack unpacks arbitrary sequences of files, directories, symlinks
// and hardlinks (same names again included) as members and as a tree, in
// every archive format. Whatever the sequence and whether it is refused or
// installed, nothing may exist outside the destinations afterwards, no
// symlink in the tree may lead outside it, and no file in it may be a
// hardlink to a file elsewhere: nothing outside the destination, ever.
//
//	go test ./node/archive -run '^$' -fuzz FuzzUnpack -fuzztime 60s
func FuzzUnpack(f *testing.F) {
	f.Add(encode(f, 0,
		archivetest.Dir("opt/kata/a/b/"), archivetest.File("opt/kata/a/b/c", "x"), archivetest.Symlink("opt/kata/a/b/c", "../.."),
		archivetest.Hardlink("opt/kata/b", "opt/kata/a/b/c"), archivetest.File("opt/kata/b/a/x", "pwned")))
	f.Add(encode(f, 5, archivetest.Dir("opt/kata/a/"), archivetest.Symlink("opt/kata/a/b", ".."), archivetest.Symlink("opt/kata/c", "a/../..")))
	f.Add(encode(f, 7, archivetest.File("bin/x", "x"), archivetest.File("opt/kata/a", "a"), archivetest.Hardlink("opt/kata/b", "opt/kata/a"),
		archivetest.Symlink("opt/kata/c", "a")))
	f.Add(encode(f, 0, archivetest.Symlink("opt/kata/a", "."), archivetest.File("opt/kata/a/b", "x")))
	// xz is the slowest to build by far: it gets one input in eight.
	formats := []Format{FormatTarGz, FormatTarGz, FormatTarGz, FormatTarGz,
		FormatTarGz, FormatTarZst, FormatTarZst, FormatTarXz}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		format := formats[int(data[0])%len(formats)]
		ents := fuzzEntries(data[1:])
		parent := t.TempDir()
		root := filepath.Join(parent, "root")
		outside := filepath.Join(parent, "outside")
		for _, d := range []string{root, outside} {
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		h, err := host.New(root)
		if err != nil {
			t.Fatal(err)
		}
		arc := filepath.Join(parent, "artifact")
		if err := os.WriteFile(arc, archivetest.Compress(t, format, archivetest.Tar(t, ents...)), 0o644); err != nil {
			t.Fatal(err)
		}
		a, err := Open(arc, format)
		if err != nil {
			t.Fatal(err)
		}
		_, ierr := a.Install(h, []Placement{{From: "bin/x", To: "/usr/local/bin/x"}, {From: "opt/kata/a", To: "/usr/local/bin/a"}})
		terr := a.InstallTree(h, Tree{From: "opt/kata", To: "/opt/kata"})
		for _, err := range []error{ierr, terr} {
			if err != nil && !errors.Is(err, ErrUnsafe) {
				t.Logf("refused: %v", err) // a missing member, a file for a tree: answers, not escapes
			}
		}

		allowed := func(p string) bool {
			switch p {
			case "", "/opt", "/usr", "/usr/local", "/usr/local/bin", "/usr/local/bin/x", "/usr/local/bin/a", "/opt/kata":
				return true
			}
			return strings.HasPrefix(p, "/opt/kata/")
		}
		inodes := map[uint64]string{}
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				t.Fatal(err)
			}
			node := strings.TrimPrefix(p, root)
			if !allowed(node) {
				t.Fatalf("%s exists outside the destinations (members %v)", node, ents)
			}
			fi, err := os.Lstat(p)
			if err != nil {
				t.Fatal(err)
			}
			st := fi.Sys().(*syscall.Stat_t)
			switch {
			case fi.Mode()&fs.ModeSymlink != 0:
				rel := strings.TrimPrefix(node, "/opt/kata/")
				if _, err := h.ResolveIn("/opt/kata", rel); errors.Is(err, host.ErrEscapes) {
					t.Fatalf("symlink %s leads outside the tree: %v (members %v)", node, err, ents)
				}
			case fi.Mode().IsRegular():
				if other, ok := inodes[st.Ino]; ok && strings.HasPrefix(other, "/opt/kata/") != strings.HasPrefix(node, "/opt/kata/") {
					t.Fatalf("%s and %s are one file (members %v)", other, node, ents)
				}
				inodes[st.Ino] = node
				if fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid|0o022) != 0 && strings.HasPrefix(node, "/opt/kata/") {
					t.Fatalf("%s has mode %v (members %v)", node, fi.Mode(), ents)
				}
			case fi.IsDir():
			default:
				t.Fatalf("%s is a %v (members %v)", node, fi.Mode().Type(), ents)
			}
			return nil
		})
		if es, _ := os.ReadDir(outside); len(es) != 0 {
			t.Fatalf("written outside the root: %v (members %v)", es, ents)
		}
	})
}
