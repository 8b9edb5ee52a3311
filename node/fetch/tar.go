package fetch

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
)

// A bundle written as one tar serves as a mirror: a file URL whose path
// runs through a regular file named *.tar (file:///srv/bundle.tar/HOST/PATH)
// names the member HOST/PATH of that tar.

// ErrNoMember is the class of a tar that does not hold the file asked for;
// it is also fs.ErrNotExist, so the source is not tried again.
var ErrNoMember = errors.New("not in the tar")

// splitTar finds the first element of the absolute path p that is a regular
// file named *.tar with more path after it, and splits p there.
func splitTar(p string) (tarPath, member string, ok bool) {
	parts := strings.Split(path.Clean(p), "/")
	for i := 1; i < len(parts)-1; i++ {
		if !strings.HasSuffix(parts[i], ".tar") {
			continue
		}
		prefix := strings.Join(parts[:i+1], "/")
		if fi, err := os.Stat(prefix); err == nil && fi.Mode().IsRegular() {
			return prefix, strings.Join(parts[i+1:], "/"), true
		}
	}
	return "", "", false
}

// openTarSource opens member of the tar file tarPath: its bytes, its size,
// and what to close.
func openTarSource(tarPath, member string) (io.Reader, int64, io.Closer, error) {
	f, err := openSource(tarPath)
	if err != nil {
		return nil, 0, nil, err
	}
	r, size, err := OpenTarMember(f, member)
	if err != nil {
		f.Close()
		return nil, 0, nil, fmt.Errorf("%s: %w", tarPath, err)
	}
	return r, size, f, nil
}

// TarMemberName is a tar member's name as a path: "./" and trailing
// slashes dropped.
func TarMemberName(name string) string {
	return path.Clean(strings.TrimPrefix(name, "./"))
}

// OpenTarMember finds the regular file name in the tar read from r and
// returns a reader of its bytes and its size. It reads the headers only,
// seeking over the contents when r can seek.
func OpenTarMember(r io.Reader, name string) (io.Reader, int64, error) {
	want := TarMemberName(name)
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil, 0, fmt.Errorf("%w: it holds no %s (%w)", ErrNoMember, want, fs.ErrNotExist)
		}
		if err != nil {
			return nil, 0, fmt.Errorf("read the tar: %w", err)
		}
		if TarMemberName(h.Name) != want {
			continue
		}
		if h.Typeflag != tar.TypeReg {
			return nil, 0, fmt.Errorf("%s in the tar is not a regular file", want)
		}
		return tr, h.Size, nil
	}
}
