package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
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
			if code, out, errs := run(t, "validate", p); code != 0 {
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
