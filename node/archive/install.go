package archive

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/nodeup/nodeup/node/digest"
	"github.com/nodeup/nodeup/node/host"
)

// Installed is a file Install put on the node.
type Installed struct {
	Path   string // node path
	SHA256 string // hex sha256 of its content
}

// maxLinkHops bounds following symlinks between members.
const maxLinkHops = 40

// Install places members of the archive on the node: each Install's From
// (a member name; "" for a raw binary) goes to its To with its Mode (the
// member's own permission bits if Mode is 0). A From that is a symlink or
// hardlink to a file in the archive installs that file's content. A From
// of "*" (or "DIR/*") stands for every executable file at the top of the
// archive (of DIR), each installed under the directory To names (a To
// ending in "/"): the members are the archive's, decided now, not the
// caller's; the result lists them. All
// members are written to temporary files beside their destinations first;
// only when the whole archive has been read and checked are they renamed
// into place, each atomically (host.AtomicFile). On any error nothing is
// replaced and no temporary file is left. Install is Stage, then Commit.
func (a *Archive) Install(h *host.Host, files []Placement) ([]Installed, error) {
	s, err := a.Stage(h, files)
	if err != nil {
		return nil, err
	}
	defer s.Cancel()
	return s.Commit()
}

// Staged is an Install written beside its destinations, not yet in place.
type Staged struct {
	a       *Archive
	files   []Placement
	pending []*host.AtomicFile
	sums    []string
}

// Stage reads and checks the whole archive and writes the files Install
// would place to temporary files beside their destinations; Commit puts
// them in place, Cancel removes them. On error nothing is left.
func (a *Archive) Stage(h *host.Host, files []Placement) (*Staged, error) {
	files, err := a.expand(files)
	if err != nil {
		return nil, err
	}
	in := &installing{a: a, h: h, files: files, pending: make([]*host.AtomicFile, len(files)), sums: make([]string, len(files))}
	if a.format == FormatBinary {
		err = in.binary()
	} else {
		err = in.members()
	}
	s := &Staged{a: a, files: files, pending: in.pending, sums: in.sums}
	if err != nil {
		s.Cancel()
		return nil, err
	}
	return s, nil
}

// Commit renames the staged files into place (see Install).
func (s *Staged) Commit() ([]Installed, error) {
	return s.a.commitAll(s.files, s.pending, s.sums)
}

// Cancel removes what is staged and not committed; a no-op after Commit.
func (s *Staged) Cancel() {
	for _, p := range s.pending {
		if p != nil {
			p.Cancel()
		}
	}
}

// installing is one Stage: the files staged so far and their sha256s.
type installing struct {
	a       *Archive
	h       *host.Host
	files   []Placement
	pending []*host.AtomicFile
	sums    []string
}

// binary stages a raw binary at each file's destination.
func (in *installing) binary() error {
	a := in.a
	for i, f := range in.files {
		if f.From != "" {
			return fmt.Errorf("archive %s is a single binary, not a tar; install it with an empty From, not %q", a.Name, f.From)
		}
		src, err := a.open()
		if err != nil {
			return fmt.Errorf("archive %s: %w", a.Name, err)
		}
		mode := f.Mode.Perm()
		if mode == 0 {
			mode = 0o755
		}
		in.pending[i], in.sums[i], err = stage(in.h, f.To, mode, src)
		src.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// members stages the members the files name: files in one read of the
// archive, and members that are links, or missing, resolved in its index
// and read again for the files they lead to.
func (in *installing) members() error {
	a := in.a
	// want maps a member name to the files it fills.
	want := map[string][]int{}
	for i, f := range in.files {
		name, err := cleanName(f.From)
		if err != nil || name == "" {
			return fmt.Errorf("archive %s: cannot install member %q to %s: want a relative member name", a.Name, f.From, f.To)
		}
		want[name] = append(want[name], i)
	}
	index := map[string]Member{}
	err := a.walk(func(m *Member, r io.Reader) error {
		index[m.Name] = *m
		if m.Kind == File && len(want[m.Name]) > 0 {
			return in.fill(m, r, want[m.Name])
		}
		return nil
	})
	if err != nil {
		return err
	}
	second := map[string][]int{}
	for name, idx := range want {
		m, ok := index[name]
		if ok && m.Kind == File {
			continue
		}
		target, err := resolveMember(index, name)
		if err != nil {
			return fmt.Errorf("archive %s: cannot install %s from member %q: %w", a.Name, in.files[idx[0]].To, name, err)
		}
		second[target] = append(second[target], idx...)
	}
	if len(second) == 0 {
		return nil
	}
	return a.walk(func(m *Member, r io.Reader) error {
		if m.Kind == File && len(second[m.Name]) > 0 {
			return in.fill(m, r, second[m.Name])
		}
		return nil
	})
}

// fill stages member m's content r at the destinations of files targets.
func (in *installing) fill(m *Member, r io.Reader, targets []int) error {
	for _, i := range targets {
		if in.pending[i] != nil { // a later entry with the same name wins, as in tar
			in.pending[i].Cancel()
		}
		mode := in.files[i].Mode.Perm()
		if mode == 0 {
			mode = m.Mode
		}
		af, err := in.h.Create(in.files[i].To, mode)
		if err != nil {
			return err
		}
		in.pending[i] = af
	}
	sum := digest.New()
	ws := []io.Writer{sum}
	for _, i := range targets {
		ws = append(ws, in.pending[i])
	}
	if _, err := io.Copy(io.MultiWriter(ws...), r); err != nil {
		return fmt.Errorf("archive %s: member %s: %w", in.a.Name, m.Name, err)
	}
	for _, i := range targets {
		in.sums[i] = digest.Of(sum)
	}
	return nil
}

// Spread reports whether an Install stands for every executable file of a
// directory of the archive ("*" for the top, "DIR/*"), and which directory.
func Spread(f Placement) (dir string, ok bool) {
	if f.From == "*" {
		return "", true
	}
	return strings.CutSuffix(f.From, "/*")
}

// Recorded is files with each spread Install (see Spread) replaced by the
// files an earlier Install put in its directory, as recorded lists them
// (State.Under): what a drift check compares with the node before the
// archive is at hand.
func Recorded(files []Placement, recorded func(dir string) []string) []Placement {
	var out []Placement
	for _, f := range files {
		if _, ok := Spread(f); !ok {
			out = append(out, f)
			continue
		}
		for _, p := range recorded(f.To) {
			out = append(out, Placement{From: path.Base(p), To: p, Mode: f.Mode})
		}
	}
	return out
}

// expand replaces each spread Install (see Spread) by one Install per
// executable file directly in its directory of the archive, in name order,
// each at To/NAME with the spread's Mode. A spread that finds none is an
// error.
func (a *Archive) expand(files []Placement) ([]Placement, error) {
	spread := false
	for _, f := range files {
		_, ok := Spread(f)
		spread = spread || ok
	}
	if !spread {
		return files, nil
	}
	if a.format == FormatBinary {
		return nil, fmt.Errorf("archive %s is a single binary; it has no files to install from %q", a.Name, "*")
	}
	index := map[string]Member{}
	if err := a.walk(func(m *Member, _ io.Reader) error {
		index[m.Name] = *m
		return nil
	}); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(index))
	for n := range index {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []Placement
	for _, f := range files {
		dir, ok := Spread(f)
		if !ok {
			out = append(out, f)
			continue
		}
		dir, err := cleanName(dir)
		if err != nil {
			return nil, fmt.Errorf("archive %s: cannot install %q: want a relative directory name", a.Name, f.From)
		}
		found := 0
		for _, name := range names {
			rel, in := under(name, dir)
			if !in || rel == "" || strings.Contains(rel, "/") {
				continue
			}
			// An executable file, or a link to one (README and LICENSE files are not).
			target, err := resolveMember(index, name)
			if err != nil || index[target].Mode&0o111 == 0 {
				continue
			}
			out = append(out, Placement{From: name, To: path.Join(f.To, rel), Mode: f.Mode})
			found++
		}
		if found == 0 {
			where := "at its top"
			if dir != "" {
				where = "in " + dir
			}
			return nil, fmt.Errorf("archive %s has no executable files %s to install in %s; it has: %s", a.Name, where, f.To, listNames(index))
		}
	}
	return out, nil
}

// resolveMember follows symlinks and hardlinks from member name to a file.
func resolveMember(index map[string]Member, name string) (string, error) {
	for range maxLinkHops {
		m, ok := index[name]
		if !ok {
			return "", fmt.Errorf("no member %q in the archive; it has: %s", name, listNames(index))
		}
		switch m.Kind {
		case File:
			return name, nil
		case Hardlink:
			name = m.Link
		case Symlink:
			name = path.Join(path.Dir(name), m.Link)
		default:
			return "", fmt.Errorf("member %q is a directory; install it as a tree", name)
		}
	}
	return "", fmt.Errorf("member %q: too many levels of links", name)
}

// listNames names the archive's files (the first 40), for a "no such
// member" error: enough to list every plugin of a CNI release.
func listNames(index map[string]Member) string {
	var names []string
	for n, m := range index {
		if m.Kind != Dir {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if len(names) > 40 {
		names = append(names[:40], fmt.Sprintf("... (%d more)", len(names)-40))
	}
	return strings.Join(names, ", ")
}

// stage writes r to a temporary file for node path p and hashes it.
func stage(h *host.Host, p string, mode fs.FileMode, r io.Reader) (*host.AtomicFile, string, error) {
	af, err := h.Create(p, mode)
	if err != nil {
		return nil, "", err
	}
	sum := digest.New()
	if _, err := io.Copy(io.MultiWriter(af, sum), r); err != nil {
		af.Cancel()
		return nil, "", err
	}
	return af, digest.Of(sum), nil
}

// commitAll renames every staged file into place, in order, after
// BeforeCommit has seen each of them.
func (a *Archive) commitAll(files []Placement, pending []*host.AtomicFile, sums []string) ([]Installed, error) {
	out := make([]Installed, len(files))
	for i, p := range pending {
		if p == nil {
			return nil, fmt.Errorf("internal error: nothing staged for %s", files[i].To)
		}
	}
	if a.BeforeCommit != nil {
		for i, f := range files {
			if err := a.BeforeCommit(f.To, sums[i]); err != nil {
				return nil, err
			}
		}
	}
	// The staged files reach the disk together, then each is renamed in
	// order (Commit does not sync them again).
	errs := make([]error, len(pending))
	var wg sync.WaitGroup
	for i, p := range pending {
		wg.Go(func() { errs[i] = p.Sync() })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for i, p := range pending {
		if err := p.Commit(); err != nil {
			return nil, err
		}
		out[i] = Installed{Path: files[i].To, SHA256: sums[i]}
	}
	return out, nil
}
