// Package plan turns a profile written in nodeup's HCL language into a
// validated, typed profile and then into a graph of steps. It reports every
// problem it finds in one run, each with the file, line and column it came
// from.
package plan

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/nodeup/nodeup/plan/pins"
	"github.com/nodeup/nodeup/profile"
)

// Options are the inputs of a load beside the profile itself.
type Options struct {
	Vars     []string // NAME=VALUE, from --var, in order
	VarFiles []string // from --var-file, in order
	Environ  []string // KEY=VALUE; NODEUP_VAR_<name> entries set variables
	Pins     *pins.Table
	// HostArch is the default for node.arch.
	HostArch string
	// Arches are all the architectures the profile is loaded for, one
	// load each (a bundle's); none: node.arch alone. A string sha256 is
	// one architecture's sum, so it is refused when there are several.
	Arches []string
	// FileDirs are directories beside the profile's own that file() may
	// read from (--allow-file-outside).
	FileDirs []string
}

// Loaded is the result of a load: the profile, and the parsed files so
// diagnostics can be printed with their source snippets.
type Loaded struct {
	Profile *profile.Profile
	Files   map[string]*hcl.File
	// Sensitive holds every value nodeup must never print: what sensitive
	// variables were given, valid or not, and every string computed from
	// one. It is filled even when the load fails.
	Sensitive []string
}

// Load reads a profile file, or every *.hcl file of a directory merged, and
// returns the typed profile. Diagnostics hold every error found; the
// profile is nil when there are errors.
func Load(path string, opts Options) (*Loaded, hcl.Diagnostics) {
	if opts.Pins == nil {
		opts.Pins = pins.Builtin()
	}
	parser := hclparse.NewParser()
	l := &loader{opts: opts, parser: parser, ranges: map[string]hcl.Range{}, failed: map[string]bool{}, sums: map[string]archSums{}, fileVars: map[string]bool{}, given: map[string]bool{}}
	defer l.hideFileContents()
	out := &Loaded{Files: parser.Files()}

	files, autoVars, baseDir, err := profileFiles(path)
	if err != nil {
		return out, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read profile", Detail: err.Error()}}
	}
	l.baseDir = baseDir
	l.dirProfile = len(files) > 0 && filepath.Dir(files[0]) == filepath.Clean(path)
	l.autoVarFiles = autoVars
	l.firstFile = files[0]
	var bodies []namedBody
	for _, f := range files {
		file, diags := l.parse(f, "profile")
		l.diags = append(l.diags, diags...)
		if file != nil {
			bodies = append(bodies, namedBody{f, file.Body})
		}
	}
	if l.diags.HasErrors() {
		return out, l.diags
	}
	// Decoding and validation go on past errors: each rule checks what
	// decoded, and a value that failed to decode is not reported again as
	// missing, so one run shows every independent problem.
	p := l.load(bodies)
	p.Files = files
	defer func() {
		l.scrubDiagnostics()
		out.Sensitive = l.sensitive
		p.Sensitive = l.sensitive
	}()
	l.validate(p)
	if l.diags.HasErrors() {
		return out, l.diags
	}
	out.Profile = p
	return out, l.diags
}

// parse reads and parses one HCL file (what says which: "profile",
// "variables"), bounded: a regular file of at most MaxFileSize bytes, within
// checkSource's limits.
func (l *loader) parse(path, what string) (*hcl.File, hcl.Diagnostics) {
	src, err := l.readProfileFile(path)
	if errors.Is(err, errOutside) {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read " + what + " file", Detail: err.Error()}}
	}
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read " + what + " file",
			Detail: fmt.Sprintf("%v; pass a %s file of at most %d KiB.", err, what, MaxFileSize>>10)}}
	}
	if diags := checkSource(src, path); diags.HasErrors() {
		// The parser keeps the file for the snippet under each error.
		l.parser.Files()[path] = &hcl.File{Bytes: src}
		return nil, diags
	}
	return l.parser.ParseHCL(src, path)
}

// errOutside is a profile directory's file that leads out of it.
var errOutside = errors.New("outside the profile directory")

// readProfileFile reads one file of the profile, bounded. A file of a
// profile directory (its *.hcl and *.auto.vars.hcl files) follows file()'s
// rule: a symlink may lead only within the directory, or into a directory
// allowed with --allow-file-outside; nothing else is read, so no error can
// show what a file outside holds. --var-file files and a profile named as a
// file are read where they are: the operator named them.
func (l *loader) readProfileFile(p string) ([]byte, error) {
	if !l.dirProfile || filepath.Dir(p) != filepath.Clean(l.baseDir) {
		return readBounded(p, MaxFileSize)
	}
	b, err := readBelow(l.baseDir, filepath.Base(p))
	if err == nil || !errors.Is(err, errEscapes) {
		return b, err
	}
	target, terr := filepath.EvalSymlinks(p)
	if terr == nil {
		for _, dir := range append([]string{l.baseDir}, l.opts.FileDirs...) {
			if d, err := filepath.EvalSymlinks(dir); err == nil {
				if rel, err := filepath.Rel(d, target); err == nil && filepath.IsLocal(rel) {
					return readBelow(d, rel)
				}
			}
		}
	}
	return nil, fmt.Errorf("%w: %s is a symlink that leads outside the profile directory %s, and nodeup reads a profile's files only from there. Copy the file itself into the directory, or allow the directory it leads to with --allow-file-outside", errOutside, p, l.baseDir)
}

type namedBody struct {
	name string
	body hcl.Body
}

// AutoVarsSuffix ends the names of the variables files a profile directory
// holds beside its *.hcl files: Load reads them as --var-file files, in name
// order, before the --var-file files given, like Terraform's *.auto.tfvars.
// They keep the values a profile was baked or shipped with.
const AutoVarsSuffix = ".auto.vars.hcl"

// profileFiles lists the files of a profile: the file itself, or a
// directory's *.hcl files in name order, and apart from them the
// directory's *.auto.vars.hcl files.
func profileFiles(path string) (files, autoVars []string, baseDir string, err error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, "", fmt.Errorf("%v; pass a profile file or a directory of *.hcl files", err)
	}
	if !st.IsDir() {
		return []string{path}, nil, filepath.Dir(path), nil
	}
	matches, err := HCLFiles(path)
	if err != nil {
		return nil, nil, "", err
	}
	for _, m := range matches {
		if strings.HasSuffix(m, AutoVarsSuffix) {
			autoVars = append(autoVars, m)
		} else {
			files = append(files, m)
		}
	}
	if len(files) == 0 {
		return nil, nil, "", fmt.Errorf("directory %s holds no *.hcl profile files (*%s files hold variables only)", path, AutoVarsSuffix)
	}
	return files, autoVars, path, nil
}

// HCLFiles lists the *.hcl files of directory dir in name order. The
// directory's name is data, never a pattern: a profile directory named
// "site[1]" is read, not "site1".
func HCLFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("%w; pass a profile file or a readable directory of *.hcl files", err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".hcl") {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}

// loader carries the state of one load: diagnostics are appended, never
// returned early, so one run reports every problem.
type loader struct {
	opts    Options
	parser  *hclparse.Parser
	baseDir string
	// dirProfile: the profile is a directory (baseDir) of files.
	dirProfile bool
	ctx        *hcl.EvalContext
	diags      hcl.Diagnostics
	// ranges maps "block.attribute" paths to where they were written, so
	// semantic checks made after decoding still point at the source.
	ranges map[string]hcl.Range
	// failed holds the "block.attribute" paths that were written but could
	// not be decoded (an error is reported already): rules that would see
	// them as missing stay silent.
	failed map[string]bool
	// sums are the artifact blocks' sha256 as written, by block name.
	sums         map[string]archSums
	sensitive    []string
	sensitiveSet map[string]bool
	// taints are where values computed from sensitive variables were
	// written.
	taints    []hcl.Range
	firstFile string // the profile's first file, for errors about the profile as a whole
	// sandboxImageSet says the profile names containerd's sandbox image.
	sandboxImageSet bool
	// fileVars are the variables whose default calls file(); fileExprs
	// the expressions whose value may come from file() (filetaint.go).
	fileVars  map[string]bool
	fileExprs []fileExpr
	// produced counts the bytes the profile's function calls returned
	// (bounded by maxProduced).
	produced int
	// autoVarFiles are the profile directory's *.auto.vars.hcl files.
	autoVarFiles []string
	// given are the variables set from outside the profile; reads the
	// files file() read.
	given     map[string]bool
	givenVars []profile.GivenVar
	reads     []profile.FileRead
}

// profileStart is the first line of the profile: where an error about the
// profile as a whole (a block it lacks) points.
func (l *loader) profileStart() *hcl.Range {
	start := hcl.Pos{Line: 1, Column: 1}
	return &hcl.Range{Filename: l.firstFile, Start: start, End: start}
}

// written reports whether the profile sets path, even to a value that
// failed to decode.
func (l *loader) written(path string) bool {
	_, ok := l.ranges[path]
	return ok
}

func (l *loader) errorf(subject *hcl.Range, summary, format string, args ...any) {
	l.report(hcl.DiagError, subject, summary, fmt.Sprintf(format, args...))
}

func (l *loader) warnf(subject *hcl.Range, summary, format string, args ...any) {
	l.report(hcl.DiagWarning, subject, summary, fmt.Sprintf(format, args...))
}

func (l *loader) report(sev hcl.DiagnosticSeverity, subject *hcl.Range, summary, detail string) {
	l.diags = append(l.diags, &hcl.Diagnostic{Severity: sev, Summary: summary, Detail: detail, Subject: subject, Extra: ownCheck})
}

// at returns where a path such as "containerd.sha256" was written; when it
// was not written (a default), fallback, else the block it belongs in,
// else nil (the profile as a whole).
func (l *loader) at(path string, fallback hcl.Range) *hcl.Range {
	if r, ok := l.ranges[path]; ok {
		return &r
	}
	if fallback.Filename != "" {
		return &fallback
	}
	block, _, _ := strings.Cut(path, ".")
	if r, ok := l.ranges[block]; ok {
		return &r
	}
	return nil
}

var rootSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "node"},
		{Type: "mirror"},
		{Type: "containerd"},
		{Type: "runc"},
		{Type: "crun"},
		{Type: "crictl"},
		{Type: "kata"},
		{Type: "cni"},
		{Type: "runtime", LabelNames: []string{"name"}},
		{Type: "kubelet"},
		{Type: "kubeadm"},
		{Type: "kubectl"},
		{Type: "image", LabelNames: []string{"name"}},
		{Type: "verify"},
		{Type: "file", LabelNames: []string{"path"}},
	},
}

// singletons are the blocks a profile may hold at most once.
var singletons = []string{"node", "mirror", "containerd", "runc", "crun", "crictl", "kata", "cni", "kubelet", "kubeadm", "kubectl", "verify"}

func (l *loader) load(bodies []namedBody) *profile.Profile {
	byType := map[string][]*hcl.Block{}
	var unknown []string // root block types the schema does not know
	for _, b := range bodies {
		content, diags := b.body.Content(rootSchema)
		l.diags = append(l.diags, diags...)
		unknown = append(unknown, unknownBlockTypes(b.body)...)
		if content == nil {
			continue
		}
		for _, blk := range content.Blocks {
			byType[blk.Type] = append(byType[blk.Type], blk)
		}
	}
	one := map[string]*hcl.Block{}
	for _, t := range singletons {
		blocks := byType[t]
		if len(blocks) == 0 {
			continue
		}
		one[t] = blocks[0]
		l.ranges[t] = blocks[0].DefRange
		for _, dup := range blocks[1:] {
			first := blocks[0].DefRange
			l.errorf(dup.DefRange.Ptr(), "Duplicate "+t+" block",
				"A profile holds one %s block; the first is at %s. Merge the two.", t, first)
		}
	}

	l.ctx = &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": l.variables(byType["variable"])},
		Functions: l.functions(),
	}

	p := &profile.Profile{}
	l.decodeNode(one["node"], p)
	l.decodeMirror(one["mirror"], p)
	switch {
	case one["containerd"] == nil && misspelt(unknown, "containerd"):
		// The unknown block reported above is the containerd block.
	case one["containerd"] == nil:
		l.errorf(l.profileStart(), "Missing containerd block",
			"A profile needs a containerd block with at least a version, e.g. containerd { version = \"2.3.4\" }.")
	case one["containerd"] != nil:
		l.decodeContainerd(one["containerd"], p)
	}
	p.Runc = l.decodeComponent(one["runc"], pins.Runc, p.Node.Arch, true)
	p.Crun = l.decodeComponent(one["crun"], pins.Crun, p.Node.Arch, true)
	p.Crictl = l.decodeComponent(one["crictl"], pins.Crictl, p.Node.Arch, false)
	p.Kata = l.decodeComponent(one["kata"], pins.Kata, p.Node.Arch, false)
	l.decodeCNI(one["cni"], p)
	for _, blk := range byType["runtime"] {
		l.decodeRuntime(blk, p)
	}
	if len(byType["runtime"]) == 0 {
		// A profile without runtime blocks gets the one runtime everybody
		// expects; declaring any runtime makes the list explicit.
		p.Runtimes = []profile.Runtime{defaultRuntime(p)}
	}
	l.decodeKubelet(one["kubelet"], p)
	p.Kubeadm = l.decodeComponent(one["kubeadm"], pins.Kubeadm, p.Node.Arch, true)
	p.Kubectl = l.decodeComponent(one["kubectl"], pins.Kubectl, p.Node.Arch, true)
	if !l.sandboxImageSet {
		p.Containerd.SandboxImage = SandboxImageFor(p.Containerd.Version, p.Kubelet.Version)
	}
	for _, blk := range byType["image"] {
		l.decodeImage(blk, p)
	}
	l.decodeVerify(one["verify"], p)
	for _, blk := range byType["file"] {
		l.decodeSiteFile(blk, p)
	}
	sort.SliceStable(p.SiteFiles, func(i, j int) bool { return p.SiteFiles[i].Path < p.SiteFiles[j].Path })
	p.Sensitive = l.sensitive
	p.Given = l.givenVars
	p.Read = l.reads
	return p
}

// blockAttrs checks a block's body against its schema and returns its
// attributes and nested blocks. Unknown attributes and blocks are errors.
func (l *loader) blockAttrs(blk *hcl.Block, schema *hcl.BodySchema) *hcl.BodyContent {
	content, diags := blk.Body.Content(schema)
	l.diags = append(l.diags, diags...)
	if content == nil {
		return &hcl.BodyContent{Attributes: hcl.Attributes{}}
	}
	return content
}

// unknownBlockTypes lists the block types at the top of body that the
// profile language does not have.
func unknownBlockTypes(body hcl.Body) []string {
	sb, ok := body.(*hclsyntax.Body)
	if !ok {
		return nil
	}
	known := map[string]bool{}
	for _, b := range rootSchema.Blocks {
		known[b.Type] = true
	}
	var out []string
	for _, b := range sb.Blocks {
		if !known[b.Type] {
			out = append(out, b.Type)
		}
	}
	return out
}

// misspelt reports whether one of names looks like a misspelling of want,
// by the measure HCL's own "Did you mean" suggestions use.
func misspelt(names []string, want string) bool {
	for _, n := range names {
		if levenshtein.Distance(n, want, nil) < 3 {
			return true
		}
	}
	return false
}

func attrSchema(names ...string) []hcl.AttributeSchema {
	out := make([]hcl.AttributeSchema, len(names))
	for i, n := range names {
		out[i] = hcl.AttributeSchema{Name: n}
	}
	return out
}

func joinKey(parts ...string) string { return strings.Join(parts, ".") }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
