package templates

import (
	"fmt"
	"io"
	"strings"

	"github.com/coreos/go-systemd/v22/unit"

	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/profile"
)

// ContainerdUnit renders /etc/systemd/system/containerd.service for a
// release install, as upstream's containerd.service: Type=notify (containerd
// reports readiness), Delegate=yes (runc manages the cgroups below it),
// KillMode=process (restarting containerd leaves the shims and containers
// running), no limit on tasks, and an OOM score that keeps it alive under
// memory pressure. Only 1.x's unit lifts the open-files limit: from 2.0 the
// CRI no longer sets rlimits in container specs, so containers inherit the
// daemon's, and upstream's unit leaves systemd's default in place.
func ContainerdUnit(version string) ([]byte, error) {
	opts := []*unit.UnitOption{
		unit.NewUnitOption("Unit", "Description", "containerd container runtime"),
		unit.NewUnitOption("Unit", "Documentation", "https://containerd.io"),
		unit.NewUnitOption("Unit", "After", "network.target local-fs.target dbus.service"),

		// overlay is containerd's default snapshotter; "-" because it may be built in.
		unit.NewUnitOption("Service", "ExecStartPre", "-/sbin/modprobe overlay"),
		unit.NewUnitOption("Service", "ExecStart", paths.Containerd),
		unit.NewUnitOption("Service", "Type", "notify"),
		unit.NewUnitOption("Service", "Delegate", "yes"),
		unit.NewUnitOption("Service", "KillMode", "process"),
		unit.NewUnitOption("Service", "Restart", "always"),
		unit.NewUnitOption("Service", "RestartSec", "5"),
		unit.NewUnitOption("Service", "LimitNPROC", "infinity"),
		unit.NewUnitOption("Service", "LimitCORE", "infinity"),
	}
	if !atLeast(version, "v2.0.0") {
		opts = append(opts, unit.NewUnitOption("Service", "LimitNOFILE", "infinity"))
	}
	return serializeUnit(append(opts,
		unit.NewUnitOption("Service", "TasksMax", "infinity"),
		unit.NewUnitOption("Service", "OOMScoreAdjust", "-999"),

		unit.NewUnitOption("Install", "WantedBy", "multi-user.target"),
	))
}

// KubeletUnit renders /etc/systemd/system/kubelet.service, for a kubelet
// nodeup installs (InstallsKubelet), as kubeadm's packages ship it: a bare kubelet restarted forever (it crash-loops until
// kubeadm join writes its kubeconfig); the drop-in adds the flags.
func KubeletUnit(p *profile.Profile) ([]byte, error) {
	return serializeUnit([]*unit.UnitOption{
		unit.NewUnitOption("Unit", "Description", "kubelet: The Kubernetes Node Agent"),
		unit.NewUnitOption("Unit", "Documentation", "https://kubernetes.io/docs/"),
		unit.NewUnitOption("Unit", "Wants", "network-online.target"),
		unit.NewUnitOption("Unit", "After", "network-online.target containerd.service"),
		// The default start limit would stop the crash loop before kubeadm join.
		unit.NewUnitOption("Unit", "StartLimitIntervalSec", "0"),

		unit.NewUnitOption("Service", "ExecStart", kubeletBin(p)),
		unit.NewUnitOption("Service", "Restart", "always"),
		unit.NewUnitOption("Service", "RestartSec", "10"),

		unit.NewUnitOption("Install", "WantedBy", "multi-user.target"),
	})
}

// KubeletDropIn renders kubelet.service.d/10-nodeup.conf: an ExecStart
// reset, then the kubelet with the flags of its mode, and kubelet.flags in
// order. Joining with kubeadm (the default) it is kubeadmDropIn. A
// standalone kubelet gets --config (the rendered KubeletConfiguration)
// alone; a kubelet given a kubeconfig gets --kubeconfig with its path too.
func KubeletDropIn(p *profile.Profile) ([]byte, error) {
	if p.Kubelet.KubeadmMode() {
		return kubeadmDropIn(p)
	}
	args := []string{kubeletBin(p)}
	if p.Kubelet.Mode == profile.KubeletKubeconfig {
		args = append(args, "--kubeconfig="+p.Kubelet.Kubeconfig)
	}
	args = append(args, "--config="+paths.KubeletConfig)
	opts, exec, err := kubeletExec(p, args)
	if err != nil {
		return nil, err
	}
	return serializeUnit(append(opts,
		unit.NewUnitOption("Service", "ExecStart", ""),
		unit.NewUnitOption("Service", "ExecStart", exec)))
}

// kubeadmDropIn is the drop-in of kubeadm mode, with the semantics of
// kubeadm's own 10-kubeadm.conf, which it replaces: kubeadm's kubeconfigs
// and config file, the flags kubeadm join writes (kubeadm-flags.env), the
// package's KUBELET_EXTRA_ARGS, then nodeup's drop-in directory
// (--config-dir, where KubeletConfigYAML goes), the runtime labels and
// kubelet.flags last, so they win. nodeup owns no file kubeadm writes.
func kubeadmDropIn(p *profile.Profile) ([]byte, error) {
	opts := []*unit.UnitOption{
		unit.NewUnitOption("Service", "Environment", `"KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=`+paths.KubeletBootstrapConfig+` --kubeconfig=`+paths.KubeletKubeconfig+`"`),
		unit.NewUnitOption("Service", "Environment", `"KUBELET_CONFIG_ARGS=--config=`+paths.KubeletConfig+`"`),
		unit.NewUnitOption("Service", "EnvironmentFile", "-"+paths.KubeadmFlags),
		unit.NewUnitOption("Service", "EnvironmentFile", "-"+paths.KubeletDefaults),
		unit.NewUnitOption("Service", "EnvironmentFile", "-"+paths.KubeletSysconfig),
	}
	bin, err := execQuote(kubeletBin(p))
	if err != nil {
		return nil, err
	}
	more, exec, err := kubeletExec(p, []string{"--config-dir=" + paths.KubeletConfigDir})
	if err != nil {
		return nil, err
	}
	exec = bin + " $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS " + exec
	return serializeUnit(append(append(opts, more...),
		unit.NewUnitOption("Service", "ExecStart", ""),
		unit.NewUnitOption("Service", "ExecStart", exec)))
}

// kubeletExec is the kubelet's command line from args on: args, the
// credential providers' flags, the labels of the node's runtimes, then
// kubelet.flags, each quoted for systemd; a flag holding a sensitive value
// is named by its variable in KubeletSecretFlagsEnv, whose EnvironmentFile
// option opts holds.
func kubeletExec(p *profile.Profile, args []string) (opts []*unit.UnitOption, exec string, err error) {
	args = append(args, credentialProviderArgs(p)...)
	// The labels the RuntimeClasses of its other handlers select; a
	// --node-labels of kubelet.flags adds to them (the kubelet merges).
	if labels := p.RuntimeLabels(); len(labels) > 0 {
		args = append(args, "--node-labels="+strings.Join(labels, ","))
	}
	quoted := make([]string, 0, len(args)+len(p.Kubelet.Flags))
	for _, a := range args {
		q, err := execQuote(a)
		if err != nil {
			return nil, "", fmt.Errorf("kubelet flag %q: %w", a, err)
		}
		quoted = append(quoted, q)
	}
	// A flag with a sensitive value stays out of the unit, which anyone
	// reads: the drop-in names its variable in KubeletSecretFlagsEnv.
	for i, f := range p.Kubelet.Flags {
		if secretFlag(p, i) {
			quoted = append(quoted, "${"+secretFlagVar(i)+"}")
			continue
		}
		q, err := execQuote(f)
		if err != nil {
			return nil, "", fmt.Errorf("kubelet flag %q: %w", f, err)
		}
		quoted = append(quoted, q)
	}
	if HasSecretFlags(p) {
		opts = append(opts, unit.NewUnitOption("Service", "EnvironmentFile", paths.KubeletSecretFlags))
	}
	return opts, strings.Join(quoted, " "), nil
}

func secretFlag(p *profile.Profile, i int) bool {
	return i < len(p.Kubelet.SecretFlags) && p.Kubelet.SecretFlags[i]
}

func secretFlagVar(i int) string { return fmt.Sprintf("NODEUP_KUBELET_FLAG_%d", i) }

// HasSecretFlags reports whether a kubelet.flags entry holds a sensitive
// value, so KubeletSecretFlagsEnv is written.
func HasSecretFlags(p *profile.Profile) bool {
	for i := range p.Kubelet.Flags {
		if secretFlag(p, i) {
			return true
		}
	}
	return false
}

// KubeletSecretFlagsEnv renders paths.KubeletSecretFlags, mode 0600: one
// variable per kubelet.flags entry holding a sensitive value, which the
// drop-in's ExecStart passes as one argument (${VAR}).
func KubeletSecretFlagsEnv(p *profile.Profile) (File, error) {
	var b strings.Builder
	b.WriteString("# " + header + "\n")
	for i, f := range p.Kubelet.Flags {
		if !secretFlag(p, i) {
			continue
		}
		if strings.ContainsAny(f, "\n\r") {
			return File{}, fmt.Errorf("kubelet flag %d: a newline cannot be passed in an environment file", i)
		}
		fmt.Fprintf(&b, "%s=\"%s\"\n", secretFlagVar(i), EscapeQuoted(f))
	}
	return File{Path: paths.KubeletSecretFlags, Mode: 0o600, Content: []byte(b.String())}, nil
}

// InstallsKubelet reports whether nodeup installs the kubelet binary (its
// version is pinned). A kubelet block without a version configures the
// kubelet of the distribution's or Kubernetes' packages instead: its binary
// at /usr/bin/kubelet and its own kubelet.service.
func InstallsKubelet(p *profile.Profile) bool {
	return p.Kubelet.Declared && p.Kubelet.Version != "" && p.Kubelet.Source != profile.SourcePackage
}

func kubeletBin(p *profile.Profile) string {
	if !InstallsKubelet(p) {
		return paths.PackageKubelet
	}
	return paths.Kubelet
}

// serializeUnit is a unit file: a header comment, then go-systemd's
// serialization of the options (sections in order of first appearance).
func serializeUnit(opts []*unit.UnitOption) ([]byte, error) {
	body, err := io.ReadAll(unit.Serialize(opts))
	if err != nil {
		return nil, fmt.Errorf("serializing unit: %w", err)
	}
	return append([]byte("# "+header+"\n"), body...), nil
}

// execQuote makes one ExecStart argument survive systemd's parsing: "%"
// and "$" would expand as specifiers and variables, and an argument with
// spaces or quotes needs double quotes with backslash escapes.
func execQuote(arg string) (string, error) {
	if strings.ContainsAny(arg, "\n\r") {
		return "", fmt.Errorf("a newline cannot be passed in a unit file")
	}
	arg = EscapeSpecifiers(arg)
	if arg != "" && !strings.ContainsAny(arg, " \t\"'\\;") {
		return arg, nil
	}
	return `"` + EscapeQuoted(arg) + `"`, nil
}

// EscapeSpecifiers doubles "%" and "$" so systemd reads them literally in
// an ExecStart argument (no specifier, no variable expansion).
func EscapeSpecifiers(s string) string { return strings.NewReplacer("%", "%%", "$", "$$").Replace(s) }

// EscapeQuoted escapes the inside of a double-quoted unit-file argument.
func EscapeQuoted(s string) string { return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) }
