// Package archivetest builds archives for tests: tar entries of any kind,
// compressed in every format nodeup unpacks.
package archivetest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Entry is one tar entry to build.
type Entry struct {
	Name string
	Type byte // tar.TypeReg, tar.TypeDir, tar.TypeSymlink, ...
	Body string
	Link string // symlink or hardlink target
	Mode int64
}

// File is an executable regular file.
func File(name, body string) Entry {
	return Entry{Name: name, Type: tar.TypeReg, Body: body, Mode: 0o755}
}

// Dir is a directory.
func Dir(name string) Entry { return Entry{Name: name, Type: tar.TypeDir, Mode: 0o755} }

// Symlink is a symbolic link to target.
func Symlink(name, target string) Entry {
	return Entry{Name: name, Type: tar.TypeSymlink, Link: target, Mode: 0o777}
}

// Hardlink is a hard link to an earlier entry.
func Hardlink(name, target string) Entry {
	return Entry{Name: name, Type: tar.TypeLink, Link: target, Mode: 0o755}
}

// Tar writes the entries, in order, as an uncompressed tar. Owners are a
// non-root uid and gid (unpacking must ignore them) and times are fixed, so
// the same entries always give the same bytes.
func Tar(t testing.TB, entries ...Entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.Name, Typeflag: e.Type, Linkname: e.Link, Mode: e.Mode,
			Uid: 1001, Gid: 1001, ModTime: time.Unix(1700000000, 0), Format: tar.FormatPAX}
		if e.Type == tar.TypeReg {
			hdr.Size = int64(len(e.Body))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.Body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Compress compresses data in an archive format ("tar.gz", "tar.zst",
// "tar.xz", as archive.Format names them); a raw binary is returned as it
// is. (The format is any string type: archive's own tests use this
// package, which therefore cannot import archive.)
func Compress[F ~string](t testing.TB, format F, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	var err error
	switch string(format) {
	case "tar.gz":
		w = gzip.NewWriter(&buf)
	case "tar.zst":
		w, err = zstd.NewWriter(&buf)
	case "tar.xz":
		// A small dictionary: the default one costs tens of milliseconds
		// to set up, for every archive a test builds.
		w, err = xz.WriterConfig{DictCap: 1 << 16}.NewWriter(&buf)
	default:
		return data
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
