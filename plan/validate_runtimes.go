package plan

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"golang.org/x/mod/semver"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/nodeup/nodeup/node/images"
	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/plan/pins"
	"github.com/nodeup/nodeup/profile"
	"github.com/nodeup/nodeup/templates"
)

// snapshotterPattern is a containerd snapshotter plugin name.
var snapshotterPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// checkQuantity accepts Kubernetes resource quantities such as 250m or 160Mi.
func checkQuantity(q string) error {
	_, err := resource.ParseQuantity(q)
	return err
}

func (l *loader) validateRuntimes(p *profile.Profile) {
	seen := map[string]profile.Runtime{}
	var defaults []profile.Runtime
	for _, r := range p.Runtimes {
		nameAt := l.at("runtime."+r.Name+".name", r.DeclRange)
		if prev, ok := seen[r.Name]; ok {
			l.errorf(nameAt, "Duplicate runtime", "runtime %q is declared twice; the first is at %s.", r.Name, prev.DeclRange)
			continue
		}
		seen[r.Name] = r
		if len(r.Name) > 63 || !handlerPattern.MatchString(r.Name) {
			l.errorf(nameAt, "Invalid runtime handler name",
				"%q cannot be a RuntimeClass handler: use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit.", r.Name)
		}
		l.validateRuntimeType(p, r)
		for _, k := range sortedKeys(r.Overhead) {
			if !oneOf(k, "cpu", "memory") {
				l.errorf(l.at("runtime."+r.Name+".overhead", r.DeclRange), "Invalid overhead", "overhead key %q: use cpu and memory.", k)
			} else if err := checkQuantity(r.Overhead[k]); err != nil {
				l.errorf(l.at("runtime."+r.Name+".overhead", r.DeclRange), "Invalid overhead", "overhead %s = %q: %s.", k, r.Overhead[k], err)
			}
		}
		if r.Default {
			defaults = append(defaults, r)
		}
	}
	switch {
	case len(defaults) == 0 && len(p.Runtimes) > 0:
		l.errorf(p.Runtimes[0].DeclRange.Ptr(), "No default runtime",
			"No runtime has default = true; containerd needs one default handler. Mark one, usually runc.")
	case len(defaults) > 1:
		l.errorf(l.at("runtime."+defaults[1].Name+".default", defaults[1].DeclRange), "Two default runtimes",
			"runtime %q and runtime %q both have default = true; keep one.", defaults[0].Name, defaults[1].Name)
	}
	if d := p.DefaultRuntime(); d != nil && d.Type == profile.RuntimeKata {
		l.warnf(d.DeclRange.Ptr(), "kata is the default runtime", "Every pod without a RuntimeClass will run in a VM.")
	}
	if p.Kata != nil {
		hasKata := false
		for _, r := range p.Runtimes {
			hasKata = hasKata || r.Type == profile.RuntimeKata
		}
		if !hasKata {
			l.warnf(p.Kata.DeclRange.Ptr(), "kata without a runtime", "kata is installed but no runtime block has type = \"kata\", so no pod can use it.")
		}
	}
}

// validateRuntimeType checks a runtime against its type: the node's OS runs
// it, and what it needs is in the profile.
func (l *loader) validateRuntimeType(p *profile.Profile, r profile.Runtime) {
	typeAt := l.at("runtime."+r.Name+".type", r.DeclRange)
	windows := p.Node.OS == profile.OSWindows
	if r.Type != profile.RuntimeKata && r.Hypervisor != "" {
		l.errorf(l.at("runtime."+r.Name+".hypervisor", r.DeclRange), "hypervisor on a "+r.Type+" runtime", "hypervisor applies to type = \"kata\" runtimes only.")
	}
	if r.Type != profile.RuntimeNvidia && r.Binary != "" {
		l.errorf(l.at("runtime."+r.Name+".binary", r.DeclRange), "binary on a "+r.Type+" runtime", "binary applies to type = \"nvidia\" runtimes only; a %s runtime runs the binary its own block installs.", r.Type)
	}
	if r.Snapshotter != "" {
		l.validateRuntimeSnapshotter(p, r)
	}
	switch r.Type {
	case profile.RuntimeRunc, profile.RuntimeCrun, profile.RuntimeNvidia, profile.RuntimeKata:
		if windows {
			l.errorf(typeAt, "Linux runtime on a Windows node",
				"runtime %q has type = %q, which runs on Linux only; a Windows node runs type = \"runhcs\".", r.Name, r.Type)
			return
		}
	case profile.RuntimeRunhcs:
		if !windows {
			l.errorf(typeAt, "Windows runtime on a Linux node",
				"runtime %q has type = \"runhcs\", which runs Windows containers; use \"runc\", \"crun\", \"nvidia\" or \"kata\", or set node.os = \"windows\".", r.Name)
		}
		return
	default:
		l.errorf(typeAt, "Invalid runtime type", "runtime %q has type %q; use \"runc\", \"crun\", \"nvidia\" or \"kata\" (\"runhcs\" on Windows).", r.Name, r.Type)
		return
	}
	l.validateRuntimeBinary(p, r)
}

// validateRuntimeBinary checks that what a Linux runtime runs is there to
// run: a runc, crun or kata block, a kata hypervisor the release ships, an
// absolute path for nvidia's.
func (l *loader) validateRuntimeBinary(p *profile.Profile, r profile.Runtime) {
	switch r.Type {
	case profile.RuntimeRunc:
		l.validateRuncRuntime(p, r)
	case profile.RuntimeCrun:
		if p.Crun == nil {
			l.errorf(r.DeclRange.Ptr(), "crun runtime without crun",
				"runtime %q has type = \"crun\" but the profile has no crun block, so nothing installs the crun it runs. Add crun { source = \"package\" } for the distribution's crun, or crun { version = \"...\", sha256 = \"...\" } for a release.", r.Name)
			return
		}
		l.validateCrunSpecVersion(p)
	case profile.RuntimeNvidia:
		if !path.IsAbs(r.Binary) {
			l.errorf(l.at("runtime."+r.Name+".binary", r.DeclRange), "Relative path",
				"runtime %q binary %q must be an absolute path such as %q.", r.Name, r.Binary, paths.NvidiaRuntime)
		}
	case profile.RuntimeKata:
		l.validateKataRuntime(p, r)
	}
}

// validateRuncRuntime needs a runc to run: containerd would run whatever
// "runc" is on its PATH, if any. The runc comes from a runc block, or with
// a packaged containerd, whose package brings its own.
func (l *loader) validateRuncRuntime(p *profile.Profile, r profile.Runtime) {
	if p.Runc != nil || p.Containerd.Source == profile.SourcePackage {
		return
	}
	at := r.DeclRange.Ptr()
	implicit := ""
	if r.DeclRange.Filename == "" {
		// The runtime every profile without runtime blocks gets.
		at, implicit = l.at("containerd", p.Containerd.DeclRange), " (a profile without runtime blocks gets it)"
		if at == nil {
			at = l.profileStart()
		}
	}
	l.errorf(at, "runc runtime without runc",
		"runtime %q%s has type = \"runc\" but the profile has no runc block, so nothing installs the runc it runs. Add runc { version = %q }, or runc { source = \"package\" } for the distribution's runc.",
		r.Name, implicit, newest(l.opts.Pins, pins.Runc, p.Node.Arch))
}

// validateKataRuntime needs a kata block and a hypervisor its release ships.
func (l *loader) validateKataRuntime(p *profile.Profile, r profile.Runtime) {
	if p.Kata == nil {
		l.errorf(r.DeclRange.Ptr(), "kata runtime without kata",
			"runtime %q has type = \"kata\" but the profile has no kata block; add kata { version = %q }.", r.Name, newest(l.opts.Pins, pins.Kata, p.Node.Arch))
	}
	hvAt := l.at("runtime."+r.Name+".hypervisor", r.DeclRange)
	hv, ok := profile.LookupKataHypervisor(r.Hypervisor)
	if !ok {
		var names []string
		for _, h := range profile.KataHypervisors() {
			names = append(names, h.Name)
		}
		hint := ""
		if s := profile.SuggestKataHypervisor(r.Hypervisor); s != "" {
			hint = fmt.Sprintf(" Did you mean %q?", s)
		}
		l.errorf(hvAt, "Unknown hypervisor",
			"hypervisor %q has no kata configuration; use one of %s.%s", r.Hypervisor, strings.Join(names, ", "), hint)
		return
	}
	if p.Kata != nil && p.Kata.Version != "" && !hv.ShippedIn(p.Kata.Version) {
		var alt []string
		for _, h := range profile.KataHypervisors() {
			if h.RuntimeRS == hv.RuntimeRS && h.ShippedIn(p.Kata.Version) && strings.HasPrefix(h.Name, r.Hypervisor[:2]) {
				alt = append(alt, fmt.Sprintf("%q", h.Name))
			}
		}
		hint := ""
		if len(alt) > 0 {
			hint = " Use " + strings.Join(alt, " or ") + "."
		}
		l.errorf(hvAt, "Hypervisor not in this kata release",
			"kata %s ships no configuration-%s.toml.%s", p.Kata.Version, hv.Name, hint)
	}
}

// crunAnyOCIVersion is the first crun that runs OCI specs of any 1.x
// version: older ones refuse all but 1.0 ("unknown version specified"),
// and containerd writes 1.2 from 2.0 on.
const crunAnyOCIVersion = "v1.14.2"

// validateCrunSpecVersion checks that the crun block's crun runs the OCI
// specs of the profile's containerd.
func (l *loader) validateCrunSpecVersion(p *profile.Profile) {
	c := p.Crun
	cv := semverOf(releasePrefix.FindString(p.Containerd.Version))
	if cv != "" && semver.Major(cv) == "v1" {
		return
	}
	if c.Source == profile.SourcePackage && c.Version == "" {
		l.warnf(l.at("crun.source", c.DeclRange), "The distribution's crun may refuse containerd 2's OCI specs",
			"crun before 1.14.2 (Debian 12 ships 1.8.1) runs only OCI specs of version 1.0, and containerd 2.x writes 1.2 or later: every pod of a crun runtime would fail with \"unknown version specified\". Use a crun release, crun { version = \"1.21\", sha256 = \"...\" }, or a distribution with crun 1.14.2 or later.")
		return
	}
	if v := semverOf(releasePrefix.FindString(c.Version)); v != "" && semver.Compare(v, crunAnyOCIVersion) < 0 {
		l.errorf(l.at("crun.version", c.DeclRange), "crun too old for containerd 2",
			"crun %s runs only OCI specs of version 1.0, and containerd 2.x writes 1.2 or later: every pod of a crun runtime would fail with \"unknown version specified\". Use crun 1.14.2 or later.", c.Version)
	}
}

// validateRuntimeSnapshotter checks a runtime's snapshotter: a plugin name
// that containerd knows per handler from 1.7 on.
func (l *loader) validateRuntimeSnapshotter(p *profile.Profile, r profile.Runtime) {
	at := l.at("runtime."+r.Name+".snapshotter", r.DeclRange)
	if !snapshotterPattern.MatchString(r.Snapshotter) {
		l.errorf(at, "Invalid snapshotter", "runtime %q snapshotter %q is not a snapshotter plugin name such as \"overlayfs\" or \"devmapper\".", r.Name, r.Snapshotter)
		return
	}
	if before17(p.Containerd) {
		l.errorf(at, "snapshotter before containerd 1.7",
			"containerd %s has no per-runtime snapshotter (it came in 1.7); use containerd 1.7 or later, or remove snapshotter.", p.Containerd.Version)
	}
}

// before17 reports whether the profile's containerd is a release older
// than 1.7, which lacks CDI and per-runtime snapshotters. A packaged
// containerd of unknown version is not.
func before17(c profile.Containerd) bool {
	v := semverOf(releasePrefix.FindString(c.Version))
	return v != "" && semver.Compare(v, "v1.7.0") < 0
}

func (l *loader) validateKubelet(p *profile.Profile) {
	k := p.Kubelet
	if k.Start && k.Version == "" {
		l.errorf(l.at("kubelet.start", k.DeclRange), "kubelet start without a binary",
			"kubelet.start = true needs kubelet.version so nodeup installs the kubelet it starts.")
	}
	l.validateKubeletMode(p)
	for i, f := range k.Flags {
		if !strings.HasPrefix(f, "--") {
			l.errorf(l.flagAt(p, i), "Invalid kubelet flag", "kubelet flag %q must start with --.", f)
		}
	}
	conflicting := map[int]bool{}
	for _, err := range templates.KubeletFlagConflicts(p) {
		var fc *templates.FlagConflictError
		if errors.As(err, &fc) {
			conflicting[fc.Index] = true
			l.errorf(l.flagAt(p, fc.Index), "Conflicting kubelet flag",
				"kubelet.flags has %q, which overrides %s: the kubelet would disagree with the configuration nodeup renders. %s.",
				k.Flags[fc.Index], fc.Owner, upperFirst(fc.Fix))
		}
	}
	unknown, deprecated := templates.KubeletFlagErrors(k.Flags)
	for _, err := range unknown {
		uf := err.(*templates.UnknownFlagError)
		l.errorf(l.flagAt(p, uf.Index), "Unknown kubelet flag", "%s; the kubelet would not start.", upperFirst(uf.Error()))
	}
	for _, err := range deprecated {
		if df := err.(*templates.DeprecatedFlagError); !conflicting[df.Index] {
			l.warnf(l.flagAt(p, df.Index), "Deprecated kubelet flag", "%s.", upperFirst(df.Error()))
		}
	}
	// The kubelet reads static pods from there and nodeup creates it: a
	// relative path would be relative to wherever each one runs.
	if sp, ok := k.Config["staticPodPath"].(string); ok && !path.IsAbs(sp) {
		l.errorf(l.configKeyAt(p, "staticPodPath"), "Relative path",
			"kubelet.config.staticPodPath %q must be an absolute path, such as \"/etc/kubernetes/manifests\".", sp)
	}
	_, err := templates.KubeletConfiguration(p)
	for _, err := range leafErrors(err) {
		var unknown *templates.UnknownFieldError
		var conflict *templates.ConflictError
		var invalid *templates.InvalidValueError
		var release *templates.FieldReleaseError
		switch {
		case errors.As(err, &invalid) && invalid.Field != "":
			l.errorf(l.configKeyAt(p, invalid.Field), "Invalid kubelet config value",
				"kubelet.config.%s: %s. Check the KubeletConfiguration (v1beta1) type of this field.", invalid.Field, invalid.Msg)
		case errors.As(err, &unknown):
			l.errorf(l.configKeyAt(p, unknown.Field), "Unknown KubeletConfiguration field",
				"kubelet.config has %q, which is not a KubeletConfiguration (v1beta1) field. Check its spelling: fields use their JSON names, such as maxPods.", unknown.Field)
		case errors.As(err, &release):
			l.errorf(l.configKeyAt(p, release.Field), "KubeletConfiguration field not in this kubelet release", "%s.", release)
		case errors.As(err, &conflict) && strings.HasPrefix(conflict.Owner, "kubelet.reserved"):
			l.errorf(l.configKeyAt(p, conflict.Field), "Conflicting kubelet setting",
				"kubelet.config sets %s = %s, which kubelet.reserved owns. Remove it, and set what it should be in %s.", conflict.Field, conflict.Got, conflict.Owner)
		case errors.As(err, &conflict) && conflict.Want == "":
			l.errorf(l.configKeyAt(p, conflict.Field), "Conflicting kubelet setting",
				"kubelet.config sets %s = %s, which %s does not use. Remove it.", conflict.Field, conflict.Got, conflict.Owner)
		case errors.As(err, &conflict):
			l.errorf(l.configKeyAt(p, conflict.Field), "Conflicting kubelet setting",
				"kubelet.config sets %s = %s, but %s gives %s. Remove it: nodeup derives it so the kubelet and containerd agree.", conflict.Field, conflict.Got, conflict.Owner, conflict.Want)
		default:
			l.errorf(l.at("kubelet.config", k.DeclRange), "Invalid kubelet config", "kubelet.config: %s.", err)
		}
	}
}

// validateKubeletMode checks kubelet.mode and what each mode needs: a
// standalone kubelet has no API server to authenticate and authorize
// requests with, and the kubeconfig of mode "kubeconfig" is a node path.
func (l *loader) validateKubeletMode(p *profile.Profile) {
	k := p.Kubelet
	modeAt := l.at("kubelet.mode", k.DeclRange)
	if l.written("kubelet.kubeconfig") && k.Mode != profile.KubeletKubeconfig {
		l.errorf(l.at("kubelet.kubeconfig", k.DeclRange), "kubeconfig without mode = \"kubeconfig\"",
			"kubelet.kubeconfig is used by kubelet.mode = \"kubeconfig\" only; the %s mode does not read it. Set mode = \"kubeconfig\" or remove kubeconfig.", k.Mode)
	}
	if !oneOf(k.Mode, profile.KubeletKubeadm, profile.KubeletStandalone, profile.KubeletKubeconfig) {
		l.errorf(modeAt, "Invalid kubelet mode",
			"kubelet.mode is %q; use \"kubeadm\" (join a cluster with kubeadm, the default), \"standalone\" (static pods, no API server) or \"kubeconfig\" (a kubeconfig the node is given).", k.Mode)
		return
	}
	if l.written("kubelet.client_ca_file") && k.Mode != profile.KubeletKubeconfig {
		l.errorf(l.at("kubelet.client_ca_file", k.DeclRange), "client_ca_file without mode = \"kubeconfig\"",
			"kubelet.client_ca_file is used by kubelet.mode = \"kubeconfig\" only; the %s mode does not read it. Set mode = \"kubeconfig\" or remove client_ca_file.", k.Mode)
	}
	if k.Mode == profile.KubeletKubeconfig {
		l.absPath(k.Kubeconfig, "kubelet.kubeconfig", k.DeclRange)
		l.validateClientCA(p, modeAt)
	}
	if k.KubeadmMode() {
		l.validateKubeadmMode(p, modeAt)
	}
	if k.Mode != profile.KubeletStandalone {
		return
	}
	webhookAuthn, set := templates.Lookup(k.Config, "authentication", "webhook", "enabled").(bool)
	at := func(key string) *hcl.Range {
		if r, ok := k.ConfigRanges[key]; ok {
			return &r
		}
		return modeAt
	}
	if !set || webhookAuthn {
		l.errorf(at("authentication"), "Standalone kubelet with webhook authentication",
			"A standalone kubelet has no API server to check tokens with, and will not start with webhook authentication (the default). Add authentication = { webhook = { enabled = false } } to kubelet.config (and anonymous = { enabled = true } to let local clients in).")
	}
	if mode, _ := templates.Lookup(k.Config, "authorization", "mode").(string); mode != "AlwaysAllow" {
		l.errorf(at("authorization"), "Standalone kubelet with webhook authorization",
			"A standalone kubelet has no API server to authorize requests with, and will not start with authorization mode Webhook (the default). Add authorization = { mode = \"AlwaysAllow\" } to kubelet.config.")
	}
	if _, ok := k.Config["staticPodPath"]; !ok {
		l.warnf(modeAt, "Standalone kubelet without staticPodPath",
			"A standalone kubelet runs static pods only; set kubelet.config staticPodPath = \""+paths.KubeletManifests+"\" to give it some.")
	}
	if !k.Start {
		l.warnf(modeAt, "Standalone kubelet not started",
			"No kubeadm join will start a standalone kubelet; set kubelet.start = true to have nodeup start it.")
	}
}

// kubeletConfigDirSince is the first kubelet release whose drop-in
// directory (--config-dir) is on by default (beta; GA in 1.35).
const kubeletConfigDirSince = "1.30.0"

// validateKubeadmMode: kubeadm owns the kubelet's config file, so nodeup's
// settings reach the kubelet through its drop-in directory, and kubeadm
// itself must find containerd.
func (l *loader) validateKubeadmMode(p *profile.Profile, modeAt *hcl.Range) {
	k := p.Kubelet
	if k.Version != "" && profile.CompareVersions(k.Version, kubeletConfigDirSince) < 0 {
		l.errorf(l.at("kubelet.version", k.DeclRange), "kubelet too old for kubeadm mode",
			"With kubelet.mode = \"kubeadm\" nodeup leaves kubeadm's %s alone and passes its settings in %s (--config-dir), which kubelet %s does not read by default; use kubelet 1.30 or later.",
			paths.KubeletConfig, paths.KubeletConfigDropIn, k.Version)
	}
	if p.Node.OS == profile.OSLinux && p.Containerd.Socket != paths.ContainerdSocket {
		at := l.at("containerd.socket", p.Containerd.DeclRange)
		l.warnf(at, "kubeadm does not know this CRI socket",
			"kubeadm looks for containerd at %s, not at %s: pass --cri-socket %s to kubeadm init and kubeadm join (or set nodeRegistration.criSocket in their configuration).",
			paths.ContainerdSocket, p.Containerd.Socket, p.RuntimeEndpoint())
	}
}

// validateClientCA: a kubelet given a kubeconfig serves its API to the API
// server, whose client certificate it checks against a CA it must be told.
func (l *loader) validateClientCA(p *profile.Profile, modeAt *hcl.Range) {
	k := p.Kubelet
	inConfig, _ := templates.Lookup(k.Config, "authentication", "x509", "clientCAFile").(string)
	switch {
	case k.ClientCAFile == "" && inConfig == "":
		l.errorf(modeAt, "kubeconfig mode without a client CA",
			"A kubelet given a kubeconfig checks the API server's client certificate against the cluster's CA; set kubelet.client_ca_file to that CA's file on the node, such as \"/etc/kubernetes/pki/ca.crt\".")
	case k.ClientCAFile != "" && inConfig != "" && inConfig != k.ClientCAFile:
		l.errorf(l.configKeyAt(p, "authentication"), "Two client CAs",
			"kubelet.config sets authentication.x509.clientCAFile = %q and kubelet.client_ca_file is %q; keep kubelet.client_ca_file only.", inConfig, k.ClientCAFile)
	case k.ClientCAFile != "":
		l.absPath(k.ClientCAFile, "kubelet.client_ca_file", k.DeclRange)
	}
}

// flagAt is where kubelet.flags[i] was written, else the attribute.
func (l *loader) flagAt(p *profile.Profile, i int) *hcl.Range {
	if i < len(p.Kubelet.FlagRanges) {
		r := p.Kubelet.FlagRanges[i]
		return &r
	}
	return l.at("kubelet.flags", p.Kubelet.DeclRange)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// leafErrors flattens errors.Join trees, so every problem is reported.
func leafErrors(err error) []error {
	if err == nil {
		return nil
	}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range joined.Unwrap() {
			out = append(out, leafErrors(e)...)
		}
		return out
	}
	return []error{err}
}

// configKeyAt is where a kubelet.config key was written; a nested field
// ("evictionHard.memory.available") points at its top-level key.
func (l *loader) configKeyAt(p *profile.Profile, field string) *hcl.Range {
	top, _, _ := strings.Cut(field, ".")
	if r, ok := p.Kubelet.ConfigRanges[top]; ok {
		return &r
	}
	return l.at("kubelet.config", p.Kubelet.DeclRange)
}

func (l *loader) validateVerify(p *profile.Profile) {
	names := map[string]bool{}
	for _, r := range p.Runtimes {
		names[r.Name] = true
	}
	for _, h := range p.Verify.Handlers {
		if !names[h] {
			l.errorf(l.at("verify.handlers", hcl.Range{}), "Unknown handler", "verify.handlers names %q, which no runtime block declares.", h)
		}
	}
	if _, err := images.Normalize(p.Verify.PodImage); err != nil && l.written("verify.pod_image") {
		l.errorf(l.at("verify.pod_image", hcl.Range{}), "Invalid pod image", "verify.pod_image: %s.", err)
	}
	if p.Verify.NetworkReady && p.CNI == nil {
		l.errorf(l.at("verify.network_ready", hcl.Range{}), "network_ready without CNI", "verify.network_ready = true needs a cni block and a network config in its conf_dir.")
	}
}
