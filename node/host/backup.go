package host

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"time"

	"golang.org/x/sys/unix"
)

// BackupDir is where files nodeup did not write are kept before it replaces
// them (a node path); a file keeps its node path below it.
const BackupDir = "/var/lib/nodeup/backup"

// Backup copies node path p to BackupDir+p and returns the backup's node
// path. If that backup exists already (an earlier replacement), the new one
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
	dest := path.Join(BackupDir, clean)
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
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := h.Readlink(clean)
		if err != nil {
			return "", err
		}
		if err := h.Symlink(target, dest); err != nil {
			return "", err
		}
	case fi.Mode().IsRegular():
		f, err := h.open(clean, readFlags|unix.O_NOFOLLOW, 0)
		if err != nil {
			return "", h.fail("back up", p, err)
		}
		defer f.Close()
		if err := regular(f); err != nil {
			return "", h.fail("back up", p, err)
		}
		if err := h.InstallFile(dest, f, fi.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
			return "", err
		}
	default:
		return "", fmt.Errorf("back up %s: it is a %s, not a file; move it away yourself", p, KindOf(fi.Mode()))
	}
	return dest, nil
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
