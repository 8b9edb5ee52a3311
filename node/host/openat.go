package host

import (
	"errors"
	"strings"

	"golang.org/x/sys/unix"
)

// resolution is how a path below a directory is resolved when it is opened.
type resolution int

const (
	// inRoot resolves as if the directory were "/": symlinks are followed
	// inside it, an absolute target starts again at it and ".." stops at
	// it (openat2 RESOLVE_IN_ROOT).
	inRoot resolution = iota
	// noLinks follows no symlink in any component and refuses ".." above
	// the directory (openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS); a
	// symlink in the final component is opened itself with O_PATH|O_NOFOLLOW
	// and is ELOOP otherwise.
	noLinks
)

// openAt opens rel below the directory dirfd, resolved as res says; flags
// and mode are those of openat(2). In inRoot, O_NOFOLLOW keeps a symlink in
// the final component from being followed. The kernel resolves the path
// where it has openat2; older kernels (and sandboxes that refuse the call)
// get walk, which opens one component at a time relative to the directory
// before it and so holds the same guarantee.
func openAt(dirfd int, rel string, res resolution, flags int, mode uint32) (int, error) {
	how := unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC)}
	if flags&(unix.O_CREAT|unix.O_TMPFILE) != 0 {
		how.Mode = uint64(mode)
	}
	switch res {
	case inRoot:
		how.Resolve = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS
	case noLinks:
		how.Resolve = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS
		how.Flags |= unix.O_NOFOLLOW
	}
	if rel == "" {
		rel = "."
	}
	for range 32 {
		fd, err := unix.Openat2(dirfd, rel, &how)
		switch {
		case err == nil:
			return fd, nil
		case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR):
			// A rename raced with resolving ".."; the kernel asks to retry.
			continue
		case errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EPERM) && !openat2Works(dirfd):
			return walk(dirfd, rel, res, flags, mode)
		}
		return -1, err
	}
	return walk(dirfd, rel, res, flags, mode)
}

// openat2Works tells a real EPERM from openat2 apart from a sandbox (an
// old seccomp profile) that answers EPERM to system calls it does not know:
// such a sandbox refuses an openat2 of the directory itself too.
func openat2Works(dirfd int) bool {
	fd, err := unix.Openat2(dirfd, ".", &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC})
	if err == nil {
		unix.Close(fd)
		return true
	}
	return false
}

// walk is openAt done one component at a time: each directory is opened
// (O_PATH, O_NOFOLLOW) relative to the one before it, symlinks are read and
// their targets walked the same way, and ".." returns to the directory
// walked through before, never above dirfd. A component swapped for a
// symlink between the check and the open makes the open fail (O_NOFOLLOW);
// it never leads outside.
func walk(dirfd int, rel string, res resolution, flags int, mode uint32) (int, error) {
	top, err := unix.Openat(dirfd, ".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	stack := []int{top}
	defer func() {
		for _, fd := range stack {
			unix.Close(fd)
		}
	}()
	links := 0
	rest := rel
	if res == noLinks {
		if strings.HasPrefix(rest, "/") {
			return -1, unix.EXDEV
		}
		flags |= unix.O_NOFOLLOW
	}
	for {
		rest = strings.TrimLeft(rest, "/")
		if rest == "" {
			return unix.Openat(stack[len(stack)-1], ".", flags|unix.O_CLOEXEC, mode)
		}
		comp, after, _ := strings.Cut(rest, "/")
		rest = after
		last := strings.TrimLeft(rest, "/") == ""
		switch comp {
		case ".":
			continue
		case "..":
			if len(stack) == 1 {
				if res == noLinks {
					return -1, unix.EXDEV
				}
				continue
			}
			unix.Close(stack[len(stack)-1])
			stack = stack[:len(stack)-1]
			continue
		}
		cur := stack[len(stack)-1]
		var st unix.Stat_t
		err := unix.Fstatat(cur, comp, &st, unix.AT_SYMLINK_NOFOLLOW)
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return -1, err
		}
		follow := !last || flags&unix.O_NOFOLLOW == 0
		if err == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK && follow {
			if res == noLinks {
				return -1, unix.ELOOP
			}
			if links++; links > maxSymlinks {
				return -1, unix.ELOOP
			}
			target, err := readlinkat(cur, comp)
			if err != nil {
				return -1, err
			}
			if strings.HasPrefix(target, "/") {
				for _, fd := range stack[1:] {
					unix.Close(fd)
				}
				stack = stack[:1]
			}
			rest = target + "/" + rest
			continue
		}
		if last {
			return unix.Openat(cur, comp, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode)
		}
		fd, err := unix.Openat(cur, comp, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, err
		}
		stack = append(stack, fd)
	}
}

// readlinkat reads the target of the symlink name in dirfd.
func readlinkat(dirfd int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
		if size > 1<<16 {
			return "", unix.ENAMETOOLONG
		}
	}
}
