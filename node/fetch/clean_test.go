package fetch

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nodeup/nodeup/node/host"
)

var (
	sumA = strings.Repeat("a", 64)
	sumB = strings.Repeat("b", 64)
)

func cleanHost(t *testing.T) (*host.Host, string) {
	t.Helper()
	root := t.TempDir()
	h, err := host.New(root)
	if err != nil {
		t.Fatal(err)
	}
	return h, root
}

func put(t *testing.T, real, content string) {
	t.Helper()
	os.MkdirAll(filepath.Dir(real), 0o755)
	if err := os.WriteFile(real, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCleanRemovesOnlyCacheEntries(t *testing.T) {
	h, root := cleanHost(t)
	cache := filepath.Join(root, "var/cache/nodeup")
	put(t, filepath.Join(cache, "sha256", sumA), "12345")
	put(t, filepath.Join(cache, "sha256", host.TempPrefix+sumA+"-0123"), "12")
	c, err := Clean(h, "/var/cache/nodeup")
	if err != nil || c != (Cleaned{Files: 2, Bytes: 7}) {
		t.Fatalf("clean: %+v, %v", c, err)
	}
	if es, _ := os.ReadDir(cache); len(es) != 0 {
		t.Errorf("left %v", es)
	}
	if c, err := Clean(h, "/var/cache/nodeup"); err != nil || c != (Cleaned{}) {
		t.Errorf("second clean: %+v, %v", c, err)
	}
	if c, err := Clean(h, "/var/cache/missing"); err != nil || c != (Cleaned{}) {
		t.Errorf("missing cache: %+v, %v", c, err)
	}
}

// Whatever is not a cache entry, anywhere in the directory, makes it not
// a cache: nothing at all is removed, and the error names what was found.
func TestCleanRefusesWhatIsNotACache(t *testing.T) {
	for name, setup := range map[string]func(cache string){
		"a home directory": func(c string) { put(t, filepath.Join(c, ".bashrc"), "x") },
		"an image's root": func(c string) {
			os.MkdirAll(filepath.Join(c, "etc"), 0o755)
			os.MkdirAll(filepath.Join(c, "sha256"), 0o755)
		},
		"a foreign name in sha256": func(c string) { put(t, filepath.Join(c, "sha256", "notes.txt"), "x") },
		"a directory in sha256":    func(c string) { os.MkdirAll(filepath.Join(c, "sha256", sumA), 0o755) },
		"a symlink in sha256": func(c string) {
			os.MkdirAll(filepath.Join(c, "sha256"), 0o755)
			os.Symlink("/etc/passwd", filepath.Join(c, "sha256", sumA))
		},
		"sha256 a symlink":    func(c string) { os.Symlink("/etc", filepath.Join(c, "sha256")) },
		"a newline in a name": func(c string) { put(t, filepath.Join(c, "a\nb"), "x") },
	} {
		t.Run(name, func(t *testing.T) {
			h, root := cleanHost(t)
			cache := filepath.Join(root, "var/cache/nodeup")
			os.MkdirAll(cache, 0o755)
			if name != "sha256 a symlink" {
				os.MkdirAll(filepath.Join(cache, "sha256"), 0o755)
			}
			setup(cache)
			sentinel := filepath.Join(cache, "sha256", sumB)
			if fi, err := os.Lstat(filepath.Dir(sentinel)); err == nil && fi.IsDir() {
				put(t, sentinel, "12345")
			} else {
				sentinel = filepath.Join(cache, "sha256")
			}
			_, err := Clean(h, "/var/cache/nodeup")
			if !errors.Is(err, ErrNotACache) || !strings.Contains(err.Error(), "it does not look like a nodeup cache: it holds ") ||
				!strings.Contains(err.Error(), "nothing was removed") || strings.Contains(err.Error(), "\n") {
				t.Errorf("got %v", err)
			}
			if _, err := os.Lstat(sentinel); err != nil {
				t.Errorf("removed an entry of a refused directory: %v", err)
			}
		})
	}
}

// A link anywhere on the way to the cache, inside the root or out of it,
// is refused: the cache is reached only as nodeup made it.
func TestCleanFollowsNoLink(t *testing.T) {
	for name, link := range map[string]struct{ at, to string }{
		"the cache to /":           {"var/cache/nodeup", "/"},
		"the cache to ..":          {"var/cache/nodeup", "../.."},
		"a parent inside the root": {"var/cache", "/srv"},
	} {
		t.Run(name, func(t *testing.T) {
			h, root := cleanHost(t)
			put(t, filepath.Join(root, "srv/nodeup/sha256", sumA), "12345")
			put(t, filepath.Join(root, "sha256", sumA), "12345")
			os.MkdirAll(filepath.Dir(filepath.Join(root, link.at)), 0o755)
			if err := os.Symlink(link.to, filepath.Join(root, link.at)); err != nil {
				t.Fatal(err)
			}
			_, err := Clean(h, "/var/cache/nodeup")
			if err == nil || !strings.Contains(err.Error(), "nodeup follows no link to its cache") {
				t.Errorf("got %v", err)
			}
			for _, p := range []string{"srv/nodeup/sha256/" + sumA, "sha256/" + sumA} {
				if _, err := os.Stat(filepath.Join(root, p)); err != nil {
					t.Errorf("%s removed: %v", p, err)
				}
			}
		})
	}
}
