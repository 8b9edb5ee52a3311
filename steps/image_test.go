package steps_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/nodeup/nodeup/node/cri/critest"
	"github.com/nodeup/nodeup/node/images"
	"github.com/nodeup/nodeup/node/images/imagestest"
	"github.com/nodeup/nodeup/state"
	"github.com/nodeup/nodeup/steps"
	"github.com/nodeup/nodeup/steps/stepstest"
)

// imageNode is a node with systemd running, a fake CRI with an image
// store, and an importer that reads the archive as ctr would: every image
// the archive names is created (or moved) under that name.
func imageNode(t *testing.T) (*stepstest.Node, *critest.Images) {
	n := stepstest.NewNode(t)
	n.Online()
	store := &critest.Images{}
	sock := critest.Serve(t, &critest.Runtime{Handlers: []string{"runc"}, CgroupDriver: runtimeapi.CgroupDriver_SYSTEMD, Images: store})
	dials := 0
	n.Env.Dial = stepstest.DialTo(sock, &dials)
	// The endpoint's socket on the node, which Check looks for.
	n.Write("/run/containerd/containerd.sock", "", 0o644)
	n.Env.ImportImage = func(_ context.Context, ctr, socket, archive string) error {
		if ctr != n.Real("/usr/local/bin/ctr") || socket != n.Real("/run/containerd/containerd.sock") {
			t.Errorf("import with ctr %s at %s", ctr, socket)
		}
		a, err := images.Open(archive)
		if err != nil {
			return err
		}
		for _, ref := range a.Names() {
			im, err := a.Image(ref, "amd64")
			if err != nil {
				return err
			}
			store.Add(ref, im.ID)
		}
		return nil
	}
	return n, store
}

func TestImageStep(t *testing.T) {
	n, store := imageNode(t)
	m := stepstest.NewMirror(t)
	pause := imagestest.Image{Name: "registry.k8s.io/pause:3.10", Entrypoint: []string{"/pause"}, Files: map[string]imagestest.File{"pause": {Content: []byte("x")}}}
	var archive bytes.Buffer
	id := pause.OCI(&archive)
	sum := m.Put(images.MirrorPath("registry.k8s.io/pause:3.10"), archive.Bytes())
	im := &steps.Image{
		Ref: "registry.k8s.io/pause:3.10", MirrorPath: images.MirrorPath("registry.k8s.io/pause:3.10"),
		Mirrors: []string{m.URL}, SHA256: sum, Arch: "amd64", Ctr: "/usr/local/bin/ctr",
		Endpoint: "unix:///run/containerd/containerd.sock", Timeout: 5 * time.Second,
	}

	if ch := n.CheckApply(im, false); ch.Action != steps.Create {
		t.Errorf("plan of an absent image: %+v", ch)
	}
	if store.Has(im.Ref) {
		t.Fatal("plan imported the image")
	}
	if ch := n.CheckApply(im, true); ch.Action != steps.Create || !store.Has(im.Ref) {
		t.Fatalf("apply: %+v, present %v", ch, store.Has(im.Ref))
	}
	requests := m.Requests()
	if ch := n.CheckApply(im, false); ch.Action != steps.NoOp || !strings.Contains(ch.Reason, "as in its archive") {
		t.Errorf("plan after the import: %+v", ch)
	}
	if ch := n.CheckApply(im, true); ch.Action != steps.NoOp || m.Requests() != requests {
		t.Errorf("second apply: %+v, %d more downloads", ch, m.Requests()-requests)
	}
	// Without the record, the cached archive says which image is pinned.
	n.Env.State = state.New()
	if ch := n.CheckApply(im, false); ch.Action != steps.NoOp {
		t.Errorf("plan with the archive cached but no record: %+v", ch)
	}

	// Another image under the name: the archive's is imported again.
	store.Add(im.Ref, "sha256:0000000000000000000000000000000000000000000000000000000000000000")
	if ch := n.CheckApply(im, false); ch.Action != steps.Update || !strings.Contains(ch.Reason, "containerd has sha256:000000000000, the archive "+id[:19]) {
		t.Errorf("plan of a replaced image: %+v", ch)
	}
	if ch := n.CheckApply(im, true); ch.Action != steps.Update {
		t.Errorf("apply over a replaced image: %+v", ch)
	}

	// The CRI learns of an image a moment after it is imported: the step
	// waits for it (here it sees nothing at first, then the import).
	store.Lag = 3
	store.Add(im.Ref, "sha256:0000000000000000000000000000000000000000000000000000000000000000")
	store.Lag = 0
	if ch := n.CheckApply(im, true); ch.Action != steps.Create {
		t.Errorf("apply while the CRI lags: %+v", ch)
	}
}

// An image build (--phase bake) starts nothing, so the boot imports the
// image: the build fetches the archive while it has its mirrors and stages
// it in nodeup's state, where cleaning the download cache leaves it; the
// boot imports it without a mirror and removes it.
func TestImageStepBakeThenBoot(t *testing.T) {
	n, store := imageNode(t)
	m := stepstest.NewMirror(t)
	pause := imagestest.Image{Name: "registry.k8s.io/pause:3.10", Entrypoint: []string{"/pause"}, Files: map[string]imagestest.File{"pause": {Content: []byte("x")}}}
	var archive bytes.Buffer
	pause.OCI(&archive)
	sum := m.Put(images.MirrorPath("registry.k8s.io/pause:3.10"), archive.Bytes())
	im := &steps.Image{
		Ref: "registry.k8s.io/pause:3.10", MirrorPath: images.MirrorPath("registry.k8s.io/pause:3.10"),
		Mirrors: []string{m.URL}, SHA256: sum, Arch: "amd64", Ctr: "/usr/local/bin/ctr",
		Endpoint: "unix:///run/containerd/containerd.sock", Timeout: 5 * time.Second,
	}
	staged := "/var/lib/nodeup/images/" + sum + ".tar"

	n.Env.Phase = steps.PhaseBake
	if ch := n.CheckApply(im, false); ch.Action != steps.Create || !strings.Contains(ch.Reason, "stage the archive") {
		t.Errorf("plan of the bake: %+v", ch)
	}
	if ch := n.CheckApply(im, true); ch.Action != steps.Create || store.Has(im.Ref) {
		t.Fatalf("bake: %+v, imported %v", ch, store.Has(im.Ref))
	}
	if fi, err := os.Stat(n.Real(staged)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the staged archive: %v %v", fi, err)
	}
	if ch := n.CheckApply(im, true); ch.Action != steps.NoOp {
		t.Errorf("second bake: %+v", ch)
	}
	// The image build empties the download cache and leaves its mirrors.
	if err := os.RemoveAll(n.Env.Fetcher.CacheDir); err != nil {
		t.Fatal(err)
	}
	im.Mirrors = []string{"http://127.0.0.1:1/gone"}

	n.Env.Phase = steps.PhaseAll
	if ch := n.CheckApply(im, true); ch.Action != steps.Create || !store.Has(im.Ref) {
		t.Fatalf("boot: %+v, imported %v", ch, store.Has(im.Ref))
	}
	if n.Exists(staged) {
		t.Error("the boot left the staged archive")
	}
	if ch := n.CheckApply(im, false); ch.Action != steps.NoOp {
		t.Errorf("plan after the boot: %+v", ch)
	}

	// A staged archive of an image the node has already is not left behind.
	n.Write(staged, archive.String(), 0o600)
	if ch := n.CheckApply(im, true); ch.Action != steps.NoOp || n.Exists(staged) {
		t.Errorf("apply with the image present and its archive staged: %+v, staged left %v", ch, n.Exists(staged))
	}
}

func TestImageStepArchiveWithoutTheImage(t *testing.T) {
	n, store := imageNode(t)
	m := stepstest.NewMirror(t)
	other := imagestest.Image{Name: "docker.io/library/busybox:1.36", Files: map[string]imagestest.File{"x": {Content: []byte("x")}}}
	var archive bytes.Buffer
	other.Docker(&archive)
	path := images.MirrorPath("registry.k8s.io/pause:3.10")
	im := &steps.Image{
		Ref: "registry.k8s.io/pause:3.10", MirrorPath: path, Mirrors: []string{m.URL}, SHA256: m.Put(path, archive.Bytes()),
		Arch: "amd64", Ctr: "/usr/local/bin/ctr", Endpoint: "unix:///run/containerd/containerd.sock", Timeout: 5 * time.Second,
	}
	_, err := stepstest.Do(n.Env, im, true)
	if err == nil || !strings.Contains(err.Error(), "holds docker.io/library/busybox:1.36; name the image block as the archive does, or fix its url and sha256 (served by each mirror at images/registry.k8s.io/pause/3.10.tar)") {
		t.Errorf("apply: %v", err)
	}
	if store.Has("docker.io/library/busybox:1.36") {
		t.Error("an archive without the image was imported")
	}

	// A failing ctr fails the step with its own words.
	good := imagestest.Image{Name: im.Ref, Files: map[string]imagestest.File{"x": {Content: []byte("y")}}}
	archive.Reset()
	good.OCI(&archive)
	im.SHA256 = m.Put(path, archive.Bytes())
	n.Env.ImportImage = func(context.Context, string, string, string) error {
		return &images.ImportError{Ctr: "ctr", Archive: "a.tar", Err: errors.New("exit status 1"), Output: "ctr: content digest not found"}
	}
	if _, err := stepstest.Do(n.Env, im, true); err == nil || !strings.Contains(err.Error(), "import image registry.k8s.io/pause:3.10: ctr images import a.tar: exit status 1: ctr: content digest not found") {
		t.Errorf("failing ctr: %v", err)
	}
}

// imageStep is the step for ref whose archive, served by mirror m, is b.
func imageStep(m *stepstest.Mirror, ref string, b []byte) *steps.Image {
	path := images.MirrorPath(ref)
	return &steps.Image{
		Ref: ref, MirrorPath: path, Mirrors: []string{m.URL}, SHA256: m.Put(path, b),
		Arch: "amd64", Ctr: "/usr/local/bin/ctr", Endpoint: "unix:///run/containerd/containerd.sock", Timeout: 5 * time.Second,
	}
}

// An archive pinned for one image that also names another imports the
// one: the other name keeps its image.
func TestImageStepImportsOnlyItsImage(t *testing.T) {
	box := imagestest.Image{Name: "busybox:1.36", Files: map[string]imagestest.File{"bin/sh": {Content: []byte("sh")}}}
	pause := imagestest.Image{Name: "registry.k8s.io/pause:3.10", Files: map[string]imagestest.File{"pause": {Content: []byte("evil")}}}
	const pauseID = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	for format, write := range map[string]func(io.Writer, ...imagestest.Image) []string{"oci": imagestest.OCI, "docker-archive": imagestest.Docker} {
		t.Run(format, func(t *testing.T) {
			n, store := imageNode(t)
			store.Add("registry.k8s.io/pause:3.10", pauseID)
			var archive bytes.Buffer
			ids := write(&archive, pause, box)
			im := imageStep(stepstest.NewMirror(t), "docker.io/library/busybox:1.36", archive.Bytes())
			if ch := n.CheckApply(im, true); ch.Action != steps.Create {
				t.Fatalf("apply: %+v", ch)
			}
			if got := store.ID("docker.io/library/busybox:1.36"); got != ids[1] {
				t.Errorf("busybox is %s, want %s", got, ids[1])
			}
			if got := store.ID("registry.k8s.io/pause:3.10"); got != pauseID {
				t.Errorf("the archive's other image replaced pause: %s", got)
			}
			// The one-image archive imported is gone; the cache keeps the pinned one.
			entries, _ := os.ReadDir(filepath.Dir(n.Env.Fetcher.CachePath(im.SHA256)))
			if len(entries) != 1 || entries[0].Name() != im.SHA256 {
				t.Errorf("cache holds %v", entries)
			}
		})
	}
}

// Without the archive in the cache, an image under the reference is not
// taken for the pinned one: the plan says import, the apply fetches and
// compares, and records the archive's ID for the plans after it.
func TestImageStepChecksThePinWithoutTheArchive(t *testing.T) {
	n, store := imageNode(t)
	imports := 0
	fake := n.Env.ImportImage
	n.Env.ImportImage = func(ctx context.Context, ctr, socket, archive string) error {
		imports++
		return fake(ctx, ctr, socket, archive)
	}
	m := stepstest.NewMirror(t)
	pause := imagestest.Image{Name: "registry.k8s.io/pause:3.10", Files: map[string]imagestest.File{"pause": {Content: []byte("x")}}}
	var archive bytes.Buffer
	id := pause.OCI(&archive)
	im := imageStep(m, "registry.k8s.io/pause:3.10", archive.Bytes())
	const other = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	store.Add(im.Ref, other)

	if ch := n.CheckApply(im, false); ch.Action != steps.Update || !strings.Contains(ch.Reason, "known once it is fetched") {
		t.Errorf("plan of another image under the reference, no archive cached: %+v", ch)
	}
	if m.Requests() != 0 {
		t.Error("plan downloaded the archive")
	}
	if ch := n.CheckApply(im, true); ch.Action != steps.Update || store.ID(im.Ref) != id || imports != 1 {
		t.Fatalf("apply: %+v, %s, %d imports", ch, store.ID(im.Ref), imports)
	}
	uncache := func() {
		t.Helper()
		if err := os.Remove(n.Env.Fetcher.CachePath(im.SHA256)); err != nil {
			t.Fatal(err)
		}
	}
	uncache()
	if ch := n.CheckApply(im, false); ch.Action != steps.NoOp {
		t.Errorf("plan after the import, the archive no longer cached: %+v", ch)
	}
	store.Add(im.Ref, other)
	if ch := n.CheckApply(im, false); ch.Action != steps.Update || !strings.Contains(ch.Reason, "the archive "+id[:19]) {
		t.Errorf("plan after the image was replaced: %+v", ch)
	}

	// The pinned image is there, but nothing says so: the apply fetches,
	// finds it and imports nothing; the record then says so.
	fresh, _ := imageNode(t)
	fresh.Env.Dial = n.Env.Dial
	fresh.Env.ImportImage = n.Env.ImportImage
	store.Add(im.Ref, id)
	if ch := fresh.CheckApply(im, false); ch.Action != steps.Update {
		t.Errorf("plan with no record and no archive: %+v", ch)
	}
	requests := m.Requests()
	if ch := fresh.CheckApply(im, true); ch.Action != steps.NoOp || imports != 1 || m.Requests() != requests+1 {
		t.Errorf("apply: %+v, %d imports, %d downloads", ch, imports, m.Requests()-requests)
	}
	if err := os.Remove(fresh.Env.Fetcher.CachePath(im.SHA256)); err != nil {
		t.Fatal(err)
	}
	if ch := fresh.CheckApply(im, false); ch.Action != steps.NoOp {
		t.Errorf("plan after the apply that found the image: %+v", ch)
	}

	// A record of another archive says nothing about this one.
	other2 := *im
	other2.SHA256 = strings.Repeat("e", 64)
	if ch := fresh.CheckApply(&other2, false); ch.Action != steps.Update {
		t.Errorf("plan of a re-pinned archive: %+v", ch)
	}
}
