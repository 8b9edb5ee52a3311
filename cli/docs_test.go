package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/nodeup/nodeup/profile"
)

// docFiles are the documents that ship with nodeup.
func docFiles(t *testing.T) []string {
	docs, _ := filepath.Glob("../docs/*.md")
	docs = append(docs, "../README.md", "../packaging/README.md")
	if len(docs) < 5 {
		t.Fatalf("only %d documents", len(docs))
	}
	return docs
}

var hclBlock = regexp.MustCompile("(?s)```hcl\n(.*?)```")

// requiredVars gives each variable of src without a default a value, as
// the reader of a documented profile would.
func requiredVars(t *testing.T, src string) []string {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "doc.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		return nil // validate reports it
	}
	var env []string
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		if b.Type == "variable" && len(b.Labels) == 1 && b.Body.Attributes["default"] == nil {
			env = append(env, "NODEUP_VAR_"+b.Labels[0]+"=example")
		}
	}
	return env
}

// Every profile in the documentation is valid, so the docs cannot drift
// from the language.
func TestDocumentedProfilesValidate(t *testing.T) {
	n := 0
	for _, doc := range docFiles(t) {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range hclBlock.FindAllStringSubmatch(string(b), -1) {
			n++
			p := filepath.Join(t.TempDir(), "profile.hcl")
			os.WriteFile(p, []byte(m[1]), 0o644)
			if code, out, errs := runEnv(t, requiredVars(t, m[1]), "validate", p); code != 0 {
				t.Errorf("%s, profile %d: exit %d\n%s%s\n%s", doc, i+1, code, out, errs, m[1])
			}
			if code, out, _ := run(t, "fmt", "-check", p); code != 0 {
				t.Errorf("%s, profile %d is not formatted (nodeup fmt):\n%s", doc, i+1, out)
			}
		}
	}
	if n < 10 {
		t.Errorf("only %d profiles in the docs", n)
	}
}

var mdLink = regexp.MustCompile(`\]\(([^)#]+)(#[^)]*)?\)`)

// The docs link only to what ships: files of the repository or web pages.
func TestDocumentLinks(t *testing.T) {
	for _, doc := range docFiles(t) {
		b, _ := os.ReadFile(doc)
		for _, m := range mdLink.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if strings.HasPrefix(target, "http://") || strings.HasPrefix(target, "https://") {
				continue
			}
			p := filepath.Join(filepath.Dir(doc), target)
			if rel, err := filepath.Rel("..", p); err != nil || strings.HasPrefix(rel, "..") {
				t.Errorf("%s links outside the repository: %s", doc, target)
				continue
			}
			if _, err := os.Stat(p); err != nil {
				t.Errorf("%s links to %s, which does not exist", doc, target)
			}
		}
	}
}

// docs/profile.md lists exactly the hypervisors nodeup renders, in the
// table's order: one table drives the code, the error message and the docs.
func TestDocumentedHypervisors(t *testing.T) {
	b, err := os.ReadFile("../docs/profile.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `hypervisor` \\|[^\\n]*\\): ([^;|]*)").FindSubmatch(b)
	if row == nil {
		t.Fatal("docs/profile.md has no hypervisor row")
	}
	var documented, table []string
	for _, m := range regexp.MustCompile("`([^`]+)`").FindAllSubmatch(row[1], -1) {
		documented = append(documented, string(m[1]))
	}
	for _, h := range profile.KataHypervisors() {
		table = append(table, h.Name)
	}
	if strings.Join(documented, " ") != strings.Join(table, " ") {
		t.Errorf("docs/profile.md lists\n  %s\nthe table has\n  %s", strings.Join(documented, " "), strings.Join(table, " "))
	}
}

// README's Layout lists every package of the module, one line each, and
// nothing that is not one.
func TestLayoutListsEveryPackage(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, layout, _ := strings.Cut(string(b), "## Layout")
	_, block, _ := strings.Cut(layout, "```\n")
	block, _, _ = strings.Cut(block, "```")
	listed := map[string]bool{}
	for _, line := range strings.Split(block, "\n") {
		if m := regexp.MustCompile(`^([a-z][a-z0-9/]*)`).FindString(line); m != "" {
			listed[strings.TrimSuffix(m, "/")] = true
		}
	}
	packages := map[string]bool{}
	err = filepath.WalkDir("..", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".") && p != "..") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") {
			packages[filepath.ToSlash(strings.TrimPrefix(filepath.Dir(p), "../"))] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p := range packages {
		if !listed[p] {
			t.Errorf("README's Layout does not list %s", p)
		}
	}
	for p := range listed {
		if !packages[p] {
			t.Errorf("README's Layout lists %s, which is not a package", p)
		}
	}
}
