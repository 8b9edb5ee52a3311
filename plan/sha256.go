package plan

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/nodeup/nodeup/profile"
)

// archSums is an artifact block's sha256 as written. A string is the sum
// of one file, so of one architecture's: the profile's, when it is loaded
// for one architecture only. An object holds one sum per architecture.
type archSums struct {
	written bool
	one     string            // sha256 = "..."
	byArch  map[string]string // sha256 = { amd64 = "...", arm64 = "..." }
	at      hcl.Range         // the attribute
	keyAt   map[string]hcl.Range
	// url is the block's url as written ("" for the upstream release),
	// before {arch} is replaced.
	url string
}

func (s archSums) perArch() bool { return s.byArch != nil }

// forArch is the sum written for arch; "" when there is none.
func (s archSums) forArch(arch string) string {
	if s.perArch() {
		return s.byArch[arch]
	}
	return s.one
}

// sumAt is where arch's sum was written: its key in an object, else the
// attribute.
func (s archSums) sumAt(arch string) *hcl.Range {
	if r, ok := s.keyAt[arch]; ok {
		return &r
	}
	r := s.at
	return &r
}

// arches lists the architectures a sum was written for; a string is
// arch's, the one the profile is loaded for.
func (s archSums) arches(arch string) []string {
	if s.perArch() {
		return sortedKeys(s.byArch)
	}
	if s.one != "" {
		return []string{arch}
	}
	return nil
}

// sumHint is how to write a sum for the loaded architectures.
func sumHint(loaded []string) string {
	if len(loaded) < 2 {
		return `"<64 hex digits>"`
	}
	var pairs []string
	for _, a := range loaded {
		pairs = append(pairs, a+` = "<64 hex digits>"`)
	}
	return "{ " + strings.Join(pairs, ", ") + " }"
}

// loadedArches are the architectures the profile is loaded for, one load
// each: Options.Arches (a bundle's), else node.arch alone. A profile that
// writes node.arch is for that architecture only (a bundle refuses the
// others).
func (l *loader) loadedArches(arch string) []string {
	if len(l.opts.Arches) == 0 || l.written("node.arch") {
		return []string{arch}
	}
	return slices.Compact(slices.Sorted(slices.Values(l.opts.Arches)))
}

// decodeSHA256 decodes the sha256 attribute of artifact block name: a
// string, or an object of one sum per architecture, each checked here so
// that a bad one is reported at its own key.
func (l *loader) decodeSHA256(a attrs, name string) archSums {
	s := archSums{}
	r := a.rangeOf("sha256")
	if r == nil {
		return s
	}
	s.written, s.at = true, *r
	v, ok := a.value("sha256", cty.DynamicPseudoType)
	if !ok {
		return s
	}
	key := name + ".sha256"
	if !v.Type().IsObjectType() && !v.Type().IsMapType() {
		sv, err := convert.Convert(v, cty.String)
		if err != nil {
			l.failed[key] = true
			l.errorf(r, "Incorrect attribute value type",
				"%s.sha256 must be a string, or one string per architecture: sha256 = %s.", name, sumHint(profile.Arches()))
			return s
		}
		s.one = sv.AsString()
		return s
	}
	s.keyAt = a.keyRanges("sha256")
	byArch := map[string]string{}
	bad := false
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		arch := k.AsString()
		at := s.sumAt(arch)
		if !oneOf(arch, profile.Arches()...) {
			l.errorf(at, "Unknown architecture",
				"%s.sha256 gives a sum for %q, but nodeup installs %s nodes: name one of them, or remove the sum.", name, arch, strings.Join(profile.Arches(), " and "))
			bad = true
			continue
		}
		sv, err := convert.Convert(e, cty.String)
		if err != nil || sv.IsNull() {
			l.errorf(at, "Incorrect attribute value type", "%s.sha256.%s must be a string of 64 lowercase hex digits.", name, arch)
			bad = true
			continue
		}
		sum := sv.AsString()
		if !sha256Pattern.MatchString(sum) {
			l.errorf(at, "Malformed sha256",
				"%s.sha256.%s must be 64 lowercase hex digits; got %q (%d characters).", name, arch, sum, len(sum))
			bad = true
			continue
		}
		byArch[arch] = sum
	}
	arches := sortedKeys(byArch)
	for i, a := range arches {
		for _, b := range arches[i+1:] {
			if byArch[a] == byArch[b] && !bad {
				l.errorf(r, "One sha256 for two architectures",
					"%s.sha256 gives %s and %s the same sum, but one file cannot hold both architectures' binaries: give each the sha256 of its own file.", name, a, b)
				bad = true
			}
		}
	}
	if bad {
		l.failed[key] = true
		return s
	}
	s.byArch = byArch
	return s
}

// validateSums holds the rules of an artifact's sums across architectures
// (c is block name's, of pin table component key): no sum serves two
// architectures, each loaded architecture has its own, and one that is not
// nodeup's pin for the same file is said. It reports whether it found an
// error.
func (l *loader) validateSums(p *profile.Profile, name, key string, c *profile.Component) bool {
	s, arch := l.sums[name], p.Node.Arch
	if !s.written || l.failed[name+".sha256"] || l.failed[name+".url"] {
		return false
	}
	loaded := l.loadedArches(arch)
	switch {
	case !s.perArch() && s.one != "" && len(loaded) > 1:
		l.errorf(&s.at, "One sha256 for several architectures",
			"%s.sha256 is the sum of one file, so of one architecture's, and the profile is loaded for %s: no architecture may get another's file. Give each its own sum: sha256 = %s (one left out takes nodeup's pin, where it has one).",
			name, strings.Join(loaded, " and "), sumHint(loaded))
		return true
	case s.perArch() && c.SHA256 == "":
		why := fmt.Sprintf("nodeup pins no %s %s for %s", name, c.Version, arch)
		if s.url != "" {
			why = fmt.Sprintf("%s.url is not the upstream release, so nodeup cannot know it", name)
		}
		l.errorf(&s.at, "No sha256 for "+arch,
			"%s.sha256 gives no sum for %s, and %s: add %s = \"<64 hex digits>\", the sha256 of the %s file.", name, arch, why, arch, arch)
		return true
	case len(s.byArch) > 1 && s.url != "" && !strings.Contains(s.url, profile.ArchPlaceholder):
		l.errorf(l.at(name+".url", c.DeclRange), "One url for several architectures",
			"%s.url names one file, but %s.sha256 gives %s their own sums: write %s in the url where the architecture goes, or keep the sum of the one architecture the url serves.",
			name, name, strings.Join(sortedKeys(s.byArch), " and "), profile.ArchPlaceholder)
		return true
	}
	failed := false
	for _, a := range s.arches(arch) {
		sum := s.forArch(a)
		if !sha256Pattern.MatchString(sum) {
			continue // reported as malformed
		}
		if other := l.pinnedFor(key, c.Version, sum); other != "" && other != a {
			l.errorf(s.sumAt(a), "sha256 of another architecture",
				"%s.sha256 for %s is nodeup's pinned sum of %s %s for %s: an %s node would install %s binaries. Give %s the sha256 of its own file.",
				name, a, name, c.Version, other, a, other, a)
			failed = true
			continue
		}
		url := l.opts.Pins.UpstreamURL(key, c.Version, a)
		if s.url != "" {
			url = strings.ReplaceAll(s.url, profile.ArchPlaceholder, a)
		}
		if pin, ok := l.opts.Pins.Lookup(key, c.Version, a); ok && pin.URL == url && pin.SHA256 != sum {
			l.warnf(s.sumAt(a), "sha256 differs from nodeup's pin",
				"%s.sha256 for %s is %s, but nodeup pins %s %s (%s) at %s as %s. A download from there fails its check unless the file was re-released: check the file, then keep your sum, or remove it to use the pin.",
				name, a, sum, name, c.Version, a, url, pin.SHA256)
		}
	}
	return failed
}

// pinnedFor is the architecture whose pinned file of component version
// has sum, or "".
func (l *loader) pinnedFor(component, version, sum string) string {
	for _, a := range profile.Arches() {
		if pin, ok := l.opts.Pins.Lookup(component, version, a); ok && pin.SHA256 == sum {
			return a
		}
	}
	return ""
}
