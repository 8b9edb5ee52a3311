package templates

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	toml "github.com/pelletier/go-toml/v2"
	"golang.org/x/mod/semver"

	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/profile"
)

// Plugin IDs and values of containerd's configuration that the renderer uses.
const (
	// criPluginV2 holds the whole CRI configuration in schema version 2 (containerd 1.x).
	criPluginV2 = "io.containerd.grpc.v1.cri"
	// criRuntimePlugin and criImagesPlugin split it from schema version 3 (containerd 2.x).
	criRuntimePlugin = "io.containerd.cri.v1.runtime"
	criImagesPlugin  = "io.containerd.cri.v1.images"
	// The socket listeners became server plugins in schema version 4 (containerd 2.3).
	grpcServerPlugin  = "io.containerd.server.v1.grpc"
	ttrpcServerPlugin = "io.containerd.server.v1.ttrpc"

	runcShimType = "io.containerd.runc.v2"
	// runhcsShimType runs Windows containers (hcsshim).
	runhcsShimType = "io.containerd.runhcs.v1"
	// kataPodAnnotations lets pods tune the kata sandbox through annotations.
	kataPodAnnotations = "io.katacontainers.*"
)

// criPlugins are the names under which disabled_plugins would switch CRI off,
// in any schema version.
var criPlugins = [...]string{"cri", criPluginV2, criRuntimePlugin, criImagesPlugin}

// CRIDisabledError says that the raw containerd config lists a CRI plugin in
// disabled_plugins: nodeup's node would have no CRI socket.
type CRIDisabledError struct {
	Plugin string // the disabled_plugins entry
	// Line is the 1-based line of the raw config that names the plugin, 0 when unknown.
	Line int
}

func (e *CRIDisabledError) Error() string {
	return fmt.Sprintf("containerd config disables the CRI plugin %q (disabled_plugins); kubelet needs CRI", e.Plugin)
}

// RawConfigError says that the raw containerd config cannot be merged: it is
// not valid TOML, or its version contradicts containerd.config_version.
// Line and Col are 1-based positions within the raw config text (0 if unknown).
type RawConfigError struct {
	Line, Col int
	Msg       string
}

func (e *RawConfigError) Error() string {
	return fmt.Sprintf("containerd config: line %d, column %d: %s", e.Line, e.Col, e.Msg)
}

// ConfigVersionFor is the config.toml schema version a containerd release
// reads natively: 2 before 2.0, 3 for 2.0–2.2, 4 from 2.3. Versions are
// semantic versions with or without a leading "v".
func ConfigVersionFor(containerdVersion string) (int, error) {
	v, ok := canonicalVersion(containerdVersion)
	switch {
	case !ok:
		return 0, fmt.Errorf("containerd version %q is not a semantic version", containerdVersion)
	case semver.Compare(v, "v2.0.0") < 0:
		return 2, nil
	case semver.Compare(v, "v2.3.0") < 0:
		return 3, nil
	default:
		return 4, nil
	}
}

// ContainerdConfig renders the config.toml of p's node (Layout) in the
// schema p.Containerd.ConfigVersion names (2, 3 or 4), with one CRI runtime
// handler per runtime block, the CNI directories, the sandbox image, the
// certs.d registry path and the socket. p.Containerd.RawConfig is merged
// over the result last (see MergeTOML), after CheckRawConfig accepted it:
// its errors are returned together. The output is deterministic: tables
// and keys are sorted.
func ContainerdConfig(p *profile.Profile) ([]byte, error) {
	tree, _, err := containerdTree(p)
	if err != nil {
		return nil, err
	}
	if p.Containerd.RawConfig != "" {
		if errs := refusals(CheckRawConfig(p)); len(errs) > 0 {
			return nil, errors.Join(errs...)
		}
		raw, err := parseRawConfig(p.Containerd.RawConfig)
		if err != nil {
			return nil, err
		}
		MergeTOML(tree, raw)
	}
	return encodeTOML(tree)
}

// CheckRawConfig checks p.Containerd.RawConfig on its own, so that it can
// be done whatever else is wrong with the profile, and returns every
// problem: a *RawConfigError when it is not TOML (then nothing else is
// checked) or when its version contradicts config_version, a
// *CRIDisabledError per disabled CRI plugin, and an *OwnedKeyError per key
// that would override what a typed setting renders — a different value, a
// table replaced by a value, or a value turned into a table. Setting an
// owned key to the value nodeup renders is accepted: the node still agrees
// with itself, and a later change of the typed setting turns it into an
// error here.
func CheckRawConfig(p *profile.Profile) []error {
	text := p.Containerd.RawConfig
	if text == "" {
		return nil
	}
	raw, err := parseRawConfig(text)
	if err != nil {
		return []error{err}
	}
	var errs []error
	// The rendered tables are in config_version's schema; a raw version
	// would relabel them and containerd would misread or migrate them.
	if v, ok := raw["version"]; ok && v != int64(p.Containerd.ConfigVersion) {
		errs = append(errs, &RawConfigError{Line: lineOfKey(text, "version"), Col: 1,
			Msg: fmt.Sprintf("version = %v contradicts config_version %d; set containerd.config_version instead", v, p.Containerd.ConfigVersion)})
	}
	errs = append(errs, criDisabled(raw, text)...)
	tree, owned, err := containerdTree(p)
	if err != nil {
		// The profile's own errors are reported where they are.
		return errs
	}
	entries, err := rawEntries(text)
	if err != nil {
		return append(errs, err)
	}
	for _, e := range entries {
		if oe := e.overrides(owned, tree, raw); oe != nil {
			errs = append(errs, oe)
		}
	}
	return append(errs, rawRules(p, raw, entries, text)...)
}

// MergeTOML deep-merges src into dst: a table in src merges into the table
// of the same key in dst, recursively; any other value (scalar, array,
// array of tables) in src replaces dst's. src's tables are copied, not shared.
func MergeTOML(dst, src map[string]any) {
	for k, sv := range src {
		if st, ok := sv.(map[string]any); ok {
			dt, ok := dst[k].(map[string]any)
			if !ok {
				dt = map[string]any{}
				dst[k] = dt
			}
			MergeTOML(dt, st)
			continue
		}
		dst[k] = sv
	}
}

// ownedKey is a key of config.toml that nodeup derives from a typed
// setting of the profile; the raw config may not contradict it.
type ownedKey struct {
	path  []string
	owner string // the profile setting, as the user writes it
}

// configTree builds a config.toml tree and records who owns which key.
type configTree struct {
	root  map[string]any
	owned []ownedKey
}

// set puts value at path, creating tables on the way; owner "" leaves the
// key to the raw config.
func (t *configTree) set(owner string, value any, path ...string) {
	m := t.root
	for _, k := range path[:len(path)-1] {
		sub, ok := m[k].(map[string]any)
		if !ok {
			sub = map[string]any{}
			m[k] = sub
		}
		m = sub
	}
	m[path[len(path)-1]] = value
	if owner != "" {
		t.own(owner, path...)
	}
}

// own marks path as owner's, whether or not nodeup renders a value there:
// an owned key nodeup leaves out may not be set at all.
func (t *configTree) own(owner string, path ...string) {
	t.owned = append(t.owned, ownedKey{path: append([]string(nil), path...), owner: owner})
}

// containerdTree builds the config.toml tree before the raw config is
// merged, and the keys typed settings own.
func containerdTree(p *profile.Profile) (map[string]any, []ownedKey, error) {
	c := p.Containerd
	def := p.DefaultRuntime()
	if def == nil {
		return nil, nil, errors.New("containerd config: no runtime is marked default")
	}
	var criPath, imagesPath []string
	switch c.ConfigVersion {
	case 2:
		criPath = []string{"plugins", criPluginV2}
		imagesPath = criPath
	case 3, 4:
		criPath = []string{"plugins", criRuntimePlugin}
		imagesPath = []string{"plugins", criImagesPlugin}
	default:
		return nil, nil, fmt.Errorf("containerd config: unsupported config_version %d (want 2, 3 or 4)", c.ConfigVersion)
	}
	under := func(base []string, keys ...string) []string {
		return append(append([]string(nil), base...), keys...)
	}
	t := &configTree{root: map[string]any{"version": c.ConfigVersion}}
	t.set("", requiredPlugins(c.ConfigVersion), "required_plugins")

	runtimes := under(criPath, "containerd", "runtimes")
	t.set(fmt.Sprintf("runtime %q (default = true)", def.Name), def.Name, under(criPath, "containerd", "default_runtime_name")...)
	for _, r := range p.Runtimes {
		if err := runtimeHandler(p, r, t, under(runtimes, r.Name)); err != nil {
			return nil, nil, err
		}
	}
	layout := p.Layout()
	registry := under(imagesPath, "registry", "config_path")
	owner := ""
	if len(c.Registries) > 0 {
		owner = "containerd registry blocks (" + layout.ContainerdCertsDir + ")"
	}
	t.set(owner, p.NativePath(layout.ContainerdCertsDir), registry...)
	if c.SandboxImage != "" {
		if c.ConfigVersion == 2 {
			t.set("containerd.sandbox_image", c.SandboxImage, under(criPath, "sandbox_image")...)
		} else {
			// containerd 2.x has no sandbox_image: the pause image is the pinned "sandbox" image.
			t.set("containerd.sandbox_image", c.SandboxImage, under(imagesPath, "pinned_images", "sandbox")...)
		}
	}
	if c.CDI {
		// The CRI plugin's key in every schema (1.7 on); 2.x enables CDI by default.
		t.set("containerd.cdi", true, under(criPath, "enable_cdi")...)
	}
	if len(c.CDISpecDirs) > 0 {
		t.set("containerd.cdi_spec_dirs", c.CDISpecDirs, under(criPath, "cdi_spec_dirs")...)
	}
	if p.CNI != nil {
		cniKeys(p, t, under(criPath, "cni"))
	}
	socketKeys(p, t)
	return t.root, t.owned, nil
}

// cniKeys sets the CRI's CNI directories at cni. 2.1 deprecated bin_dir
// for bin_dirs; 2.0 knows only bin_dir, and 2.1+ refuses both at once:
// whichever is not rendered may not be set.
func cniKeys(p *profile.Profile, t *configTree, cni []string) {
	c := p.Containerd
	at := func(key string) []string { return append(append([]string(nil), cni...), key) }
	t.set("cni.conf_dir", p.CNI.ConfDir, at("conf_dir")...)
	if c.ConfigVersion == 4 || (c.ConfigVersion == 3 && atLeast(c.Version, "v2.1.0")) {
		t.set("cni.bin_dir", []string{p.CNI.BinDir}, at("bin_dirs")...)
		t.own("cni.bin_dir", at("bin_dir")...)
		return
	}
	t.set("cni.bin_dir", p.CNI.BinDir, at("bin_dir")...)
	if c.ConfigVersion == 3 {
		t.own("cni.bin_dir", at("bin_dirs")...)
	}
}

// socketKeys sets containerd's gRPC (and, from schema 4, ttrpc) address.
func socketKeys(p *profile.Profile, t *configTree) {
	c := p.Containerd
	switch {
	case p.Node.OS == profile.OSWindows:
		// containerd's default named pipe is the endpoint the kubelet is given.
		owner := fmt.Sprintf("node.os = %q (the endpoint %s)", profile.OSWindows, profile.WindowsEndpoint)
		t.own(owner, "grpc", "address")
		if c.ConfigVersion == 4 {
			t.own(owner, "plugins", grpcServerPlugin, "address")
		}
	case c.Socket == "":
	case c.ConfigVersion == 4:
		t.set("containerd.socket", c.Socket, "plugins", grpcServerPlugin, "address")
		// Before schema 4 containerd derived this from the gRPC address; now it does not.
		t.set("containerd.socket", c.Socket+".ttrpc", "plugins", ttrpcServerPlugin, "address")
		t.own("containerd.socket", "grpc", "address")
	default:
		t.set("containerd.socket", c.Socket, "grpc", "address")
	}
}

// runtimeHandler adds the containerd table of one CRI runtime handler at
// path. Its keys are the same in every schema version.
func runtimeHandler(p *profile.Profile, r profile.Runtime, t *configTree, path []string) error {
	at := func(keys ...string) []string { return append(append([]string(nil), path...), keys...) }
	typeOwner := fmt.Sprintf("runtime %q type", r.Name)
	if windows := p.Node.OS == profile.OSWindows; windows != (r.Type == profile.RuntimeRunhcs) {
		return fmt.Errorf("containerd config: runtime %q has type %q, which %s nodes do not run", r.Name, r.Type, p.Node.OS)
	}
	if r.Snapshotter != "" {
		t.set(fmt.Sprintf("runtime %q snapshotter", r.Name), r.Snapshotter, at("snapshotter")...)
	}
	switch r.Type {
	case profile.RuntimeRunc, profile.RuntimeCrun, profile.RuntimeNvidia:
		// crun and nvidia-container-runtime are OCI runtimes with runc's
		// command line: the runc shim runs them as its BinaryName.
		t.set(typeOwner, runcShimType, at("runtime_type")...)
		t.set("node.cgroup_driver", p.Node.SystemdCgroup(), at("options", "SystemdCgroup")...)
		if owner, binary := ociBinary(p, r); binary != "" {
			t.set(owner, binary, at("options", "BinaryName")...)
		}
	case profile.RuntimeKata:
		hv, ok := profile.LookupKataHypervisor(r.Hypervisor)
		if !ok {
			return fmt.Errorf("containerd config: kata runtime %q has unknown hypervisor %q", r.Name, r.Hypervisor)
		}
		hvOwner := fmt.Sprintf("runtime %q hypervisor", r.Name)
		// The type names the shim protocol; runtime_path points at the shim
		// of the kata runtime (Go or Rust) that serves the hypervisor.
		t.set(typeOwner, "io.containerd.kata-"+hv.Name+".v2", at("runtime_type")...)
		t.set(hvOwner, hv.ShimPath(), at("runtime_path")...)
		t.set("", true, at("privileged_without_host_devices")...)
		t.set("", []string{kataPodAnnotations}, at("pod_annotations")...)
		t.set("", []string{kataPodAnnotations}, at("container_annotations")...)
		t.set(hvOwner, hv.ConfigPath(), at("options", "ConfigPath")...)
	case profile.RuntimeRunhcs:
		t.set(typeOwner, runhcsShimType, at("runtime_type")...)
	default:
		return fmt.Errorf("containerd config: runtime %q has unknown type %q", r.Name, r.Type)
	}
	return nil
}

// ociBinary is the BinaryName of a runc-shim handler and the setting that
// owns it; "" leaves the shim to find runc on PATH.
func ociBinary(p *profile.Profile, r profile.Runtime) (owner, binary string) {
	switch r.Type {
	case profile.RuntimeCrun:
		if p.Crun != nil && p.Crun.Source == profile.SourcePackage {
			return "the crun block", paths.PackageCrun
		}
		return "the crun block", paths.Crun
	case profile.RuntimeNvidia:
		return fmt.Sprintf("runtime %q binary", r.Name), r.Binary
	}
	if p.Runc != nil && p.Runc.Source != profile.SourcePackage {
		// A packaged runc is found on PATH; a release is where nodeup installs it.
		return "the runc block", paths.Runc
	}
	return "", ""
}

// parseRawConfig decodes the raw config, turning a syntax error into a
// *RawConfigError with its position.
func parseRawConfig(raw string) (map[string]any, error) {
	tree := map[string]any{}
	if err := toml.Unmarshal([]byte(raw), &tree); err != nil {
		var de *toml.DecodeError
		if errors.As(err, &de) {
			line, col := de.Position()
			return nil, &RawConfigError{Line: line, Col: col, Msg: "invalid TOML: " + de.Error()}
		}
		return nil, &RawConfigError{Msg: "invalid TOML: " + err.Error()}
	}
	return tree, nil
}

// criDisabled returns an error for each CRI plugin disabled_plugins names.
func criDisabled(raw map[string]any, text string) []error {
	disabled, _ := raw["disabled_plugins"].([]any)
	var errs []error
	for _, d := range disabled {
		name, _ := d.(string)
		if slices.Contains(criPlugins[:], name) {
			errs = append(errs, &CRIDisabledError{Plugin: name, Line: lineNaming(text, name)})
		}
	}
	return errs
}

// lineNaming is the first 1-based line of text holding name as a TOML
// string, or 0: a pointer for the user, not a parse.
func lineNaming(text, name string) int {
	for i, line := range strings.Split(text, "\n") {
		if strings.Contains(line, `"`+name+`"`) || strings.Contains(line, `'`+name+`'`) {
			return i + 1
		}
	}
	return 0
}

// lineOfKey is the first 1-based line of text that assigns key at the top
// of a line, or 0.
func lineOfKey(text, key string) int {
	for i, line := range strings.Split(text, "\n") {
		if k, _, ok := strings.Cut(line, "="); ok && strings.TrimSpace(k) == key {
			return i + 1
		}
	}
	return 0
}

// encodeTOML serializes a tree after a header comment, tables indented like
// containerd's own `config default`.
func encodeTOML(tree map[string]any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("# " + header + "\n\n")
	enc := toml.NewEncoder(&b)
	enc.SetIndentTables(true)
	if err := enc.Encode(tree); err != nil {
		return nil, fmt.Errorf("encoding TOML: %w", err)
	}
	return b.Bytes(), nil
}

// canonicalVersion turns "2.1.6" or "v2.1.6" into semver's "v2.1.6".
func canonicalVersion(v string) (string, bool) {
	if !strings.HasPrefix(v, "v") {
		v = "v" + v
	}
	return v, semver.IsValid(v)
}

// atLeast reports whether version is a valid semantic version >= min; an
// unknown version is not.
func atLeast(version, min string) bool {
	v, ok := canonicalVersion(version)
	return ok && semver.Compare(v, min) >= 0
}
