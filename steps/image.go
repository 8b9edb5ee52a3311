package steps

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/nodeup/nodeup/node/cri"
	"github.com/nodeup/nodeup/node/fetch"
	"github.com/nodeup/nodeup/node/host"
	"github.com/nodeup/nodeup/node/images"
	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/state"
)

// ImageID is the ID of the step that preloads an image.
func ImageID(ref string) string { return "image:" + ref }

// Image preloads an image into containerd's k8s.io namespace from an image
// archive (OCI layout or docker-archive tar), fetched like any artifact:
// from the mirrors, checked against its sha256, cached. The image is there
// when the CRI reports it under Ref with the image ID the archive gives it.
type Image struct {
	Ref        string   // normalized reference: registry.k8s.io/pause:3.10
	URL        string   // "" means MirrorPath on each mirror
	MirrorPath string   // images/<name>/<tag>.tar
	Mirrors    []string // mirror base URLs
	Upstream   bool     // whether URL itself may be tried
	SHA256     string   // of the archive
	Arch       string   // the platform chosen from a multi-platform archive
	Ctr        string   // node path of the ctr that imports
	Endpoint   string   // containerd's CRI endpoint: unix:///run/containerd/containerd.sock
	// Timeout bounds the wait for containerd's socket in an apply (it was
	// just started).
	Timeout time.Duration
}

func (i *Image) Kind() string { return "image" }
func (i *Image) Key() string  { return i.Ref }
func (i *Image) Describe() string {
	return fmt.Sprintf("image %s from archive sha256:%.12s into containerd (namespace %s)", i.Ref, i.SHA256, images.Namespace)
}

// Writes is empty: the image goes into containerd's store, through containerd.
func (i *Image) Writes() []string { return nil }

// Candidates lists where the archive is fetched from, in order.
func (i *Image) Candidates() []string {
	if i.URL != "" {
		return fetch.Candidates(i.Mirrors, i.URL, i.Upstream || strings.HasPrefix(i.URL, "file://"))
	}
	var out []string
	for _, m := range i.Mirrors {
		out = append(out, strings.TrimRight(m, "/")+"/"+i.MirrorPath)
	}
	return out
}

// LayoutPath is where a mirror, and so a bundle, serves the archive:
// MirrorPath, or the HOST/PATH of an http(s) URL (as Candidates asks each
// mirror). A file:// URL is a file on the node, which no mirror serves.
func (i *Image) LayoutPath() (string, error) {
	if i.URL == "" {
		return i.MirrorPath, nil
	}
	if strings.HasPrefix(i.URL, "file:") {
		return "", fmt.Errorf("image %s: url %s is a file on the node, which no mirror serves; remove url so that mirrors serve the archive at %s, or give an http(s) URL", i.Ref, i.URL, i.MirrorPath)
	}
	rel, err := fetch.LayoutPath(i.URL)
	if err != nil {
		return "", fmt.Errorf("image %s: %w", i.Ref, err)
	}
	return rel, nil
}

// checkDial bounds a plan's wait for containerd: a plan asks the runtime
// that is running, and says so when none answers.
const checkDial = 5 * time.Second

// Check asks containerd over CRI whether the image is there with the ID
// the pinned archive gives it: known from the record of the last import,
// else from the archive where it is in the download cache. With neither,
// an image under the reference may be any image: an apply fetches the
// archive to compare.
func (i *Image) Check(ctx context.Context, env *Env) (Change, error) {
	if !env.StartsThings() {
		return i.checkStaged(env)
	}
	sock, err := i.socket(env)
	if err != nil {
		return Change{}, err
	}
	if _, err := os.Stat(sock); err != nil {
		return Change{Action: Create, Reason: fmt.Sprintf("import %s once containerd runs", i.Ref)}, nil
	}
	client, err := i.dial(ctx, env, checkDial)
	if err != nil {
		return Change{Action: Create, Reason: fmt.Sprintf("import %s once containerd answers (%v)", i.Ref, err)}, nil
	}
	defer client.Close()
	have, err := imageID(ctx, client, i.Ref)
	if err != nil {
		return Change{}, err
	}
	want, _, err := i.pinnedID(env)
	if err != nil {
		return Change{}, err
	}
	return i.compare(have, want), nil
}

// compare says what an import would change, given the image ID containerd
// reports (have, "" if absent) and the pinned archive's (want, "" if not
// known without fetching it).
func (i *Image) compare(have, want string) Change {
	switch {
	case have == "":
		return Change{Action: Create, Reason: fmt.Sprintf("import %s from its archive (sha256 %.12s)", i.Ref, i.SHA256)}
	case want == "":
		return Change{Action: Update, Reason: fmt.Sprintf("import %s: containerd has %.19s, and whether its archive (sha256 %.12s) gives that image is known once it is fetched", i.Ref, have, i.SHA256)}
	case have != want:
		return Change{Action: Update, Reason: fmt.Sprintf("import %s: containerd has %.19s, the archive %.19s", i.Ref, have, want)}
	}
	return Change{Action: NoOp, Reason: fmt.Sprintf("%s present (%.19s, as in its archive)", i.Ref, have)}
}

// Apply imports the image from its archive unless containerd has it with
// the pinned archive's ID (fetching the archive when that ID is not known
// without it). What is imported is an archive of that image alone, named
// by Ref alone, whatever else the pinned archive names. It then checks that
// containerd reports the image, and records the archive's ID.
func (i *Image) Apply(ctx context.Context, env *Env) (Change, error) {
	// The import runs the node's ctr: never one from an image (--root).
	if !env.StartsThings() || !env.runsRootPrograms() {
		return i.stage(ctx, env)
	}
	client, err := i.dial(ctx, env, i.Timeout)
	if err != nil {
		return Change{}, fmt.Errorf("image %s: %w", i.Ref, err)
	}
	defer client.Close()
	have, err := imageID(ctx, client, i.Ref)
	if err != nil {
		return Change{}, err
	}
	known, recorded, err := i.pinnedID(env)
	if err != nil {
		return Change{}, err
	}
	if ch := i.compare(have, known); !ch.Changed() {
		if !recorded {
			i.record(env, known)
		}
		// Present already: an archive an image build staged is not needed.
		i.unstage(env)
		return ch, nil
	}
	archive, staged, err := i.archive(ctx, env)
	if err != nil {
		return Change{}, err
	}
	if staged {
		// Imported or found present, the staged archive has done its work.
		defer i.unstage(env)
	}
	one, want, err := i.writeOneImage(archive)
	if err != nil {
		return Change{}, err
	}
	defer os.Remove(one)
	ch := i.compare(have, want)
	if !ch.Changed() {
		i.record(env, want)
		return ch, nil
	}
	sock, err := i.socket(env)
	if err != nil {
		return Change{}, err
	}
	ctr, err := env.Host.Path(i.Ctr)
	if err != nil {
		return Change{}, err
	}
	importImage := env.ImportImage
	if importImage == nil {
		importImage = images.Import
	}
	if err := importImage(ctx, ctr, sock, one); err != nil {
		return Change{}, fmt.Errorf("import image %s: %w", i.Ref, err)
	}
	got, err := i.awaitImage(ctx, client, want)
	if err != nil {
		return Change{}, err
	}
	if got != want {
		return Change{}, fmt.Errorf("import image %s: containerd reports %q after the import, the archive holds %s; check containerd's log (journalctl -u containerd)", i.Ref, got, want)
	}
	i.record(env, want)
	return ch, nil
}

// stagedPath is where an image build leaves the archive for the boot.
func (i *Image) stagedPath() string {
	return paths.StagedImagesDir + "/" + strings.ToLower(i.SHA256) + ".tar"
}

// staged reports whether the archive is staged, checked against its sha256.
func (i *Image) staged(env *Env) (bool, error) {
	sum, err := env.Host.SHA256(i.stagedPath())
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, err
	}
	return strings.EqualFold(sum, i.SHA256), nil
}

// checkStaged is Check in an image build, which starts nothing: the
// archive is staged for the boot to import, or is to be.
func (i *Image) checkStaged(env *Env) (Change, error) {
	ok, err := i.staged(env)
	if err != nil {
		return Change{}, err
	}
	if ok {
		return Change{Action: NoOp, Reason: fmt.Sprintf("archive staged in %s, imported at boot once containerd runs", i.stagedPath())}, nil
	}
	return Change{Action: Create, Reason: fmt.Sprintf("stage the archive (sha256 %.12s) in %s, imported at boot once containerd runs", i.SHA256, paths.StagedImagesDir)}, nil
}

// stage is Apply in an image build: the archive is fetched now, while the
// build has its mirrors, and kept where the boot imports it from without
// them (and where cleaning the download cache leaves it).
func (i *Image) stage(ctx context.Context, env *Env) (Change, error) {
	ch, err := i.checkStaged(env)
	if err != nil || !ch.Changed() {
		return ch, err
	}
	archive, err := env.Fetcher.Fetch(ctx, i.Candidates(), i.SHA256)
	if err != nil {
		return Change{}, fmt.Errorf("download image %s: %w", i.Ref, err)
	}
	f, err := os.Open(archive)
	if err != nil {
		return Change{}, fmt.Errorf("image %s: %w", i.Ref, err)
	}
	defer f.Close()
	if err := env.Host.MkdirAll(paths.StagedImagesDir, 0o700); err != nil {
		return Change{}, fmt.Errorf("image %s: %w", i.Ref, err)
	}
	if err := env.Host.InstallFile(i.stagedPath(), f, 0o600); err != nil {
		return Change{}, fmt.Errorf("image %s: stage the archive: %w", i.Ref, err)
	}
	return ch, nil
}

// archive returns the archive's path on this machine: the one an image
// build staged (staged true), else fetched from the mirrors.
func (i *Image) archive(ctx context.Context, env *Env) (path string, staged bool, err error) {
	if ok, err := i.staged(env); err != nil {
		return "", false, fmt.Errorf("image %s: %w", i.Ref, err)
	} else if ok {
		p, err := env.Host.Path(i.stagedPath())
		return p, err == nil, err
	}
	path, err = env.Fetcher.Fetch(ctx, i.Candidates(), i.SHA256)
	if err != nil {
		return "", false, fmt.Errorf("download image %s: %w", i.Ref, err)
	}
	return path, false, nil
}

// unstage removes the staged archive once the boot no longer needs it.
func (i *Image) unstage(env *Env) {
	if err := env.Host.Remove(i.stagedPath()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		env.warnf("image %s: remove the staged archive %s: %v; remove it by hand", i.Ref, i.stagedPath(), err)
	}
}

func (i *Image) record(env *Env, id string) {
	if env.State != nil {
		env.State.RecordImage(i.Ref, state.Image{Archive: i.SHA256, Arch: i.Arch, ID: id})
	}
}

// writeOneImage writes, beside the cached archive, the archive of the
// image alone (see images.Image.WriteArchive), and returns its path and
// the ID it gives the image, read back from it.
func (i *Image) writeOneImage(archive string) (path, id string, err error) {
	im, err := i.archiveImage(archive)
	if err != nil {
		return "", "", err
	}
	dir, err := os.Open(filepath.Dir(archive))
	if err != nil {
		return "", "", err
	}
	defer dir.Close()
	f, name, err := host.TempIn(dir, "image-"+i.SHA256[:min(12, len(i.SHA256))])
	if err != nil {
		return "", "", fmt.Errorf("image %s: %w", i.Ref, err)
	}
	path = filepath.Join(dir.Name(), name)
	err = im.WriteArchive(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		id, err = i.ArchiveID(path)
	}
	if err == nil && id != im.ID {
		err = fmt.Errorf("image %s: the archive of it alone gives ID %s, its archive (sha256 %s) %s", i.Ref, id, i.SHA256, im.ID)
	}
	if err != nil {
		os.Remove(path)
		return "", "", err
	}
	return path, id, nil
}

// awaitImage waits, up to the step's timeout, for the CRI to report the
// image with ID want: the CRI learns of an import from containerd's events,
// a moment after ctr returns. It returns the ID last reported.
func (i *Image) awaitImage(ctx context.Context, client *cri.Client, want string) (string, error) {
	wctx, cancel := context.WithTimeout(ctx, i.Timeout)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var got string
	for {
		id, err := imageID(wctx, client, i.Ref)
		switch {
		case err != nil && wctx.Err() != nil && ctx.Err() == nil:
			return got, nil // waited long enough: the caller says what it saw
		case err != nil:
			return got, err
		}
		if got = id; got == want {
			return got, nil
		}
		select {
		case <-wctx.Done():
			return got, nil
		case <-tick.C:
		}
	}
}

// ArchiveID is the ID the archive at path gives the image, for the
// step's Arch; an archive that does not hold it is the profile's mistake.
func (i *Image) ArchiveID(path string) (string, error) {
	im, err := i.archiveImage(path)
	if err != nil {
		return "", err
	}
	return im.ID, nil
}

func (i *Image) archiveImage(path string) (*images.Image, error) {
	a, err := images.Open(path)
	if err == nil {
		var im *images.Image
		if im, err = a.Image(i.Ref, i.Arch); err == nil {
			return im, nil
		}
	}
	var notFound *images.NotFoundError
	switch {
	case errors.As(err, &notFound):
		return nil, fmt.Errorf("image %s: its archive (sha256 %s) holds %s; name the image block as the archive does, or fix its url and sha256 (%s)",
			i.Ref, i.SHA256, notFound.Held(), i.source())
	case errors.Is(err, images.ErrNotImage):
		return nil, fmt.Errorf("image %s: its archive (sha256 %s, %s) cannot be imported: %w; fix the archive, or the image block's url and sha256", i.Ref, i.SHA256, i.source(), err)
	}
	return nil, fmt.Errorf("image %s (sha256 %s): %w", i.Ref, i.SHA256, err)
}

// source is where the archive comes from, for messages (the archive's
// path is in the error of images).
func (i *Image) source() string {
	if i.URL != "" {
		return "url " + i.URL
	}
	return "served by each mirror at " + i.MirrorPath
}

// pinnedID is the ID the pinned archive gives the image where it is known
// without fetching the archive: from the record of an earlier import (or
// check) of this archive, which spares every plan reading it, else from
// the archive in the download cache. "" means unknown; recorded reports
// that the record has it.
func (i *Image) pinnedID(env *Env) (id string, recorded bool, err error) {
	if rec, ok := env.State.Image(i.Ref); ok && rec.Archive == i.SHA256 && rec.Arch == i.Arch && rec.ID != "" {
		return rec.ID, true, nil
	}
	if env.Fetcher != nil {
		p := env.Fetcher.CachePath(i.SHA256)
		if _, err := os.Stat(p); err == nil {
			id, err := i.ArchiveID(p)
			return id, false, err
		}
	}
	return "", false, nil
}

func (i *Image) socket(env *Env) (string, error) {
	sock, err := cri.SocketPath(i.Endpoint)
	if err != nil {
		return "", err
	}
	return env.Host.Path(sock)
}

func (i *Image) dial(ctx context.Context, env *Env, wait time.Duration) (*cri.Client, error) {
	dial := env.Dial
	if dial == nil {
		dial = cri.Dial
	}
	dctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	return dial(dctx, i.Endpoint)
}

// imageID is the ID the CRI reports for ref, "" when it has no such image.
func imageID(ctx context.Context, c *cri.Client, ref string) (string, error) {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := c.Images().ImageStatus(cctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: ref}})
	if err != nil {
		return "", fmt.Errorf("image %s: CRI ImageStatus at %s: %w", ref, c.Endpoint, err)
	}
	return resp.GetImage().GetId(), nil
}
