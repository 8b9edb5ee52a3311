package converge

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/nodeup/nodeup/steps"
)

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// checkApplyFile converges one rendered file: content, then mode. A file
// nodeup did not write before is backed up before it is replaced.
func checkApplyFile(_ context.Context, env *Env, f *steps.File, apply bool) (Change, error) {
	// Replacing a mask would undo it behind the operator's back.
	if isMask(env, f.Path) {
		if path.Dir(f.Path) == "/etc/systemd/system" {
			return Change{}, maskedUnit(path.Base(f.Path))
		}
		return Change{}, fmt.Errorf("%s is masked (a symlink to /dev/null); nodeup does not override a mask an operator set: remove the link, then nodeup apply again", f.Path)
	}
	old, err := env.Host.ReadFile(f.Path)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Change{}, err
	}
	var ch Change
	switch {
	case !exists:
		ch = Change{Outcome: Create, Reason: fmt.Sprintf("new file, %d bytes", len(f.Content)), Diff: unifiedDiff(f.Path, nil, f.Content)}
	case !bytes.Equal(old, f.Content):
		ch = Change{Outcome: Update, Reason: "content differs", Diff: unifiedDiff(f.Path, old, f.Content)}
	default:
		fi, err := env.Host.Stat(f.Path)
		if err != nil {
			return Change{}, err
		}
		if fi.Mode().Perm() != f.Mode.Perm() {
			ch = Change{Outcome: Update, Reason: fmt.Sprintf("mode %04o -> %04o", fi.Mode().Perm(), f.Mode.Perm())}
		} else {
			env.State.Record(f.Path, sum(f.Content))
			return Change{Outcome: NoOp, Reason: "up to date"}, nil
		}
	}
	foreign := false
	if exists {
		if foreign, err = env.State.Foreign(env.Host, f.Path); err != nil {
			return Change{}, err
		}
		if foreign {
			ch.Reason += "; nodeup did not write it: the old file is backed up under /var/lib/nodeup/backup"
		}
	}
	if !apply {
		return ch, nil
	}
	if foreign {
		dst, err := env.Host.Backup(f.Path)
		if err != nil {
			return Change{}, err
		}
		env.logf("backed up %s to %s", f.Path, dst)
	}
	if ch.Diff == "" && exists && bytes.Equal(old, f.Content) {
		if err := env.Host.Chmod(f.Path, f.Mode); err != nil {
			return Change{}, err
		}
	} else if err := env.Host.WriteFile(f.Path, f.Content, f.Mode); err != nil {
		return Change{}, err
	}
	env.State.Record(f.Path, sum(f.Content))
	return ch, nil
}

// unifiedDiff is the change of a file as `diff -u` shows it.
func unifiedDiff(path string, old, new []byte) string {
	from := path
	if old == nil {
		from = "/dev/null"
	}
	d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A:        diffLines(old),
		B:        diffLines(new),
		FromFile: from,
		ToFile:   path,
		Context:  3,
	})
	if err != nil {
		return ""
	}
	return d
}

// diffLines splits b into lines that keep their "\n". Unlike
// difflib.SplitLines it adds no empty last line to text that ends in a
// newline, which would show as a phantom line and skew the hunk counts.
func diffLines(b []byte) []string {
	lines := strings.SplitAfter(string(b), "\n")
	if lines[len(lines)-1] == "" {
		return lines[:len(lines)-1]
	}
	lines[len(lines)-1] += "\n"
	return lines
}

// checkApplyDir makes sure a directory exists.
func checkApplyDir(_ context.Context, env *Env, d *steps.Dir, apply bool) (Change, error) {
	fi, err := env.Host.Stat(d.Path)
	switch {
	case err == nil && fi.IsDir():
		return Change{Outcome: NoOp, Reason: "exists"}, nil
	case err == nil:
		return Change{}, fmt.Errorf("%s exists and is not a directory; move it away so nodeup can create the directory", d.Path)
	case !errors.Is(err, fs.ErrNotExist):
		return Change{}, err
	}
	ch := Change{Outcome: Create, Reason: fmt.Sprintf("new directory %04o", d.Mode)}
	if apply {
		if err := env.Host.MkdirAll(d.Path, d.Mode); err != nil {
			return Change{}, err
		}
	}
	return ch, nil
}
