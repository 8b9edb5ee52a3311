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
	// runcReleasePath is where nodeup installs runc from a release (SPEC section 4);
	// a packaged runc is found on PATH instead.
	runcReleasePath = "/usr/local/sbin/runc"
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

// ContainerdConfig renders /etc/containerd/config.toml in the schema
// p.Containerd.ConfigVersion names (2, 3 or 4), with one CRI runtime handler
// per runtime block, the CNI directories, the sandbox image, the certs.d
// registry path and the socket. p.Containerd.RawConfig is merged over the
// result last (see MergeTOML). It fails with *RawConfigError when the raw
// config is not TOML and with *CRIDisabledError when the merged config
// disables CRI. The output is deterministic: tables and keys are sorted.
func ContainerdConfig(p *profile.Profile) ([]byte, error) {
	tree, err := containerdTree(p)
	if err != nil {
		return nil, err
	}
	if p.Containerd.RawConfig != "" {
		raw, err := parseRawConfig(p.Containerd.RawConfig)
		if err != nil {
			return nil, err
		}
		// The rendered tables are in config_version's schema; a raw version
		// would relabel them and containerd would misread or migrate them.
		if v, ok := raw["version"]; ok && v != int64(p.Containerd.ConfigVersion) {
			return nil, &RawConfigError{Line: lineOfKey(p.Containerd.RawConfig, "version"), Col: 1,
				Msg: fmt.Sprintf("version = %v contradicts config_version %d; set containerd.config_version instead", v, p.Containerd.ConfigVersion)}
		}
		MergeTOML(tree, raw)
	}
	if err := checkCRIEnabled(tree, p.Containerd.RawConfig); err != nil {
		return nil, err
	}
	return encodeTOML(tree)
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

// containerdTree builds the config.toml tree before the raw config is merged.
func containerdTree(p *profile.Profile) (map[string]any, error) {
	c := p.Containerd
	def := p.DefaultRuntime()
	if def == nil {
		return nil, errors.New("containerd config: no runtime is marked default")
	}
	runtimes := map[string]any{}
	for _, r := range p.Runtimes {
		h, err := runtimeHandler(p, r)
		if err != nil {
			return nil, err
		}
		runtimes[r.Name] = h
	}
	containerd := map[string]any{"default_runtime_name": def.Name, "runtimes": runtimes}
	registry := map[string]any{"config_path": paths.ContainerdCerts}

	plugins := map[string]any{}
	tree := map[string]any{"version": c.ConfigVersion, "plugins": plugins}
	switch c.ConfigVersion {
	case 2:
		cri := map[string]any{"containerd": containerd, "registry": registry}
		if c.SandboxImage != "" {
			cri["sandbox_image"] = c.SandboxImage
		}
		if p.CNI != nil {
			cri["cni"] = map[string]any{"bin_dir": p.CNI.BinDir, "conf_dir": p.CNI.ConfDir}
		}
		plugins[criPluginV2] = cri
	case 3, 4:
		runtime := map[string]any{"containerd": containerd}
		if p.CNI != nil {
			cni := map[string]any{"conf_dir": p.CNI.ConfDir}
			// 2.1 deprecated bin_dir for bin_dirs; 2.0 knows only bin_dir, and
			// 2.1+ refuses both at once.
			if c.ConfigVersion == 4 || atLeast(c.Version, "v2.1.0") {
				cni["bin_dirs"] = []string{p.CNI.BinDir}
			} else {
				cni["bin_dir"] = p.CNI.BinDir
			}
			runtime["cni"] = cni
		}
		plugins[criRuntimePlugin] = runtime
		images := map[string]any{"registry": registry}
		if c.SandboxImage != "" {
			// containerd 2.x has no sandbox_image: the pause image is the pinned "sandbox" image.
			images["pinned_images"] = map[string]any{"sandbox": c.SandboxImage}
		}
		plugins[criImagesPlugin] = images
	default:
		return nil, fmt.Errorf("containerd config: unsupported config_version %d (want 2, 3 or 4)", c.ConfigVersion)
	}

	// On Windows containerd's default named pipe is the endpoint already.
	if c.Socket != "" && p.Node.OS != profile.OSWindows {
		if c.ConfigVersion == 4 {
			plugins[grpcServerPlugin] = map[string]any{"address": c.Socket}
			// Before schema 4 containerd derived this from the gRPC address; now it does not.
			plugins[ttrpcServerPlugin] = map[string]any{"address": c.Socket + ".ttrpc"}
		} else {
			tree["grpc"] = map[string]any{"address": c.Socket}
		}
	}
	return tree, nil
}

// runtimeHandler is the containerd table of one CRI runtime handler. Its
// keys are the same in every schema version.
func runtimeHandler(p *profile.Profile, r profile.Runtime) (map[string]any, error) {
	switch r.Type {
	case profile.RuntimeRunc:
		options := map[string]any{"SystemdCgroup": p.Node.SystemdCgroup()}
		if p.Runc != nil && p.Runc.Source != profile.SourcePackage {
			options["BinaryName"] = runcReleasePath
		}
		return map[string]any{"runtime_type": runcShimType, "options": options}, nil
	case profile.RuntimeKata:
		if r.Hypervisor == "" {
			return nil, fmt.Errorf("containerd config: kata runtime %q has no hypervisor", r.Name)
		}
		return map[string]any{
			// The type names the shim protocol; runtime_path points at the one
			// shim binary kata ships for every hypervisor.
			"runtime_type":                    "io.containerd.kata-" + r.Hypervisor + ".v2",
			"runtime_path":                    paths.KataShim,
			"privileged_without_host_devices": true,
			"pod_annotations":                 []string{kataPodAnnotations},
			"options":                         map[string]any{"ConfigPath": profile.KataConfigPath(r.Hypervisor)},
		}, nil
	default:
		return nil, fmt.Errorf("containerd config: runtime %q has unknown type %q", r.Name, r.Type)
	}
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

// checkCRIEnabled fails when disabled_plugins names a CRI plugin.
func checkCRIEnabled(tree map[string]any, raw string) error {
	// Only the raw config sets disabled_plugins, so it holds go-toml's []any.
	disabled, _ := tree["disabled_plugins"].([]any)
	for _, d := range disabled {
		name, _ := d.(string)
		if slices.Contains(criPlugins[:], name) {
			return &CRIDisabledError{Plugin: name, Line: lineNaming(raw, name)}
		}
	}
	return nil
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
