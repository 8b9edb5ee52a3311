package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nodeup/nodeup/node/host"
	"github.com/nodeup/nodeup/node/paths"
)

// An image build ends with cache clean: the image keeps what the bake
// installed, not the archives it came from.
func TestCacheClean(t *testing.T) {
	profile := testProfile(t)
	root := t.TempDir()
	if code, out, errs := nodeup(t, "apply", profile, "--root", root, "--phase", "bake"); code != 0 {
		t.Fatalf("bake: exit %d\n%s%s", code, out, errs)
	}
	cache := filepath.Join(root, paths.CacheDir)
	if got := dirNames(t, filepath.Join(cache, "sha256")); len(strings.Fields(got)) != 4 {
		t.Fatalf("cache after bake: %s", got)
	}

	// Not while another nodeup holds the node's lock.
	h, _ := host.New(root)
	release, err := h.Lock(context.Background(), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errs := nodeup(t, "cache", "clean", "--root", root)
	if code != 1 || !strings.Contains(errs, "holds /run/nodeup.lock; wait for it or pass --wait") {
		t.Errorf("clean under another's lock: exit %d\n%s%s", code, out, errs)
	}
	release()

	code, out, errs = nodeup(t, "cache", "clean", "--root", root)
	if code != 0 || !strings.Contains(out, "cache "+root+"/var/cache/nodeup: removed 4 files, ") {
		t.Errorf("clean: exit %d\n%s%s", code, out, errs)
	}
	if got := dirNames(t, cache); got != "" {
		t.Errorf("cache after clean: %s", got)
	}
	if _, err := os.Stat(filepath.Join(root, "usr/local/bin/containerd")); err != nil {
		t.Errorf("clean removed an installed file: %v", err)
	}
	if code, out, _ := nodeup(t, "cache", "clean", "--root", root); code != 0 || !strings.Contains(out, "removed 0 files, 0 B") {
		t.Errorf("second clean: exit %d %s", code, out)
	}

	// Another cache, such as bundle's.
	other := t.TempDir()
	os.MkdirAll(filepath.Join(other, "sha256"), 0o755)
	os.WriteFile(filepath.Join(other, "sha256", strings.Repeat("0", 64)), []byte("12345"), 0o644)
	if code, out, errs := nodeup(t, "cache", "clean", "--cache", other); code != 0 || !strings.Contains(out, "removed 1 files, 5 B") || dirNames(t, other) != "" {
		t.Errorf("clean --cache: exit %d\n%s%s", code, out, errs)
	}

	// A directory that is not a nodeup cache (a home directory) is refused
	// whole; a cache that is a link, even inside the root, is refused.
	home := t.TempDir()
	os.WriteFile(filepath.Join(home, ".profile"), []byte("x"), 0o644)
	if code, _, errs := nodeup(t, "cache", "clean", "--cache", home); code != 1 || !strings.Contains(errs, "does not look like a nodeup cache: it holds .profile") {
		t.Errorf("clean --cache of a home directory: exit %d %s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(home, ".profile")); err != nil {
		t.Errorf("clean emptied a home directory: %v", err)
	}
	os.RemoveAll(cache)
	os.Symlink("/", cache)
	if code, _, errs := nodeup(t, "cache", "clean", "--root", root); code != 1 || !strings.Contains(errs, "nodeup follows no link to its cache") {
		t.Errorf("clean of a cache linked to /: exit %d %s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(root, "usr/local/bin/containerd")); err != nil {
		t.Errorf("clean through a link removed the image: %v", err)
	}
	if code, _, errs := nodeup(t, "cache", "clean", "--cache", filepath.Join(other, "missing")); code != 1 || !strings.Contains(errs, "--cache: root") {
		t.Errorf("clean of a missing --cache: exit %d %s", code, errs)
	}
}
