package host

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nodeup/nodeup/node/paths"
)

// Backup copies node path p to paths.BackupDir+p, with its mode and owner, and
// returns the backup's node path. If that backup exists already (an earlier replacement), the new one
// gets a UTC timestamp suffix, so no backup is ever overwritten. A symlink is
// backed up as a symlink. A p that does not exist has nothing to back up:
// Backup returns "" and no error. Directories are refused.
func (h *Host) Backup(p string) (string, error) {
	clean, err := nodePath(p)
	if err != nil {
		return "", err
	}
	fi, err := h.Lstat(clean)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	dest := path.Join(paths.BackupDir, clean)
	if _, err := h.Lstat(dest); err == nil {
		stamp := dest + "." + time.Now().UTC().Format("20060102T150405Z")
		dest = stamp
		for i := 1; ; i++ {
			if _, err := h.Lstat(dest); errors.Is(err, fs.ErrNotExist) {
				break
			}
			dest = fmt.Sprintf("%s.%d", stamp, i)
		}
	}
	if !fi.Mode().IsRegular() && fi.Mode()&fs.ModeSymlink == 0 {
		return "", fmt.Errorf("back up %s: it is a %s, not a file; move it away yourself", p, KindOf(fi.Mode()))
	}
	if err := h.Copy(clean, dest); err != nil {
		return "", err
	}
	return dest, nil
}

// Copy copies the node file or symlink src to node path dst, atomically
// (see AtomicFile), with src's mode and owner: what Backup keeps, a restore
// puts back as it was. A symlink is copied as a symlink. Missing parent
// directories of dst are created (0755).
func (h *Host) Copy(src, dst string) error {
	fi, err := h.Lstat(src)
	if err != nil {
		return err
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := h.Readlink(src)
		if err != nil {
			return err
		}
		return h.Symlink(target, dst)
	case fi.Mode().IsRegular():
		clean, err := nodePath(src)
		if err != nil {
			return err
		}
		f, err := h.open(clean, readFlags|unix.O_NOFOLLOW, 0)
		if err != nil {
			return h.fail("copy", src, err)
		}
		defer f.Close()
		if err := regular(f); err != nil {
			return h.fail("copy", src, err)
		}
		a, err := h.Create(dst, fi.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky))
		if err != nil {
			return err
		}
		defer a.Cancel()
		if _, err := io.Copy(a, f); err != nil {
			return h.fail("copy "+src+" to", dst, err)
		}
		// Owned as src before it is in place; Commit sets the mode after
		// this, as chown clears set-id bits. Only root can give a file
		// away: a nodeup that is not root keeps the copy as its own.
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && (int(st.Uid) != os.Geteuid() || int(st.Gid) != os.Getegid()) {
			if err := a.f.Chown(int(st.Uid), int(st.Gid)); err != nil && !(errors.Is(err, syscall.EPERM) && os.Geteuid() != 0) {
				return h.fail("copy "+src+" to", dst, err)
			}
		}
		return a.Commit()
	}
	return fmt.Errorf("copy %s: it is a %s, not a file", src, KindOf(fi.Mode()))
}

// KindOf names what a file that is not a regular file is, for errors:
// "directory", "device", "fifo", "socket" or "special file".
func KindOf(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&fs.ModeDevice != 0:
		return "device"
	case m&fs.ModeNamedPipe != 0:
		return "fifo"
	case m&fs.ModeSocket != 0:
		return "socket"
	}
	return "special file"
}

// laterBackup matches the suffix Backup gives a second backup of a path.
var laterBackup = regexp.MustCompile(`\.\d{8}T\d{6}Z(\.\d+)?$`)

// Backups lists what is under paths.BackupDir by the node path each backup was
// taken of, in the order they were made: the first one (see FirstBackup),
// then the later ones Backup gave a timestamp.
func (h *Host) Backups() (map[string][]string, error) {
	var all []string
	var walk func(dir string) error
	walk = func(dir string) error {
		entries, err := h.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, e := range entries {
			p := path.Join(dir, e.Name())
			if e.IsDir() {
				if err := walk(p); err != nil {
					return err
				}
				continue
			}
			all = append(all, p)
		}
		return nil
	}
	if err := walk(paths.BackupDir); err != nil {
		return nil, err
	}
	sort.Strings(all) // the first backup of a path sorts before its later ones
	out := map[string][]string{}
	for _, b := range all {
		of := b
		if m := laterBackup.FindStringIndex(b); m != nil {
			of = b[:m[0]]
		}
		of = strings.TrimPrefix(of, paths.BackupDir)
		out[of] = append(out[of], b)
	}
	return out, nil
}

// FirstBackup is the backup of node path p that Backup made first, the
// file as it was before nodeup replaced it, from a list Backups returned;
// "" when only later backups are left.
func FirstBackup(p string, backups []string) string {
	if len(backups) > 0 && backups[0] == path.Join(paths.BackupDir, p) {
		return backups[0]
	}
	return ""
}
