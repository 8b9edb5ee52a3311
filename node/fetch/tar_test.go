package fetch

import (
	"archive/tar"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTar writes members (name -> content; a name ending in "/" is a
// directory) in order to a tar file and returns its path.
func writeTar(t *testing.T, members ...[2]string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "bundle.tar")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	for _, m := range members {
		h := &tar.Header{Name: m[0], Mode: 0o644, Size: int64(len(m[1])), Typeflag: tar.TypeReg}
		if strings.HasSuffix(m[0], "/") {
			h = &tar.Header{Name: m[0], Mode: 0o755, Typeflag: tar.TypeDir}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(m[1]))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return p
}

// A bundle tar is a mirror: file:///x.tar/HOST/PATH is a member of it.
func TestFetchFromTarMirror(t *testing.T) {
	up := "https://github.com/opencontainers/runc/releases/download/v1.4.3/runc.amd64"
	bundle := writeTar(t,
		[2]string{"github.com/", ""},
		[2]string{"github.com/other", "other bytes"},
		[2]string{"./github.com/opencontainers/runc/releases/download/v1.4.3/runc.amd64", string(payload)},
		[2]string{"manifest.json", "{}"})
	f := newFetcher(t)
	got, err := f.Fetch(context.Background(), Candidates([]string{"file://" + bundle}, up, false), sum(payload))
	assertFetched(t, f, got, err)

	// A member the tar lacks fails at once, without retries, naming the tar.
	f = newFetcher(t)
	_, err = f.Fetch(context.Background(), Candidates([]string{"file://" + bundle}, "https://github.com/opencontainers/runc/releases/download/v1.4.4/runc.amd64", false), sum(payload))
	var fe *Error
	if !errors.As(err, &fe) || len(fe.Sources) != 1 || fe.Sources[0].Tries != 1 || !errors.Is(err, ErrNoMember) || !errors.Is(err, fs.ErrNotExist) ||
		!strings.Contains(err.Error(), bundle+": not in the tar: it holds no github.com/opencontainers/runc/releases/download/v1.4.4/runc.amd64") {
		t.Errorf("missing member: %v", err)
	}
	// A directory member is not a file.
	_, err = newFetcher(t).Fetch(context.Background(), []string{"file://" + bundle + "/github.com"}, sum(payload))
	if err == nil || !strings.Contains(err.Error(), "github.com in the tar is not a regular file") {
		t.Errorf("directory member: %v", err)
	}
}

func TestSplitTar(t *testing.T) {
	bundle := writeTar(t, [2]string{"a", "x"})
	dir := filepath.Dir(bundle)
	os.MkdirAll(filepath.Join(dir, "d.tar"), 0o755)
	for _, c := range []struct {
		in, tar, member string
		ok              bool
	}{
		{bundle + "/a/b", bundle, "a/b", true},
		{bundle, "", "", false},
		{filepath.Join(dir, "d.tar", "a"), "", "", false},
		{filepath.Join(dir, "missing.tar", "a"), "", "", false},
	} {
		tp, m, ok := splitTar(c.in)
		if tp != c.tar || m != c.member || ok != c.ok {
			t.Errorf("splitTar(%s) = %q %q %v", c.in, tp, m, ok)
		}
	}
}
