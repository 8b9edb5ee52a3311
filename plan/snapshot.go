package plan

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2/hclwrite"

	"github.com/nodeup/nodeup/profile"
)

// GivenVarsFile is the variables file of a snapshot: the values the profile
// was given from outside, read back by Load as one of the directory's
// *.auto.vars.hcl files.
const GivenVarsFile = "nodeup" + AutoVarsSuffix

// SnapshotFile is one file of a profile snapshot: a slash path relative to
// the profile directory, and what it holds.
type SnapshotFile struct {
	Rel  string
	Data []byte
	Mode fs.FileMode
	// Sensitive: the file holds a sensitive value (the values given for
	// sensitive variables, a file that spells one out), so nothing
	// world-readable may carry its sha256.
	Sensitive bool
}

// Snapshot returns the files that carry profile p whole to another machine
// as a profile directory: its *.hcl files, the files its file() calls read
// (at the same paths relative to the profile), and GivenVarsFile with the
// values it was given from outside. Loading that directory with no flags
// gives the same profile. Every file is 0600: variables may be sensitive.
//
// It fails, naming the file, when the directory cannot hold what file()
// read: an absolute path (it would name a path of this machine), a file
// outside the profile's directory, or a top-level *.hcl file that a profile
// directory would read as part of the profile.
func Snapshot(p *profile.Profile) ([]SnapshotFile, error) {
	if len(p.Files) == 0 {
		return nil, fmt.Errorf("the profile has no files")
	}
	base, err := filepath.Abs(filepath.Dir(p.Files[0]))
	if err != nil {
		return nil, err
	}
	var out []SnapshotFile
	seen := map[string]bool{}
	add := func(rel string, data []byte) {
		seen[rel] = true
		sensitive := false
		for _, v := range p.Sensitive {
			for _, form := range Spellings(v) {
				sensitive = sensitive || bytes.Contains(data, []byte(form))
			}
		}
		out = append(out, SnapshotFile{Rel: rel, Data: data, Mode: 0o600, Sensitive: sensitive})
	}
	for _, f := range p.Files {
		name := filepath.Base(f)
		if strings.HasSuffix(name, AutoVarsSuffix) {
			return nil, fmt.Errorf("%s: a profile file named *%s would be read as variables in a profile directory; rename it", f, AutoVarsSuffix)
		}
		b, err := ReadFile(f)
		if err != nil {
			return nil, err
		}
		add(name, b)
	}
	for _, r := range p.Read {
		rel, err := filepath.Rel(base, r.Path)
		if filepath.IsAbs(r.Arg) || err != nil || !filepath.IsLocal(rel) {
			hint := "copy it into " + base + " and read it with a path relative to the profile"
			if err == nil && filepath.IsLocal(rel) {
				hint = fmt.Sprintf("write file(%q) instead", filepath.ToSlash(rel))
			}
			return nil, fmt.Errorf("%s: file(%q) reads %s, which the profile cannot carry to another machine: %s", p.Files[0], r.Arg, r.Path, hint)
		}
		rel = filepath.ToSlash(rel)
		if seen[rel] {
			continue
		}
		if !strings.Contains(rel, "/") && strings.HasSuffix(rel, ".hcl") {
			return nil, fmt.Errorf("%s: file(%q) reads a *.hcl file beside the profile; in a profile directory it would be read as part of the profile: move it to a subdirectory, or rename it", p.Files[0], r.Arg)
		}
		b, err := readBelow(base, filepath.FromSlash(rel))
		if err != nil {
			return nil, err
		}
		add(rel, b)
	}
	if len(p.Given) > 0 {
		if seen[GivenVarsFile] {
			return nil, fmt.Errorf("%s: the profile reads a file named %s, where its variables go; rename it", p.Files[0], GivenVarsFile)
		}
		add(GivenVarsFile, GivenVars(p.Given))
		for _, v := range p.Given {
			out[len(out)-1].Sensitive = out[len(out)-1].Sensitive || v.Sensitive
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Rel < out[j].Rel })
	return out, nil
}

// GivenVars renders variable values as a variables file (NAME = VALUE).
func GivenVars(vars []profile.GivenVar) []byte {
	f := hclwrite.NewEmptyFile()
	body := f.Body()
	for _, v := range vars {
		val, _ := v.Value.UnmarkDeep()
		body.SetAttributeValue(v.Name, val)
	}
	var b bytes.Buffer
	b.WriteString("# The values this profile was given (NODEUP_VAR_*, --var-file, --var); nodeup\n" +
		"# reads every *" + AutoVarsSuffix + " file of a profile directory before --var-file and --var.\n")
	b.Write(hclwrite.Format(f.Bytes()))
	return b.Bytes()
}

// SnapshotDirs lists the directories a snapshot's files need below the
// profile directory, parents first.
func SnapshotDirs(files []SnapshotFile) []string {
	set := map[string]bool{}
	for _, f := range files {
		for d := path.Dir(f.Rel); d != "."; d = path.Dir(d) {
			set[d] = true
		}
	}
	dirs := make([]string, 0, len(set))
	for d := range set {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	return dirs
}
