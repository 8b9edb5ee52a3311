package archive

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

func fileLike(k Kind) bool { return k == File || k == Hardlink }

// replaceable says whether an entry of kind next may replace one of kind prev.
func replaceable(prev, next Kind) bool {
	return prev == Dir && next == Dir || fileLike(prev) && fileLike(next)
}

// mode is the permission bits a member gets: the archive's, without setuid,
// setgid or sticky bits and without group or other write. Each change is
// logged once per member, however often the archive is read.
func (a *Archive) mode(hdr *tar.Header, name string) fs.FileMode {
	mode := fs.FileMode(hdr.Mode) & fs.ModePerm
	if hdr.Typeflag == tar.TypeSymlink {
		return mode // a symlink's mode means nothing
	}
	safe := mode &^ 0o022
	var what []string
	if special := specialBits(hdr.Mode); special != "" {
		what = append(what, "stripped "+special+" bits")
	}
	if safe != mode {
		what = append(what, "cleared group/other write")
	}
	if len(what) > 0 && !a.logged[name] {
		if a.logged == nil {
			a.logged = map[string]bool{}
		}
		a.logged[name] = true
		a.logf("archive %s: %s: %s (mode %04o -> %04o)", a.Name, hdr.Name, strings.Join(what, " and "), hdr.Mode&0o7777, safe)
	}
	return safe
}

// cleanName turns an entry name into a clean relative member name ("" for
// the archive's root), refusing absolute names and ".." components.
func cleanName(name string) (string, error) {
	if strings.HasPrefix(name, "/") {
		return "", errors.New("has an absolute path")
	}
	for _, c := range strings.Split(name, "/") {
		if c == ".." {
			return "", errors.New("has a \"..\" component")
		}
	}
	name = path.Clean(name)
	if name == "." {
		return "", nil
	}
	return name, nil
}

// linkInside checks that a symlink at name with target stays inside dir
// ("" for the archive's root), judged lexically; chains of links are
// checked on disk after unpacking (host.ResolveIn).
func linkInside(name, target, dir string) error {
	if target == "" {
		return errors.New("is empty")
	}
	if path.IsAbs(target) {
		return errors.New("is absolute (it would mean another file under --root than on the node)")
	}
	to := path.Join(path.Dir(name), target)
	if _, ok := under(to, dir); !ok {
		if dir == "" {
			return errors.New("leaves the archive")
		}
		return fmt.Errorf("leaves %s", dir)
	}
	return nil
}

// under returns name relative to dir and whether name is dir or below it.
// dir "" is the archive's root.
func under(name, dir string) (string, bool) {
	switch {
	case name == ".." || strings.HasPrefix(name, "../"):
		return "", false
	case dir == "":
		if name == "." {
			return "", true
		}
		return name, true
	case name == dir:
		return "", true
	case strings.HasPrefix(name, dir+"/"):
		return name[len(dir)+1:], true
	}
	return "", false
}

func specialBits(mode int64) string {
	var s []string
	if mode&0o4000 != 0 {
		s = append(s, "setuid")
	}
	if mode&0o2000 != 0 {
		s = append(s, "setgid")
	}
	if mode&0o1000 != 0 {
		s = append(s, "sticky")
	}
	return strings.Join(s, "/")
}

func decompress(r io.Reader, format Format) (io.ReadCloser, error) {
	switch format {
	case FormatTarGz:
		return gzip.NewReader(r)
	case FormatTarZst:
		d, err := zstd.NewReader(r)
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	case FormatTarXz:
		x, err := xz.NewReader(r)
		if err != nil {
			return nil, err
		}
		return io.NopCloser(x), nil
	}
	return nil, fmt.Errorf("format %q is not a tar archive", format)
}

// capReader fails once more than left bytes have been read: the backstop
// behind the per-entry size check, for streams that are all metadata.
type capReader struct {
	r    io.Reader
	left int64
}

func (c *capReader) Read(b []byte) (int, error) {
	if c.left <= 0 {
		return 0, errStreamCap
	}
	if int64(len(b)) > c.left {
		b = b[:c.left]
	}
	n, err := c.r.Read(b)
	c.left -= int64(n)
	return n, err
}

func size(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d bytes", n)
}
