package plan

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/nodeup/nodeup/node/archive"
	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/profile"
)

var credentialProviderSchema = &hcl.BodySchema{Attributes: attrSchema(
	"version", "url", "sha256", "match_images", "default_cache_duration", "args", "env", "api_version")}

var (
	// A provider's name is its binary's file name in the provider
	// directory, and the kubelet runs <bin-dir>/<name>.
	credentialProviderName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	// One dot-separated part of a matchImages host: a host name's
	// characters, and * (the kubelet's globs are path.Match's, but a host
	// with ? or [ does not parse as one).
	matchImageHostPart = regexp.MustCompile(`^[A-Za-z0-9_*-]+$`)
	envNamePattern     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// credentialProviderSince is the first kubelet release that reads
// CredentialProviderConfig kubelet.config.k8s.io/v1, the version rendered.
const credentialProviderSince = "1.26.0"

// credentialProviderKey is where the loader records a credential_provider
// block's attributes.
func credentialProviderKey(name string) string {
	return joinKey("kubelet.credential_provider", name)
}

// credentialProviderArtifact is the artifact, as the state and bundles
// name it, of a provider's binary.
func credentialProviderArtifact(name string) string { return "credential-provider/" + name }

// credentialProviderInstall is what a provider puts on the node: its
// binary in the provider directory under its own name, from a raw binary
// or from the member of that name at the top of an archive.
func credentialProviderInstall(cp *profile.CredentialProvider) install {
	from := ""
	if archive.FormatOf(cp.URL) != archive.FormatBinary {
		from = cp.Name
	}
	return install{
		name: credentialProviderArtifact(cp.Name), block: fmt.Sprintf("credential_provider %q", cp.Name),
		component: &cp.Component, files: []archive.Placement{bin(from, path.Join(paths.CredentialProviderBinDir, cp.Name))},
	}
}

// decodeCredentialProvider decodes a kubelet.credential_provider block:
// the binary as an artifact (url, sha256 and an optional version), and
// what the kubelet's CredentialProviderConfig says of it. api_version
// defaults to credentialprovider.kubelet.k8s.io/v1. A second block of one
// name is reported and left out (ok false).
func (l *loader) decodeCredentialProvider(blk *hcl.Block, arch string) (cp profile.CredentialProvider, ok bool) {
	cp = profile.CredentialProvider{Name: blk.Labels[0], APIVersion: profile.CredentialProviderV1}
	key := credentialProviderKey(cp.Name)
	if first, dup := l.ranges[joinKey(key, "name")]; dup {
		l.errorf(blk.LabelRanges[0].Ptr(), "Duplicate credential provider",
			"credential_provider %q is also at %s:%d; the kubelet runs one provider per name. Merge the two, or rename one.", cp.Name, first.Filename, first.Start.Line)
		return cp, false
	}
	l.ranges[joinKey(key, "name")] = blk.LabelRanges[0]
	a := l.attrs(key, l.blockAttrs(blk, credentialProviderSchema))
	l.componentFields(a, blk, key, arch, &cp.Component)
	// No pin table names a provider: the url is the profile's, for each
	// architecture, with or without a version.
	cp.URL = strings.ReplaceAll(cp.URL, profile.ArchPlaceholder, arch)
	a.strList("match_images", &cp.MatchImages)
	var d string
	if a.str("default_cache_duration", &d) {
		parsed, err := time.ParseDuration(d)
		if err != nil || parsed < 0 {
			l.failed[joinKey(key, "default_cache_duration")] = true
			l.errorf(a.rangeOf("default_cache_duration"), "Invalid duration",
				"default_cache_duration of credential_provider %q is %q; write a duration such as \"12h\", \"30m\" or \"0s\" (0s: the kubelet keeps no credentials the provider gives without a duration).", cp.Name, d)
		}
		cp.DefaultCacheDuration = parsed
	}
	a.strList("args", &cp.Args)
	a.strMap("env", &cp.Env)
	a.str("api_version", &cp.APIVersion)
	return cp, true
}

// validateCredentialProviders checks the credential_provider blocks the
// way the kubelet reads its CredentialProviderConfig, and that nodeup can
// install each binary: a name that is a file name, a url and sha256,
// matchImages patterns, a cache duration, a request version the kubelet
// speaks, environment variable names, and a kubelet that reads the v1
// configuration.
func (l *loader) validateCredentialProviders(p *profile.Profile) {
	k := p.Kubelet
	if len(k.CredentialProviders) == 0 {
		return
	}
	if p.Node.OS != profile.OSLinux {
		l.errorf(k.CredentialProviders[0].DeclRange.Ptr(), "credential_provider on Windows",
			"nodeup installs credential providers on Linux nodes; a Windows node is rendered only. Remove the credential_provider blocks.")
		return
	}
	if k.Version != "" && versionPattern.MatchString(k.Version) && profile.CompareVersions(k.Version, credentialProviderSince) < 0 {
		l.errorf(l.at("kubelet.version", k.DeclRange), "kubelet too old for credential providers",
			"nodeup renders the kubelet's CredentialProviderConfig as kubelet.config.k8s.io/v1, which kubelet %s does not read; use kubelet 1.26 or later.", k.Version)
	}
	for i := range k.CredentialProviders {
		cp := &k.CredentialProviders[i]
		l.validateCredentialProviderBinary(p, cp)
		l.validateCredentialProviderConfig(cp)
	}
}

// validateCredentialProviderBinary checks what installs a provider: its
// name as a file name, and its artifact.
func (l *loader) validateCredentialProviderBinary(p *profile.Profile, cp *profile.CredentialProvider) {
	key, what := credentialProviderKey(cp.Name), fmt.Sprintf("credential_provider %q", cp.Name)
	if !credentialProviderName.MatchString(cp.Name) || len(cp.Name) > paths.NameMax {
		l.errorf(l.at(joinKey(key, "name"), cp.DeclRange), "Invalid credential provider name",
			"%s: the name is the file name of its binary, which the kubelet runs as %s/NAME; use letters, digits, \".\", \"_\" and \"-\", starting with a letter or digit (at most %d bytes), such as \"ecr-credential-provider\".", what, paths.CredentialProviderBinDir, paths.NameMax)
	}
	if cp.Version != "" && !versionPattern.MatchString(cp.Version) {
		l.errorf(l.at(joinKey(key, "version"), cp.DeclRange), "Invalid version",
			"version of %s is %q; write a release version such as \"1.31.0\" (no leading v), or leave it out: it only names the release in plan and state.", what, cp.Version)
	}
	switch {
	case l.failed[joinKey(key, "url")]:
		return // reported where it failed
	case !l.written(joinKey(key, "url")):
		l.errorf(cp.DeclRange.Ptr(), "Missing url",
			"%s needs url, where its binary is downloaded from (a raw binary, or a .tar.gz, .tgz, .tar.zst or .tar.xz archive with the binary %q at its top; {arch} stands for the architecture): nodeup pins no credential provider.", what, cp.Name)
		return
	}
	l.checkURL(cp.URL, l.at(joinKey(key, "url"), cp.DeclRange), what+" url")
	if l.validateSums(p, key, "", &cp.Component) || l.failed[joinKey(key, "sha256")] {
		return
	}
	switch {
	case cp.SHA256 == "":
		l.errorf(l.at(joinKey(key, "url"), cp.DeclRange), "Missing sha256",
			"%s needs the sha256 of the file its url names, so nodeup can check the download: set sha256 = %s.", what, sumHint(l.loadedArches(p.Node.Arch)))
	case !sha256Pattern.MatchString(cp.SHA256):
		l.errorf(l.at(joinKey(key, "sha256"), cp.DeclRange), "Malformed sha256",
			"sha256 of %s must be 64 lowercase hex digits; got %q (%d characters).", what, cp.SHA256, len(cp.SHA256))
	}
}

// validateCredentialProviderConfig checks what the kubelet's
// CredentialProviderConfig says of a provider.
func (l *loader) validateCredentialProviderConfig(cp *profile.CredentialProvider) {
	key, what := credentialProviderKey(cp.Name), fmt.Sprintf("credential_provider %q", cp.Name)
	attr := func(name string) *hcl.Range { return l.at(joinKey(key, name), cp.DeclRange) }
	switch {
	case l.failed[joinKey(key, "match_images")]:
	case len(cp.MatchImages) == 0:
		l.errorf(attr("match_images"), "No match_images",
			"%s needs match_images, the images the kubelet asks it for, such as [\"*.dkr.ecr.*.amazonaws.com\", \"registry.internal:5000\"].", what)
	}
	for _, m := range cp.MatchImages {
		if err := checkMatchImage(m); err != nil {
			l.errorf(attr("match_images"), "Invalid match_images pattern",
				"match_images of %s: %q %v. Write host[:port][/path], with globs (*) in the host's parts only, such as \"*.dkr.ecr.*.amazonaws.com\" or \"registry.internal:5000/team\".", what, m, err)
		}
	}
	if !l.written(joinKey(key, "default_cache_duration")) {
		l.errorf(cp.DeclRange.Ptr(), "Missing default_cache_duration",
			"%s needs default_cache_duration, how long the kubelet keeps credentials the provider gives without a duration of their own, such as \"12h\" (\"0s\": not at all).", what)
	}
	if !oneOf(cp.APIVersion, profile.CredentialProviderAPIVersions()...) {
		l.errorf(attr("api_version"), "Unknown api_version",
			"api_version of %s is %q; the kubelet speaks %s to a provider. Use the one the provider answers (most speak the first).", what, cp.APIVersion, strings.Join(quoted(profile.CredentialProviderAPIVersions()), ", "))
	}
	for _, name := range sortedKeys(cp.Env) {
		if !envNamePattern.MatchString(name) {
			l.errorf(attr("env"), "Invalid environment variable name",
				"env of %s has %q, which is not an environment variable name (letters, digits and \"_\", not starting with a digit).", what, name)
		}
		if i, r, bad := controlChar(cp.Env[name]); bad {
			l.errorf(attr("env"), "Control character",
				"env %s of %s holds the control character %U at byte %d; remove it.", name, what, r, i)
		}
	}
	for _, s := range append(append([]string{}, cp.MatchImages...), cp.Args...) {
		if i, r, bad := controlChar(s); bad {
			l.errorf(cp.DeclRange.Ptr(), "Control character",
				"an argument or match_images pattern of %s holds the control character %U at byte %d; remove it.", what, r, i)
		}
	}
}

// checkMatchImage says why s is not a matchImages pattern the kubelet
// matches as meant: host[:port][/path], each dot-separated part of the
// host a name or a glob, no scheme, user, query or fragment, and no globs
// in the port or the path (the kubelet matches the path as a prefix, so a
// glob there matches only itself).
func checkMatchImage(s string) error {
	if s == "" {
		return errors.New("is empty")
	}
	if strings.Contains(s, "://") {
		return errors.New("has a scheme; the kubelet matches the image's registry host, written without https://")
	}
	if strings.ContainsAny(s, "?#") {
		return errors.New("has \"?\" or \"#\", which the kubelet reads as the start of a query or fragment; write * for a glob")
	}
	u, err := url.Parse("https://" + s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("cannot be read as host[:port][/path]: %v", err)
	}
	switch {
	case u.User != nil:
		return errors.New("has a user")
	case u.Hostname() == "":
		return errors.New("has no host")
	case strings.ContainsAny(u.Path, "*["):
		return errors.New("has a glob in its path, which the kubelet matches as a plain prefix")
	}
	if net.ParseIP(u.Hostname()) != nil {
		return nil
	}
	for _, part := range strings.Split(u.Hostname(), ".") {
		if !matchImageHostPart.MatchString(part) {
			return fmt.Errorf("has the host part %q, which is neither a host name's part nor a glob", part)
		}
	}
	return nil
}

func quoted(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}
