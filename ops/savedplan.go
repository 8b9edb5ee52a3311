package ops

// Saved plans: nodeup plan --out FILE writes what the plan found, with the
// profile it compiled and what it saw of the node; nodeup apply FILE applies
// exactly that plan, and refuses, changing nothing, when the node or an
// input moved since. The file carries the profile with the values given
// (sensitive ones included, as --phase bake keeps them on the node), so it
// is written 0600 and atomically.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/hcl/v2"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/nodeup/nodeup/engine"
	"github.com/nodeup/nodeup/graph"
	"github.com/nodeup/nodeup/node/digest"
	"github.com/nodeup/nodeup/node/host"
	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/plan"
	"github.com/nodeup/nodeup/profile"
	"github.com/nodeup/nodeup/steps"
)

// SavedPlanFormat names a saved plan's JSON; SavedPlanFormatVersion
// changes when a field changes meaning or goes away.
const (
	SavedPlanFormat        = "nodeup-plan"
	SavedPlanFormatVersion = 1
)

// SavedPlan is a plan as nodeup plan --out writes it (docs/json.md).
type SavedPlan struct {
	Format        string    `json:"format"`
	FormatVersion int       `json:"format_version"`
	NodeupVersion string    `json:"nodeup_version"`
	Created       time.Time `json:"created"`
	// Root, Phase, Arch and AllowDowngrade shaped the plan.
	Root           string       `json:"root"`
	Phase          steps.Phase  `json:"phase"`
	Arch           string       `json:"arch"`
	AllowDowngrade bool         `json:"allow_downgrade,omitempty"`
	Profile        SavedProfile `json:"profile"`
	// Values are the sha256 of each value given from outside the profile,
	// by variable name.
	Values map[string]string `json:"values"`
	// Graph is the compiled graph, in order.
	Graph []SavedVertex `json:"graph"`
	// Node is what the plan saw of the node; Steps what each step would do.
	Node  SavedNode   `json:"node"`
	Steps []SavedStep `json:"steps"`
}

// SavedProfile is the profile's snapshot (plan.Snapshot): its files, the
// files its file() calls read and the values given, relative to Dir.
type SavedProfile struct {
	Path  string      `json:"path"` // as given to plan, absolute
	Dir   string      `json:"dir"`  // where its files were read, absolute
	Files []SavedFile `json:"files"`
}

// SavedFile is one file of the profile's snapshot.
type SavedFile struct {
	Rel       string `json:"rel"`
	SHA256    string `json:"sha256"`
	Sensitive bool   `json:"sensitive,omitempty"`
	Data      []byte `json:"data"`
}

// SavedVertex is one step of the compiled graph.
type SavedVertex struct {
	ID       string   `json:"id"`
	Describe string   `json:"describe"`
	After    []string `json:"after,omitempty"`
}

// SavedNode is what the plan saw of the node: state.json's sha256 and, for
// every path a step writes, what was there (Found).
type SavedNode struct {
	State string            `json:"state"`
	Paths map[string]string `json:"paths"`
}

// SavedStep is what one step would do.
type SavedStep struct {
	ID         string        `json:"id"`
	Action     steps.Outcome `json:"action"`
	Reason     string        `json:"reason,omitempty"`
	DiffSHA256 string        `json:"diff_sha256,omitempty"`
}

// savePlan writes the plan r to o.Out, when nothing keeps apply from
// running it: a plan with a step that could not be checked, or that apply
// would refuse, is not one to apply later.
func (c *Config) savePlan(o PlanOptions, pr *prepared, env *steps.Env, r *PlanReport) error {
	if len(r.Refusals) > 0 || failed(r.Results) > 0 {
		return fmt.Errorf("the plan was not saved to %s: apply would not run it", o.Out)
	}
	sp, err := c.newSavedPlan(o, pr, env, r.Results)
	if err != nil {
		return fmt.Errorf("--out %s: %w", o.Out, err)
	}
	b, err := json.MarshalIndent(sp, "", "  ")
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(o.Out)
	if err != nil {
		return fmt.Errorf("--out %s: %w", o.Out, err)
	}
	local, err := host.New("/")
	if err != nil {
		return err
	}
	if err := local.WriteFile(abs, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	r.Saved = o.Out
	return nil
}

func (c *Config) newSavedPlan(o PlanOptions, pr *prepared, env *steps.Env, results []engine.Result) (*SavedPlan, error) {
	p := pr.loaded.Profile
	files := pr.kept
	if files == nil {
		var err error
		if files, err = plan.Snapshot(p); err != nil {
			return nil, fmt.Errorf("a saved plan carries the whole profile: %w", err)
		}
	}
	dir, err := filepath.Abs(filepath.Dir(p.Files[0]))
	if err != nil {
		return nil, err
	}
	root, err := filepath.Abs(c.Root)
	if err != nil {
		return nil, err
	}
	given, err := filepath.Abs(o.Path)
	if err != nil {
		return nil, err
	}
	node, err := nodeSeen(pr.graph, env.Host)
	if err != nil {
		return nil, err
	}
	sp := &SavedPlan{
		Format: SavedPlanFormat, FormatVersion: SavedPlanFormatVersion, NodeupVersion: o.NodeupVersion,
		Created: time.Now().UTC(), Root: root, Phase: c.Phase, Arch: p.Node.Arch, AllowDowngrade: o.AllowDowngrade,
		Profile: SavedProfile{Path: given, Dir: dir},
		Values:  givenValues(p.Given),
		Graph:   savedGraph(pr.graph),
		Node:    node,
		Steps:   savedSteps(results),
	}
	for _, f := range files {
		sp.Profile.Files = append(sp.Profile.Files, SavedFile{Rel: f.Rel, SHA256: digest.Bytes(f.Data), Sensitive: f.Sensitive, Data: f.Data})
	}
	return sp, nil
}

// givenValues is the sha256 of each value given, by name.
func givenValues(given []profile.GivenVar) map[string]string {
	out := map[string]string{}
	for _, v := range given {
		val, _ := v.Value.UnmarkDeep()
		b, err := ctyjson.Marshal(val, val.Type())
		if err != nil {
			b = []byte(val.GoString())
		}
		out[v.Name] = digest.Bytes(b)
	}
	return out
}

func savedGraph(g *graph.Graph) []SavedVertex {
	var out []SavedVertex
	for _, s := range g.Order() {
		out = append(out, SavedVertex{ID: s.ID, Describe: s.Action.Describe(), After: s.Deps})
	}
	return out
}

func savedSteps(results []engine.Result) []SavedStep {
	out := make([]SavedStep, 0, len(results))
	for _, r := range results {
		s := SavedStep{ID: r.ID, Action: r.Action, Reason: r.Reason}
		if r.Diff != "" {
			s.DiffSHA256 = digest.Bytes([]byte(r.Diff))
		}
		out = append(out, s)
	}
	return out
}

// nodeSeen is what the node holds where g's steps write, and its state.
// A directory is seen by its kind, mode and owner, not its entries: the
// directories steps create (/usr/local/bin, /etc/systemd/system) hold what
// is not nodeup's, and what a step owns below one is a path of its own.
func nodeSeen(g *graph.Graph, h *host.Host) (SavedNode, error) {
	n := SavedNode{Paths: map[string]string{}}
	state, err := found(h, paths.StateFile)
	if err != nil {
		return n, err
	}
	n.State = state
	for _, written := range writesOf(g) {
		for _, p := range written {
			if _, done := n.Paths[p]; done {
				continue
			}
			if n.Paths[p], err = found(h, p); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// writesOf is the paths each step of g writes, by step ID.
func writesOf(g *graph.Graph) map[string][]string {
	out := map[string][]string{}
	for _, v := range g.Order() {
		if s, ok := v.Action.(steps.Step); ok {
			out[v.ID] = s.Writes()
		}
	}
	return out
}

// found says what node path p is: absent, a symlink (its target), or its
// type, mode and owner, and a regular file's sha256.
func found(h *host.Host, p string) (string, error) {
	fi, err := h.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return "absent", nil
	}
	if err != nil {
		return "", err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		target, err := h.Readlink(p)
		return "symlink to " + target, err
	}
	seen := fi.Mode().String() // drwxr-xr-x, -rw-r--r--, ...
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		seen += fmt.Sprintf(" %d:%d", st.Uid, st.Gid)
	}
	if fi.Mode().IsRegular() {
		sum, err := h.SHA256(p)
		return seen + " sha256:" + sum, err
	}
	return seen, nil
}

// maxSavedPlan bounds a saved plan: its profile's files are bounded by
// plan.MaxFileSize each and its profile by plan's limits.
const maxSavedPlan = 256 << 20

// ReadSavedPlan reads a saved plan. It returns nil and no error when path
// is not one: a directory, a *.hcl file, or a file that does not start as
// JSON does (a profile is HCL, which never starts with "{").
func ReadSavedPlan(path string) (*SavedPlan, error) {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() || strings.HasSuffix(path, ".hcl") {
		return nil, nil
	}
	if fi.Size() > maxSavedPlan {
		return nil, fmt.Errorf("%s: %d bytes, more than a saved plan ever holds (%d); pass a profile or a plan from nodeup plan --out", path, fi.Size(), maxSavedPlan)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte("{")) {
		return nil, nil
	}
	var sp SavedPlan
	if err := json.Unmarshal(b, &sp); err != nil {
		return nil, fmt.Errorf("%s: not a saved plan nodeup can read: %v; make it again with nodeup plan PROFILE --out %s", path, err, path)
	}
	if sp.Format != SavedPlanFormat {
		return nil, fmt.Errorf("%s is JSON but not a nodeup plan (no \"format\": %q); nodeup apply takes a profile or a plan from nodeup plan --out", path, SavedPlanFormat)
	}
	if sp.FormatVersion != SavedPlanFormatVersion {
		return nil, fmt.Errorf("%s is a nodeup plan of format_version %d; this nodeup reads format_version %d: apply it with the nodeup that made it (%s), or run nodeup plan again", path, sp.FormatVersion, SavedPlanFormatVersion, sp.NodeupVersion)
	}
	seen := map[string]bool{}
	for _, f := range sp.Profile.Files {
		if !filepath.IsLocal(filepath.FromSlash(f.Rel)) || seen[f.Rel] {
			return nil, fmt.Errorf("%s: the plan's profile holds a file named %q, which a plan from nodeup plan --out never does; run nodeup plan again", path, f.Rel)
		}
		seen[f.Rel] = true
	}
	return &sp, nil
}

// ApplySavedOptions are what an apply of a saved plan is asked.
type ApplySavedOptions struct {
	Plan *SavedPlan
	// Wait queues behind another nodeup holding the lock.
	Wait bool
	// NodeupVersion is this nodeup's: the plan's must be the same.
	NodeupVersion string
}

// StalePlanError is a saved plan that no longer holds: what moved since it
// was made, by kind. It is refused before anything changes.
type StalePlanError struct {
	Profile, Values, Graph, Node []string
	// Arch is "made-for to now" when the architecture moved.
	Arch string
}

func (e *StalePlanError) Error() string {
	var parts []string
	add := func(what string, moved []string) {
		if len(moved) > 0 {
			parts = append(parts, fmt.Sprintf("%s changed since this plan was made: %s", what, strings.Join(moved, ", ")))
		}
	}
	add("the profile", e.Profile)
	add("the values given", e.Values)
	if e.Arch != "" {
		parts = append(parts, "the architecture changed since this plan was made: "+e.Arch)
	}
	add("the steps the profile compiles to", e.Graph)
	add("the node", e.Node)
	return strings.Join(parts, "; ") + "; run nodeup plan again"
}

func (e *StalePlanError) moved() bool {
	return len(e.Profile)+len(e.Values)+len(e.Graph)+len(e.Node) > 0 || e.Arch != ""
}

// ApplySaved applies a saved plan: its profile, with its values, phase and
// flags, recompiled and planned again against the node under the lock. It
// refuses with a *StalePlanError, changing nothing, when anything the plan
// depended on moved: the profile where plan read it (when it is still
// there), the values given (this run's --var-file and --var override the
// plan's, which override NODEUP_VAR_*, as for any profile directory), the
// steps compiled,
// what the node holds where the steps write, the state, or what a step
// would do. c.Phase must be the plan's.
func ApplySaved(ctx context.Context, c *Config, o ApplySavedOptions) (*ApplyReport, error) {
	sp := o.Plan
	if sp.NodeupVersion != o.NodeupVersion {
		return nil, fmt.Errorf("this plan was made by nodeup %s and this is nodeup %s: apply it with nodeup %s, or run nodeup plan again with this one", sp.NodeupVersion, o.NodeupVersion, sp.NodeupVersion)
	}
	if c.Phase != sp.Phase {
		return nil, fmt.Errorf("this plan was made for --phase %s, not %s: leave --phase out, or run nodeup plan again", sp.Phase, c.Phase)
	}
	if moved := sp.profileMoved(); len(moved) > 0 {
		return nil, &StalePlanError{Profile: moved}
	}
	dir, err := sp.unpack()
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	cc := *c
	relabel := func(s string) string { return strings.ReplaceAll(s, dir, sp.Profile.Dir) }
	if f := c.Hooks.Diagnostics; f != nil {
		cc.Hooks.Diagnostics = func(files map[string]*hcl.File, diags hcl.Diagnostics) {
			f(relabelDiags(files, diags, relabel))
		}
	}
	if f := c.Hooks.Planned; f != nil {
		cc.Hooks.Planned = func(planned []engine.Result) { f(relabelResults(planned, relabel)) }
	}
	if f := c.Hooks.Finished; f != nil {
		cc.Hooks.Finished = func(r engine.Result) { f(relabelResults([]engine.Result{r}, relabel)[0]) }
	}
	r, err := cc.apply(ctx, ApplyOptions{Path: dir, Wait: o.Wait, AllowDowngrade: sp.AllowDowngrade}, &savedGate{plan: sp})
	if err != nil {
		if msg := err.Error(); strings.Contains(msg, dir) {
			err = &relabeledError{msg: relabel(msg), err: err}
		}
		return nil, err
	}
	r.Planned, r.Results = relabelResults(r.Planned, relabel), relabelResults(r.Results, relabel)
	return r, nil
}

// profileMoved checks the plan's files against their sha256 (an edit of
// the plan file), then against the profile where plan read it, when it is
// still there: a profile edited since its plan was reviewed is refused
// rather than silently set aside.
func (sp *SavedPlan) profileMoved() []string {
	var moved []string
	for _, f := range sp.Profile.Files {
		if digest.Bytes(f.Data) != f.SHA256 {
			moved = append(moved, f.Rel+" (edited in the plan file)")
		}
	}
	if len(moved) > 0 {
		return moved
	}
	if fi, err := os.Stat(sp.Profile.Dir); err != nil || !fi.IsDir() {
		return nil // the plan was carried to another machine
	}
	inPlan := map[string]bool{}
	for _, f := range sp.Profile.Files {
		if f.Rel == plan.GivenVarsFile {
			continue
		}
		inPlan[f.Rel] = true
		p := filepath.Join(sp.Profile.Dir, filepath.FromSlash(f.Rel))
		if b, err := plan.ReadFile(p); err != nil || digest.Bytes(b) != f.SHA256 {
			moved = append(moved, p)
		}
	}
	// A profile directory that gained a file is a profile that changed.
	if fi, err := os.Stat(sp.Profile.Path); err == nil && fi.IsDir() {
		files, _ := plan.HCLFiles(sp.Profile.Path)
		for _, f := range files {
			if !strings.HasSuffix(f, plan.AutoVarsSuffix) && !inPlan[filepath.Base(f)] {
				moved = append(moved, f)
			}
		}
	}
	return moved
}

// unpack writes the plan's profile into a new private directory.
func (sp *SavedPlan) unpack() (string, error) {
	dir, err := os.MkdirTemp("", "nodeup-plan-")
	if err != nil {
		return "", fmt.Errorf("unpacking the plan's profile: %w", err)
	}
	out, err := host.NewOut(dir)
	if err == nil {
		for _, f := range sp.Profile.Files {
			if err = out.WriteFile("/"+f.Rel, f.Data, 0o600); err != nil {
				break
			}
		}
	}
	if err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("unpacking the plan's profile: %w", err)
	}
	return dir, nil
}

// savedGate refuses an apply whose profile or node moved since the plan.
type savedGate struct{ plan *SavedPlan }

func (sg *savedGate) compiled(pr *prepared) error {
	sp := sg.plan
	e := &StalePlanError{Values: movedKeys(sp.Values, givenValues(pr.loaded.Profile.Given))}
	if arch := pr.loaded.Profile.Node.Arch; arch != sp.Arch {
		e.Arch = sp.Arch + " to " + arch
	}
	if e.moved() {
		// The steps follow from the values and the architecture: naming
		// them too would say the same thing again at length.
		return e
	}
	was := map[string]SavedVertex{}
	for _, v := range sp.Graph {
		was[v.ID] = v
	}
	for _, v := range savedGraph(pr.graph) {
		w, ok := was[v.ID]
		switch {
		case !ok:
			e.Graph = append(e.Graph, v.ID+" (new)")
		case w.Describe != v.Describe || !slices.Equal(w.After, v.After):
			e.Graph = append(e.Graph, v.ID)
		}
		delete(was, v.ID)
	}
	for id := range was {
		e.Graph = append(e.Graph, id+" (gone)")
	}
	sort.Strings(e.Graph)
	if e.moved() {
		return e
	}
	return nil
}

// planned compares the node and the steps' plan with the saved ones. It
// names the paths that moved, and a step whose plan moved where none of
// its paths did (a unit, a sysctl, a package).
func (sg *savedGate) planned(env *steps.Env, g *graph.Graph, planned []engine.Result) error {
	sp := sg.plan
	now, err := nodeSeen(g, env.Host)
	if err != nil {
		return err
	}
	e := &StalePlanError{}
	if now.State != sp.Node.State {
		e.Node = append(e.Node, paths.StateFile)
	}
	movedPaths := movedKeys(sp.Node.Paths, now.Paths)
	e.Node = append(e.Node, movedPaths...)
	was := map[string]SavedStep{}
	for _, s := range sp.Steps {
		was[s.ID] = s
	}
	written := writesOf(g)
	nowSteps := savedSteps(planned)
	for i, s := range nowSteps {
		if planned[i].Err == nil && s == was[s.ID] {
			continue
		}
		if slices.ContainsFunc(written[s.ID], func(p string) bool { return slices.Contains(movedPaths, p) }) {
			continue
		}
		e.Node = append(e.Node, s.ID)
	}
	if e.moved() {
		return e
	}
	return nil
}

// movedKeys lists the keys whose values differ between was and now,
// sorted.
func movedKeys(was, now map[string]string) []string {
	var out []string
	for k, v := range was {
		if w, ok := now[k]; !ok || w != v {
			out = append(out, k)
		}
	}
	for k := range now {
		if _, ok := was[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// relabelResults points the results' profile lines at where plan read the
// profile, not the directory it was unpacked into.
func relabelResults(results []engine.Result, relabel func(string) string) []engine.Result {
	out := slices.Clone(results)
	for i := range out {
		out[i].Source = relabel(out[i].Source)
		out[i].From.Filename = relabel(out[i].From.Filename)
	}
	return out
}

func relabelDiags(files map[string]*hcl.File, diags hcl.Diagnostics, relabel func(string) string) (map[string]*hcl.File, hcl.Diagnostics) {
	outFiles := map[string]*hcl.File{}
	for name, f := range files {
		outFiles[relabel(name)] = f
	}
	out := make(hcl.Diagnostics, 0, len(diags))
	for _, d := range diags {
		c := *d
		if d.Subject != nil {
			s := *d.Subject
			s.Filename = relabel(s.Filename)
			c.Subject = &s
		}
		if d.Context != nil {
			s := *d.Context
			s.Filename = relabel(s.Filename)
			c.Context = &s
		}
		out = append(out, &c)
	}
	return outFiles, out
}

// relabeledError is err said of where plan read the profile.
type relabeledError struct {
	msg string
	err error
}

func (e *relabeledError) Error() string { return e.msg }
func (e *relabeledError) Unwrap() error { return e.err }
