package templates

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nodeup/nodeup/profile"
)

// RawRuleError is a key of containerd.config that containerd of the
// target version would refuse, ignore or drop, at its line. A warning does
// not stop the profile.
type RawRuleError struct {
	Line, Col int
	Summary   string
	Msg       string
	Warning   bool
}

func (e *RawRuleError) Error() string { return e.Summary + ": " + e.Msg }

// Plugins the CRI needs besides its own, by config schema: disabling one
// leaves containerd running without a working CRI.
var criNeeds = map[int][]string{
	2: {"io.containerd.runtime.v2.task", "io.containerd.snapshotter.v1.overlayfs"},
	3: {"io.containerd.runtime.v2.task", "io.containerd.snapshotter.v1.overlayfs", "io.containerd.sandbox.controller.v1.podsandbox", "io.containerd.transfer.v1.local"},
	4: {"io.containerd.runtime.v2.task", "io.containerd.snapshotter.v1.overlayfs", "io.containerd.sandbox.controller.v1.podsandbox", "io.containerd.transfer.v1.local", grpcServerPlugin},
}

// requiredPlugins are the CRI's plugins, rendered as required_plugins so
// that containerd fails at start instead of running without them.
func requiredPlugins(schema int) []string {
	if schema == 2 {
		return []string{criPluginV2}
	}
	return []string{criImagesPlugin, criRuntimePlugin, criPluginV2}
}

// Top-level tables that config version 4 no longer reads, and the plugin
// that holds their keys now (containerd's docs/man/containerd-config.toml.5).
var v4Moved = map[string]string{
	"metrics.address":        "io.containerd.server.v1.metrics",
	"metrics.grpc_histogram": "io.containerd.metrics.v1.grpc-prometheus",
	"grpc":                   grpcServerPlugin,
	"ttrpc":                  ttrpcServerPlugin,
	"debug":                  "io.containerd.server.v1.debug",
}

// Keys of the 1.x CRI plugin that 2.x reads from its runtime or images
// plugin: under io.containerd.grpc.v1.cri, 2.x ignores them.
var v2CRIMoved = map[string]string{
	"containerd":                  criRuntimePlugin,
	"cni":                         criRuntimePlugin,
	"enable_cdi":                  criRuntimePlugin,
	"cdi_spec_dirs":               criRuntimePlugin,
	"registry":                    criImagesPlugin,
	"sandbox_image":               criImagesPlugin + " (pinned_images.sandbox)",
	"image_pull_progress_timeout": criImagesPlugin,
}

// rawRules checks the raw config against the schema of the target
// containerd: keys it would ignore, keys it refuses beside what nodeup
// renders, plugins the CRI cannot do without, and runc handlers whose
// cgroup driver disagrees with the node's.
func rawRules(p *profile.Profile, raw map[string]any, entries []rawEntry, text string) []error {
	schema := p.Containerd.ConfigVersion
	var errs []error
	for _, d := range stringList(raw["disabled_plugins"]) {
		if slices.Contains(criNeeds[schema], d) {
			errs = append(errs, &RawRuleError{Line: lineNaming(text, d), Summary: "Plugin the CRI needs disabled",
				Msg: fmt.Sprintf("containerd.config disables %s, without which the CRI plugin cannot run pods; remove it from disabled_plugins", d)})
		}
	}
	// One error per rule and table: a table's header and its keys break
	// the same rule.
	seen := map[string]bool{}
	for _, e := range entries {
		err, rule := rawEntryRule(p, e)
		if err == nil || seen[rule] {
			continue
		}
		seen[rule] = true
		errs = append(errs, err)
	}
	return append(errs, runcDrivers(p, raw, entries)...)
}

// rawEntryRule is the rule one raw key breaks, or nil, with a name for the
// rule and the table it concerns.
func rawEntryRule(p *profile.Profile, e rawEntry) (*RawRuleError, string) {
	err := rawEntryError(p, e)
	if err == nil {
		return nil, ""
	}
	rule := err.Summary + " " + strings.Join(e.path, ".")
	for i := range e.path {
		// The shortest prefix of the path that breaks the same rule.
		if pe := rawEntryError(p, rawEntry{path: e.path[:i+1]}); pe != nil && pe.Summary == err.Summary {
			rule = err.Summary + " " + strings.Join(e.path[:i+1], ".")
			break
		}
	}
	return err, rule
}

// rawEntryError is the rule one raw key breaks, or nil.
func rawEntryError(p *profile.Profile, e rawEntry) *RawRuleError {
	schema := p.Containerd.ConfigVersion
	key := strings.Join(e.path, ".")
	at := func(summary, format string, args ...any) *RawRuleError {
		return &RawRuleError{Line: e.line, Col: e.col, Summary: summary, Msg: fmt.Sprintf(format, args...)}
	}
	if schema == 4 {
		for old, plugin := range v4Moved {
			if key == old || strings.HasPrefix(key, old+".") {
				return at("Key config version 4 ignores", "containerd %s reads config version 4, which ignores %s; set it under [plugins.'%s'] instead", p.Containerd.Version, key, plugin)
			}
		}
	}
	if len(e.path) < 3 || e.path[0] != "plugins" {
		return nil
	}
	plugin, rest := e.path[1], e.path[2:]

	switch {
	case schema >= 3 && plugin == criPluginV2:
		if to, ok := v2CRIMoved[rest[0]]; ok {
			return at("Key containerd 2.x ignores", "containerd 2.x reads %s from [plugins.'%s'], not from plugins.\"%s\", so this setting would do nothing; move it there", strings.Join(rest, "."), to, criPluginV2)
		}
	case schema == 2 && (plugin == criRuntimePlugin || plugin == criImagesPlugin):
		return at("Key containerd 1.x ignores", "containerd %s reads config version 2, which has no plugin %s; write it under plugins.\"%s\"", p.Containerd.Version, plugin, criPluginV2)
	}
	registry := (schema == 2 && plugin == criPluginV2 || schema >= 3 && plugin == criImagesPlugin) && rest[0] == "registry" && len(rest) > 1
	if !registry {
		return nil
	}
	switch {
	case rest[1] == "mirrors":
		return at("registry.mirrors beside config_path", "containerd refuses registry.mirrors while registry.config_path is set, and nodeup sets config_path for certs.d; write a registry \"HOST\" block with mirrors instead")
	case rest[1] == "configs" && slices.Contains(rest, "tls"):
		return at("registry.configs TLS beside config_path", "containerd refuses registry.configs.*.tls while registry.config_path is set; put the registry's certificates in its certs.d directory (a registry \"HOST\" block) instead")
	case rest[1] == "configs" && slices.Contains(rest, "auth"):
		w := at("registry.configs auth is deprecated", "registry.configs.*.auth is deprecated in containerd (removal targeted for 2.4) and makes containerd 2.1+ pull images locally instead of through the transfer service; prefer a kubelet image credential provider or imagePullSecrets")
		w.Warning = true
		return w
	}
	return nil
}

// runcDrivers checks every raw runc-type handler: containerd's docs require
// all runc handlers to use the same cgroup driver, node.cgroup_driver's.
func runcDrivers(p *profile.Profile, raw map[string]any, entries []rawEntry) []error {
	base := []string{"plugins", criRuntimePlugin, "containerd", "runtimes"}
	if p.Containerd.ConfigVersion == 2 {
		base = []string{"plugins", criPluginV2, "containerd", "runtimes"}
	}
	if p.Node.OS == profile.OSWindows {
		return nil
	}
	runtimes, _ := Lookup(raw, base...).(map[string]any)
	want := p.Node.SystemdCgroup()
	var errs []error
	for _, name := range sortedKeys(runtimes) {
		if slices.ContainsFunc(p.Runtimes, func(r profile.Runtime) bool { return r.Name == name }) {
			continue // a typed runtime: its SystemdCgroup is owned
		}
		h, _ := runtimes[name].(map[string]any)
		if t, ok := h["runtime_type"].(string); ok && t != runcShimType {
			continue
		}
		got, set := Lookup(h, "options", "SystemdCgroup").(bool)
		if set && got == want {
			continue
		}
		line, col := 0, 0
		for _, e := range entries {
			if hasPrefix(e.path, append(base, name)) {
				line, col = e.line, e.col
				break
			}
		}
		errs = append(errs, &RawRuleError{Line: line, Col: col, Summary: "runc handler with another cgroup driver",
			Msg: fmt.Sprintf("runtime %q is a runc handler whose options.SystemdCgroup is %v, while node.cgroup_driver = %q needs %v; containerd requires every runc handler to use the node's cgroup driver: set SystemdCgroup = %v", name, got, p.Node.CgroupDriver, want, want)})
	}
	return errs
}

func stringList(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// refusals are errs without the warnings.
func refusals(errs []error) []error {
	var out []error
	for _, err := range errs {
		var rule *RawRuleError
		if errors.As(err, &rule) && rule.Warning {
			continue
		}
		out = append(out, err)
	}
	return out
}
