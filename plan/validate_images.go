package plan

import (
	"github.com/nodeup/nodeup/node/images"
	"github.com/nodeup/nodeup/profile"
)

// validateImages checks the image blocks: a tagged reference, a pinned
// archive, and somewhere to fetch it from.
func (l *loader) validateImages(p *profile.Profile) {
	seen := map[string]profile.Image{}
	for _, im := range p.Images {
		key := joinKey("image", im.Name)
		nameAt := l.at(joinKey(key, "name"), im.DeclRange)
		if _, err := images.Normalize(im.Name); err != nil {
			l.errorf(nameAt, "Invalid image name", "image %s.", err)
		} else if prev, ok := seen[im.Ref]; ok {
			l.errorf(nameAt, "Duplicate image", "image %q is %s, which the image block at %s preloads already.", im.Name, im.Ref, prev.DeclRange)
		} else {
			seen[im.Ref] = im
		}
		switch {
		case l.failed[joinKey(key, "sha256")]:
		case im.SHA256 == "":
			l.errorf(im.DeclRange.Ptr(), "Missing sha256", "image %q needs the sha256 of its archive: sha256 = \"<64 hex digits>\" (sha256sum FILE.tar).", im.Name)
		case !sha256Pattern.MatchString(im.SHA256):
			l.errorf(l.at(joinKey(key, "sha256"), im.DeclRange), "Malformed sha256",
				"image %q: sha256 must be 64 lowercase hex digits; got %q (%d characters).", im.Name, im.SHA256, len(im.SHA256))
		}
		if im.URL != "" {
			l.checkURL(im.URL, l.at(joinKey(key, "url"), im.DeclRange), "image "+im.Name+" url")
		} else if len(p.Mirror.URLs) == 0 && !l.failed[joinKey(key, "url")] && im.Ref != "" {
			l.errorf(im.DeclRange.Ptr(), "Nowhere to fetch the image",
				"image %q has no url and the profile no mirror.urls; add a mirror that serves %s, or set url.", im.Name, im.MirrorPath)
		}
	}
	c := p.Containerd
	if c.DeclRange.Filename == "" || p.Mirror.Upstream || len(p.Images) == 0 {
		return
	}
	if sandbox, err := images.Normalize(c.SandboxImage); err == nil {
		if _, ok := seen[sandbox]; !ok {
			l.warnf(l.at("containerd.sandbox_image", c.DeclRange), "Sandbox image not preloaded",
				"This profile preloads images for a node without upstream access, but not the sandbox image %s; unless a registry serves it, no pod can start. Add an image %q block.", c.SandboxImage, c.SandboxImage)
		}
	}
}
