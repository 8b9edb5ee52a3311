package stepstest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"testing"

	"github.com/nodeup/nodeup/node/digest"
)

// Files describes every regular file and symlink below root by its path
// relative to root: a file by mode, owner and content hash, a symlink by
// its target. Equal descriptions mean the files are as they were, byte for
// byte, with their modes and owners; directories are left out. A root that
// does not exist has no files.
func Files(t testing.TB, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root && errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out[rel] = "-> " + target
		case fi.Mode().IsRegular():
			sum, err := digest.File(p)
			if err != nil {
				return err
			}
			st := fi.Sys().(*syscall.Stat_t)
			out[rel] = fmt.Sprintf("%s %d:%d %.16s", fi.Mode(), st.Uid, st.Gid, sum)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// DiffFiles lists how two descriptions from Files differ, sorted.
func DiffFiles(before, after map[string]string) []string {
	var diffs []string
	for p, b := range before {
		if a, ok := after[p]; !ok {
			diffs = append(diffs, "missing "+p+" ("+b+")")
		} else if a != b {
			diffs = append(diffs, fmt.Sprintf("changed %s: %s -> %s", p, b, a))
		}
	}
	for p, a := range after {
		if _, ok := before[p]; !ok {
			diffs = append(diffs, "added "+p+" ("+a+")")
		}
	}
	sort.Strings(diffs)
	return diffs
}
