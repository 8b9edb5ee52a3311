package cli

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/nodeup/nodeup/engine/state"
	"github.com/nodeup/nodeup/internal/escape"
	"github.com/nodeup/nodeup/node/host"
	"github.com/nodeup/nodeup/node/paths"
)

func (inv *invocation) stateCommand() *cobra.Command {
	g := &inv.g
	cmd := &cobra.Command{
		Use:   "state",
		Short: "Show what nodeup installed and wrote on this node (list | show ITEM)",
		Long: `State reads ` + paths.StateFile + ` alone, no profile: what nodeup installed and
wrote on this node, with versions and sha256, the units it enabled, the directories it
created, the files it backed up, and how the last apply ended.`,
		Example: `  nodeup state list
  nodeup state show containerd`,
		Args: cobra.NoArgs,
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the artifacts, files, trees, units, directories and backups nodeup recorded",
		Long: `List what ` + paths.StateFile + ` records: each artifact with its version, sha256 and the
release it replaced, each file with its sha256, the trees, the units with their links, the
directories nodeup created, the backups it keeps and how the last apply ended.`,
		Args: cobra.NoArgs,
		RunE: inv.action(func(*cobra.Command, []string) error {
			v, err := readStateView(&inv.g)
			if err != nil {
				return err
			}
			if g.json {
				return inv.emit(v.list(), true)
			}
			v.print(inv.out)
			return nil
		}),
		Example: `  nodeup state list
  nodeup state list --json | jq .artifacts
  nodeup state list --root /mnt/image`,
	}
	show := &cobra.Command{
		Use: "show ITEM",
		Long: `Show one record and what the node holds there now: a node path (a file, a tree or one of
its members, a directory, a backup), an artifact name (containerd) or a unit
(containerd.service). An item the state does not record is an error.`,
		Short: "Show one record: a node path (file, tree, directory), an artifact (containerd) or a unit (containerd.service)",
		Args:  cobra.ExactArgs(1),
		RunE: inv.action(func(_ *cobra.Command, args []string) error {
			v, err := readStateView(&inv.g)
			if err != nil {
				return err
			}
			item, err := v.show(args[0])
			if err != nil {
				return err
			}
			if g.json {
				return inv.emit(item, true)
			}
			printItem(inv.out, item)
			return nil
		}),
		Example: `  nodeup state show containerd
  nodeup state show /etc/containerd/config.toml
  nodeup state show containerd.service --json`,
	}
	inv.rootFlag(list)
	inv.rootFlag(show)
	cmd.AddCommand(list, show)
	return cmd
}

// stateView is the node's record as nodeup state shows it.
type stateView struct {
	h         *host.Host
	exists    bool
	st        *state.State
	snap      state.Snapshot
	backups   map[string][]string
	lastApply *state.LastApply
}

func readStateView(g *globalOptions) (*stateView, error) {
	h, err := host.New(g.root)
	if err != nil {
		return nil, err
	}
	v := &stateView{h: h}
	if v.exists, err = state.Exists(h); err != nil {
		return nil, err
	}
	st, err := state.Load(h)
	if err != nil {
		return nil, err
	}
	v.st, v.snap = st, st.Snapshot()
	if v.backups, err = h.Backups(); err != nil {
		return nil, err
	}
	if l, ok, err := state.ReadLastApply(h); err != nil {
		return nil, err
	} else if ok {
		v.lastApply = &l
	}
	return v, nil
}

// The records, as nodeup state --json gives them.
type (
	artifactItem struct {
		Name string `json:"name"`
		state.Artifact
	}
	fileItem struct {
		Path     string   `json:"path"`
		SHA256   string   `json:"sha256"`
		Artifact string   `json:"artifact,omitempty"`
		Status   string   `json:"status,omitempty"`
		Backups  []string `json:"backups,omitempty"`
	}
	treeItem struct {
		Path     string       `json:"path"`
		Artifact string       `json:"artifact,omitempty"`
		Entries  int          `json:"entries"`
		Members  []memberItem `json:"members,omitempty"`
	}
	memberItem struct {
		Path string `json:"path"`
		state.TreeEntry
		Status string `json:"status,omitempty"`
	}
	unitItem struct {
		Name string `json:"name"`
		state.Unit
		RestartDue string `json:"restartDue,omitempty"`
	}
	backupItem struct {
		Path    string   `json:"path"`
		Backups []string `json:"backups"`
	}
	stateList struct {
		StateFile string           `json:"stateFile"`
		Recorded  bool             `json:"recorded"`
		Artifacts []artifactItem   `json:"artifacts"`
		Files     []fileItem       `json:"files"`
		Trees     []treeItem       `json:"trees"`
		Units     []unitItem       `json:"units"`
		Dirs      []string         `json:"dirs"`
		Backups   []backupItem     `json:"backups"`
		LastApply *state.LastApply `json:"lastApply,omitempty"`
	}
	// stateItem is one record nodeup state show found; Kind says which
	// of the other fields is set.
	stateItem struct {
		Kind     string        `json:"kind"` // artifact, file, tree, tree member, unit, directory, backup
		Artifact *artifactItem `json:"artifact,omitempty"`
		Files    []fileItem    `json:"files,omitempty"`
		Trees    []treeItem    `json:"trees,omitempty"`
		Unit     *unitItem     `json:"unit,omitempty"`
		Dir      string        `json:"dir,omitempty"`
		Status   string        `json:"status,omitempty"`
		Backup   *backupItem   `json:"backup,omitempty"`
	}
)

func (v *stateView) list() stateList {
	l := stateList{StateFile: paths.StateFile, Recorded: v.exists, LastApply: v.lastApply, Dirs: v.snap.Dirs,
		Artifacts: []artifactItem{}, Files: []fileItem{}, Trees: []treeItem{}, Units: []unitItem{}, Backups: []backupItem{}}
	for _, name := range slices.Sorted(maps.Keys(v.snap.Artifacts)) {
		l.Artifacts = append(l.Artifacts, artifactItem{name, v.snap.Artifacts[name]})
	}
	for _, p := range slices.Sorted(maps.Keys(v.snap.Files)) {
		l.Files = append(l.Files, fileItem{Path: p, SHA256: state.Shown(v.snap.Files[p]), Artifact: v.snap.ArtifactOf(p)})
	}
	for _, p := range slices.Sorted(maps.Keys(v.snap.Trees)) {
		l.Trees = append(l.Trees, treeItem{Path: p, Artifact: v.snap.ArtifactOf(p), Entries: len(v.snap.Trees[p])})
	}
	for _, name := range slices.Sorted(maps.Keys(v.snap.Units)) {
		l.Units = append(l.Units, v.unit(name))
	}
	for _, p := range slices.Sorted(maps.Keys(v.backups)) {
		l.Backups = append(l.Backups, backupItem{p, v.backups[p]})
	}
	if l.Dirs == nil {
		l.Dirs = []string{}
	}
	return l
}

func (v *stateView) unit(name string) unitItem {
	u := unitItem{Name: name, Unit: v.snap.Units[name]}
	if cause, ok := v.snap.Restarts[name]; ok {
		u.RestartDue = cause + " changed"
	}
	return u
}

// print writes the list as aligned text, one section per kind of record.
func (v *stateView) print(w io.Writer) {
	if !v.exists {
		fmt.Fprintf(w, "nodeup has no state on this node (%s): it never applied here, or was reset.\n", paths.StateFile)
		return
	}
	l := v.list()
	fmt.Fprintf(w, "State: %s\n", paths.StateFile)
	if a := l.LastApply; a != nil {
		fmt.Fprintf(w, "Last apply: %s, %s\n", a.Time.Format(time.RFC3339), describeApply(*a))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	section := func(title string, n int) bool {
		if n > 0 {
			tw.Flush()
			fmt.Fprintf(w, "\n%s:\n", title)
		}
		return n > 0
	}
	if section("Artifacts", len(l.Artifacts)) {
		for _, a := range l.Artifacts {
			fmt.Fprintf(tw, "  %s\t%s\tsha256:%s\t%s\n", a.Name, orDash(a.Version), a.SHA256, history(a.Artifact))
		}
	}
	if section("Files", len(l.Files)) {
		for _, f := range l.Files {
			fmt.Fprintf(tw, "  %s\tsha256:%s\t%s\n", escape.Line(f.Path), f.SHA256, f.Artifact)
		}
	}
	if section("Trees", len(l.Trees)) {
		for _, t := range l.Trees {
			fmt.Fprintf(tw, "  %s\t%d files and links\t%s\n", escape.Line(t.Path), t.Entries, t.Artifact)
		}
	}
	if section("Units", len(l.Units)) {
		for _, u := range l.Units {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", escape.Line(u.Name), describeUnit(u), escape.Line(strings.Join(u.Links, " ")))
		}
	}
	if section("Directories nodeup created", len(l.Dirs)) {
		for _, d := range l.Dirs {
			fmt.Fprintf(tw, "  %s\n", escape.Line(d))
		}
	}
	if section("Backups of files nodeup replaced ("+paths.BackupDir+")", len(l.Backups)) {
		for _, b := range l.Backups {
			fmt.Fprintf(tw, "  %s\t%s\n", escape.Line(b.Path), escape.Line(strings.Join(b.Backups, " ")))
		}
	}
	tw.Flush()
}

func describeApply(a state.LastApply) string {
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
func history(a state.Artifact) string {
	var parts []string
	if p := a.Previous; p != nil {
		parts = append(parts, "replaced "+orDash(p.Version)+" (sha256:"+short(p.SHA256)+")")
	}
	if r := a.RolledBack; r != nil {
		parts = append(parts, fmt.Sprintf("rolled back from %s (sha256:%s) at %s", orDash(r.Version), short(r.SHA256), r.Time.Format(time.RFC3339)))
	}
	return strings.Join(parts, "; ")
}

func describeUnit(u unitItem) string {
	parts := []string{"enabled"}
	if u.EnabledBefore {
		parts[0] = "enabled before nodeup"
	}
	if u.Start {
		parts = append(parts, "started")
	}
	if u.File != "" {
		parts = append(parts, "unit file "+u.File)
	}
	if u.RestartDue != "" {
		parts = append(parts, "restart due: "+u.RestartDue)
	}
	return strings.Join(parts, ", ")
}
