package fetch

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
)

// ErrChecksum is the class of a download whose sha256 is not the expected
// one (errors.Is); the error itself is a *ChecksumError.
var ErrChecksum = errors.New("sha256 mismatch")

// ErrCache is the class of a failure to write the download into the cache
// (a full or read-only disk): no retry and no other source can help.
var ErrCache = errors.New("cannot write the download cache")

// cacheHint says what to do about an error writing the cache directory.
func cacheHint(err error, dir string) string {
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return fmt.Sprintf("; free some space on the filesystem of %s and run nodeup again", dir)
	case errors.Is(err, syscall.EROFS):
		return fmt.Sprintf("; %s is on a read-only filesystem: remount it read-write", dir)
	}
	return ""
}

// ChecksumError is a download whose content is not what the profile pins.
type ChecksumError struct {
	URL      string
	Expected string
	Actual   string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("sha256 mismatch: expected %s, actual %s", e.Expected, e.Actual)
}

// StatusError is an HTTP answer other than 200.
type StatusError struct {
	URL    string
	Code   int
	Status string
}

func (e *StatusError) Error() string { return "HTTP " + e.Status }

// SourceError is why one source failed.
type SourceError struct {
	URL   string
	Tries int
	Err   error
}

func (e *SourceError) Error() string {
	if e.Tries > 1 {
		return fmt.Sprintf("%s: %v (after %d tries)", e.URL, e.Err, e.Tries)
	}
	return fmt.Sprintf("%s: %v", e.URL, e.Err)
}

// Error is a failed Fetch: every source and why it failed.
type Error struct {
	SHA256  string
	Sources []*SourceError
	Err     error // set when Fetch stopped early (context, cache directory)
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "download of sha256 %s failed", e.SHA256)
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	if len(e.Sources) == 0 && e.Err == nil {
		b.WriteString(": no source to download from; configure a mirror or allow upstream")
	}
	if len(e.Sources) > 0 {
		fmt.Fprintf(&b, "; tried %d sources:", len(e.Sources))
	}
	for _, s := range e.Sources {
		b.WriteString("\n  ")
		b.WriteString(s.Error())
	}
	if e.Err == nil && e.mirrorsAtFault() {
		b.WriteString("\ncheck that the mirrors serve this file (nodeup bundle writes the layout) and that the profile's sha256 is right")
	}
	return b.String()
}

func (e *ChecksumError) Is(target error) bool { return target == ErrChecksum }

func (e *SourceError) Unwrap() error { return e.Err }

func (e *Error) Unwrap() []error {
	var out []error
	for _, s := range e.Sources {
		out = append(out, s)
	}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

// mirrorsAtFault reports whether a source failed for its own reasons: a
// download that failed only because the cache could not take it (a full
// disk) is no reason to doubt the mirrors.
func (e *Error) mirrorsAtFault() bool {
	for _, s := range e.Sources {
		if !errors.Is(s, ErrCache) {
			return true
		}
	}
	return false
}
