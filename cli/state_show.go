package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nodeup/nodeup/engine/state"
	"github.com/nodeup/nodeup/internal/escape"
	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/steps"
)

// show finds ITEM: an artifact or unit by name, or a node path nodeup
// recorded (a file, a tree or one of its members, a directory it created,
// a file it backed up).
func (v *stateView) show(item string) (stateItem, error) {
	if !path.IsAbs(item) {
		if a, ok := v.snap.Artifacts[item]; ok {
			it := stateItem{Kind: "artifact", Artifact: &artifactItem{item, a}}
			for _, f := range a.Files {
				it.Files = append(it.Files, v.file(f))
			}
			for _, t := range a.Trees {
				it.Trees = append(it.Trees, v.tree(t))
			}
			return it, nil
		}
		if _, ok := v.snap.Units[item]; ok {
			u := v.unit(item)
			it := stateItem{Kind: "unit", Unit: &u}
			if u.File != "" {
				it.Files = append(it.Files, v.file(u.File))
			}
			return it, nil
		}
		return stateItem{}, v.notFound(item, "nodeup state show takes a node path (absolute), an artifact name or a unit name")
	}
	p := path.Clean(item)
	if _, ok := v.snap.Files[p]; ok {
		return stateItem{Kind: "file", Files: []fileItem{v.file(p)}}, nil
	}
	if _, ok := v.snap.Trees[p]; ok {
		return stateItem{Kind: "tree", Trees: []treeItem{v.tree(p)}}, nil
	}
	for dir, t := range v.snap.Trees {
		if rel, ok := strings.CutPrefix(p, dir+"/"); ok {
			if e, ok := t[rel]; ok {
				tr := treeItem{Path: dir, Artifact: v.snap.ArtifactOf(dir), Entries: len(t), Members: []memberItem{v.member(dir, rel, e)}}
				return stateItem{Kind: "tree member", Trees: []treeItem{tr}}, nil
			}
		}
	}
	if slices.Contains(v.snap.Dirs, p) {
		it := stateItem{Kind: "directory", Dir: p, Status: "exists"}
		if fi, err := v.h.Stat(p); errors.Is(err, fs.ErrNotExist) {
			it.Status = "missing"
		} else if err == nil && !fi.IsDir() {
			it.Status = "not a directory"
		}
		return it, nil
	}
	if b, ok := v.backups[p]; ok {
		return stateItem{Kind: "backup", Backup: &backupItem{p, b}}, nil
	}
	return stateItem{}, v.notFound(p, "nodeup state list shows what it has")
}

func (v *stateView) notFound(item, hint string) error {
	if !v.exists {
		return fmt.Errorf("state show %s: nodeup has no state on this node (%s)", item, paths.StateFile)
	}
	return fmt.Errorf("state show %s: %s records no such item; %s", item, paths.StateFile, hint)
}

// file is a recorded file with what the node holds there now.
func (v *stateView) file(p string) fileItem {
	f := fileItem{Path: p, SHA256: state.Shown(v.snap.Files[p]), Artifact: v.snap.ArtifactOf(p), Backups: v.backups[p]}
	f.Status = v.st.FileStatus(v.h, p)
	return f
}

// tree is a recorded tree with each member's status.
func (v *stateView) tree(dir string) treeItem {
	t := v.snap.Trees[dir]
	tr := treeItem{Path: dir, Artifact: v.snap.ArtifactOf(dir), Entries: len(t)}
	for _, rel := range slices.Sorted(maps.Keys(t)) {
		tr.Members = append(tr.Members, v.member(dir, rel, t[rel]))
	}
	return tr
}

func (v *stateView) member(dir, rel string, e state.TreeEntry) memberItem {
	m := memberItem{Path: path.Join(dir, rel), TreeEntry: e, Status: "as nodeup installed it"}
	why, err := steps.MemberDrift(v.h, m.Path, e)
	switch {
	case err != nil:
		m.Status = err.Error()
	case why != "":
		m.Status = strings.TrimPrefix(why, m.Path+" ")
	}
	return m
}

// printItem writes one record as text.
func printItem(w io.Writer, it stateItem) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	switch it.Kind {
	case "artifact":
		a := it.Artifact
		fmt.Fprintf(tw, "artifact\t%s\n", a.Name)
		fmt.Fprintf(tw, "version\t%s\n", orDash(a.Version))
		fmt.Fprintf(tw, "sha256\t%s\n", a.SHA256)
		if p := a.Previous; p != nil {
			fmt.Fprintf(tw, "replaced\t%s (sha256:%s)\n", orDash(p.Version), p.SHA256)
		}
		if r := a.RolledBack; r != nil {
			fmt.Fprintf(tw, "rolled back\t%s (sha256:%s) at %s: %s\n", orDash(r.Version), r.SHA256, r.Time.Format(time.RFC3339), firstLine(r.Error))
		}
	case "unit":
		u := it.Unit
		fmt.Fprintf(tw, "unit\t%s\n", u.Name)
		fmt.Fprintf(tw, "state\t%s\n", describeUnit(*u))
		for _, l := range u.Links {
			fmt.Fprintf(tw, "link\t%s\n", escape.Line(l))
		}
	case "directory":
		fmt.Fprintf(tw, "directory\t%s\n", escape.Line(it.Dir))
		fmt.Fprintf(tw, "created by\tnodeup (%s now)\n", it.Status)
	case "backup":
		fmt.Fprintf(tw, "backup of\t%s\n", escape.Line(it.Backup.Path))
		for _, b := range it.Backup.Backups {
			fmt.Fprintf(tw, "backup\t%s\n", escape.Line(b))
		}
	}
	for _, f := range it.Files {
		fmt.Fprintf(tw, "file\t%s\n", escape.Line(f.Path))
		fmt.Fprintf(tw, "  sha256\t%s\n", f.SHA256)
		if f.Artifact != "" {
			fmt.Fprintf(tw, "  installed with\t%s\n", f.Artifact)
		}
		fmt.Fprintf(tw, "  on the node\t%s\n", escape.Line(f.Status))
		for _, b := range f.Backups {
			fmt.Fprintf(tw, "  backup\t%s\n", escape.Line(b))
		}
	}
	for _, t := range it.Trees {
		fmt.Fprintf(tw, "tree\t%s (%d files and links", escape.Line(t.Path), t.Entries)
		if t.Artifact != "" {
			fmt.Fprintf(tw, ", installed with %s", t.Artifact)
		}
		fmt.Fprintf(tw, ")\n")
		for _, m := range t.Members {
			what := "sha256:" + m.SHA256
			if m.Link != "" {
				what = "-> " + m.Link
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", escape.Line(m.Path), escape.Line(what), escape.Line(m.Status))
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12]
	}
	return sum
}
