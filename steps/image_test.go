package steps_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/nodeup/nodeup/node/cri/critest"
	"github.com/nodeup/nodeup/node/images"
	"github.com/nodeup/nodeup/node/images/imagestest"
	"github.com/nodeup/nodeup/steps"
	"github.com/nodeup/nodeup/steps/stepstest"
)

// imageNode is a node with systemd running, a fake CRI with an image
// store, and an importer that reads the archive as ctr would.
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
		a, err := images.Inspect(archive, "amd64")
		if err != nil {
			return err
		}
		for ref, id := range a.Images {
			store.Add(ref, id)
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

	// Bake: nothing runs, so the image waits for the boot.
	n.Env.Phase = steps.PhaseBake
	if ch := n.CheckApply(im, true); ch.Action != steps.Skip {
		t.Errorf("bake: %+v", ch)
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
	if err == nil || !strings.Contains(err.Error(), "holds docker.io/library/busybox:1.36; name the image block as the archive does") {
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
