package steps

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"

	"github.com/nodeup/nodeup/node/paths"
)

// File is a rendered file on the node.
type File struct {
	Path    string
	Mode    fs.FileMode
	Content []byte
}

func (f *File) Kind() string { return "file" }
func (f *File) Key() string  { return f.Path }
func (f *File) Describe() string {
	return fmt.Sprintf("file %s %04o, %d bytes", f.Path, f.Mode, len(f.Content))
}

// Writes is the file itself.
func (f *File) Writes() []string { return []string{f.Path} }

// Check compares the file on the node with the rendered one, with a diff.
func (f *File) Check(ctx context.Context, env *Env) (Change, error) {
	return f.converge(ctx, env, false)
}

// Apply writes the file atomically, or fixes its mode. A file nodeup did
// not write before is backed up before it is replaced.
func (f *File) Apply(ctx context.Context, env *Env) (Change, error) {
	return f.converge(ctx, env, true)
}

func (f *File) converge(_ context.Context, env *Env, apply bool) (Change, error) {
	// Replacing a mask would undo it behind the operator's back.
	if isMask(env, f.Path) {
		if path.Dir(f.Path) == paths.UnitDir {
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
		ch = Change{Action: Create, Reason: fmt.Sprintf("new file, %d bytes", len(f.Content)), Diff: unifiedDiff(f.Path, nil, f.Content)}
	case !bytes.Equal(old, f.Content):
		ch = Change{Action: Update, Reason: "content differs", Diff: unifiedDiff(f.Path, old, f.Content)}
	default:
		fi, err := env.Host.Stat(f.Path)
		if err != nil {
			return Change{}, err
		}
		if fi.Mode().Perm() != f.Mode.Perm() {
			ch = Change{Action: Update, Reason: fmt.Sprintf("mode %04o -> %04o", fi.Mode().Perm(), f.Mode.Perm())}
		} else {
			env.State.RecordContent(f.Path, f.Content, f.Mode)
			return Change{Action: NoOp, Reason: "up to date"}, nil
		}
	}
	foreign := false
	if exists {
		if foreign, err = env.State.Foreign(env.Host, f.Path); err != nil {
			return Change{}, err
		}
		if foreign {
			// Foreign is also a file nodeup wrote and someone edited since:
			// saying nodeup never wrote it would send the operator hunting.
			if _, wrote := env.State.Lookup(f.Path); wrote {
				ch.Reason += "; changed since nodeup wrote it: the edited file is backed up under " + paths.BackupDir
			} else {
				ch.Reason += "; nodeup did not write it: the old file is backed up under " + paths.BackupDir
			}
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
	env.State.RecordContent(f.Path, f.Content, f.Mode)
	return ch, nil
}
