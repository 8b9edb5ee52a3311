package cli

import (
	"fmt"
	"github.com/nodeup/nodeup/internal/escape"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/ops"
)

// stateListView is the node's record, one section per kind of record.
type stateListView struct{ l *ops.StateListing }

func (v stateListView) document() any { return v.l }

func (v stateListView) ok() bool { return true }

func (v stateListView) human(inv *invocation) {
	w, l := inv.out, v.l
	if !l.Recorded {
		fmt.Fprintf(w, "nodeup has no state on this node (%s): it never applied here, or was reset.\n", paths.StateFile)
		return
	}
	fmt.Fprintf(w, "State: %s\n", paths.StateFile)
	if a := l.LastApply; a != nil {
		fmt.Fprintf(w, "Last apply: %s, %s\n", a.Time.Format(time.RFC3339), describeApply(*a))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, a := range section(w, tw, "Artifacts", l.Artifacts) {
		fmt.Fprintf(tw, "  %s\t%s\tsha256:%s\t%s\n", a.Name, orDash(a.Version), a.SHA256, history(a))
	}
	for _, f := range section(w, tw, "Files", l.Files) {
		fmt.Fprintf(tw, "  %s\tsha256:%s\t%s\n", escape.Line(f.Path), f.SHA256, f.Artifact)
	}
	for _, t := range section(w, tw, "Trees", l.Trees) {
		fmt.Fprintf(tw, "  %s\t%d files and links\t%s\n", escape.Line(t.Path), t.Entries, t.Artifact)
	}
	for _, u := range section(w, tw, "Units", l.Units) {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", escape.Line(u.Name), describeUnit(u), escape.Line(strings.Join(u.Links, " ")))
	}
	for _, d := range section(w, tw, "Directories nodeup created", l.Dirs) {
		fmt.Fprintf(tw, "  %s\n", escape.Line(d))
	}
	for _, b := range section(w, tw, "Backups of files nodeup replaced ("+paths.BackupDir+")", l.Backups) {
		fmt.Fprintf(tw, "  %s\t%s\n", escape.Line(b.Path), escape.Line(strings.Join(b.Backups, " ")))
	}
	tw.Flush()
}

// section starts a titled section of aligned lines when there are
// records, and returns them; each section aligns on its own.
func section[T any](w io.Writer, tw *tabwriter.Writer, title string, records []T) []T {
	if len(records) > 0 {
		tw.Flush()
		fmt.Fprintf(w, "\n%s:\n", title)
	}
	return records
}

func describeApply(a ops.ApplyRecord) string {
	s := fmt.Sprintf("%d changed, %d failed", a.Changed, a.Failed)
	switch {
	case a.RolledBack:
		s += ", rolled back"
	case a.Verified:
		s += ", verified"
	}
	if a.OK {
		return "ok: " + s
	}
	return "failed: " + s
}

// history says which release an artifact replaced and which one nodeup
// took back.
func history(a ops.ArtifactRecord) string {
	var parts []string
	if p := a.Previous; p != nil {
		parts = append(parts, "replaced "+orDash(p.Version)+" (sha256:"+short(p.SHA256)+")")
	}
	if r := a.RolledBack; r != nil {
		parts = append(parts, fmt.Sprintf("rolled back from %s (sha256:%s) at %s", orDash(r.Version), short(r.SHA256), r.Time.Format(time.RFC3339)))
	}
	return strings.Join(parts, "; ")
}

func describeUnit(u ops.UnitRecord) string {
	parts := []string{"enabled"}
	if u.EnabledBefore {
		parts[0] = "enabled before nodeup"
	}
	switch {
	case u.Started:
		parts = append(parts, "started")
	case u.Start:
		parts = append(parts, "to start at boot")
	}
	if u.File != "" {
		parts = append(parts, "unit file "+u.File)
	}
	if u.RestartDue != "" {
		parts = append(parts, "restart due: "+u.RestartDue)
	}
	return strings.Join(parts, ", ")
}

// stateItemView is one record and what the node holds there now.
type stateItemView struct{ it *ops.StateItem }

func (v stateItemView) document() any { return v.it }

func (v stateItemView) ok() bool { return true }

func (v stateItemView) human(inv *invocation) {
	tw := tabwriter.NewWriter(inv.out, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	printRecord(tw, v.it)
	for _, f := range v.it.Files {
		printFile(tw, f)
	}
	for _, t := range v.it.Trees {
		printTree(tw, t)
	}
}

// printRecord writes the record an item names: an artifact, a unit, a
// directory or a backup (a file or tree is all in its lines).
func printRecord(tw io.Writer, it *ops.StateItem) {
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
		fmt.Fprintf(tw, "unit\t%s\n", escape.Line(u.Name))
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
}

func printFile(tw io.Writer, f ops.FileRecord) {
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

func printTree(tw io.Writer, t ops.TreeRecord) {
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
