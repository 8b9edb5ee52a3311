package steps

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
)

// Dir is a directory on the node.
type Dir struct {
	Path string
	Mode fs.FileMode
}

func (d *Dir) Kind() string     { return "dir" }
func (d *Dir) Key() string      { return d.Path }
func (d *Dir) Describe() string { return fmt.Sprintf("directory %s %04o", d.Path, d.Mode) }

// Writes is the directory itself.
func (d *Dir) Writes() []string { return []string{d.Path} }

// Check says whether the directory exists.
func (d *Dir) Check(ctx context.Context, env *Env) (Change, error) { return d.converge(env, false) }

// Apply creates the directory and its parents.
func (d *Dir) Apply(ctx context.Context, env *Env) (Change, error) { return d.converge(env, true) }

func (d *Dir) converge(env *Env, apply bool) (Change, error) {
	fi, err := env.Host.Stat(d.Path)
	switch {
	case err == nil && fi.IsDir():
		return Change{Action: NoOp, Reason: "exists"}, nil
	case err == nil:
		return Change{}, fmt.Errorf("%s exists and is not a directory; move it away so nodeup can create the directory", d.Path)
	case !errors.Is(err, fs.ErrNotExist):
		return Change{}, err
	}
	ch := Change{Action: Create, Reason: fmt.Sprintf("new directory %04o", d.Mode)}
	if apply {
		// Each directory nodeup creates, parents included, is recorded:
		// reset removes it again when it is empty.
		var created []string
		for p := d.Path; p != "/" && p != "."; p = path.Dir(p) {
			if _, err := env.Host.Lstat(p); err == nil {
				break
			}
			created = append(created, p)
		}
		if err := env.Host.MkdirAll(d.Path, d.Mode); err != nil {
			return Change{}, err
		}
		for _, p := range created {
			env.State.RecordDir(p)
		}
	}
	return ch, nil
}
