package templates

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/profile"
)

// The KubeletConfiguration type this package renders.
const (
	kubeletConfigKind       = "KubeletConfiguration"
	kubeletConfigAPIVersion = "kubelet.config.k8s.io/v1beta1"
)

// UnknownFieldError says that kubelet.config sets a field KubeletConfiguration
// does not have. Field is its JSON path, e.g. "maxPod" or "authentication.x509.foo".
type UnknownFieldError struct {
	Field string
}

func (e *UnknownFieldError) Error() string {
	return fmt.Sprintf("kubelet config: %q is not a KubeletConfiguration (%s) field", e.Field, kubeletConfigAPIVersion)
}

// ConflictError says that kubelet.config sets a field against the value the
// node settings give it (cgroupDriver from node.cgroup_driver,
// containerRuntimeEndpoint from containerd.socket and node.os, and on
// Windows the fields a Windows kubelet refuses).
type ConflictError struct {
	Field string
	Owner string // the setting that gives the field its value
	Want  string // what the node settings give, as JSON; "" when the field must stay unset
	Got   string // what kubelet.config says, as JSON
}

func (e *ConflictError) Error() string {
	if e.Want == "" {
		return fmt.Sprintf("kubelet config: %s = %s is not used with %s; drop it from kubelet.config", e.Field, e.Got, e.Owner)
	}
	return fmt.Sprintf("kubelet config: %s = %s conflicts with %s, which gives %s; drop it from kubelet.config",
		e.Field, e.Got, e.Owner, e.Want)
}

// InvalidValueError says that a kubelet.config field has a value of the wrong type.
type InvalidValueError struct {
	Field string // JSON path, empty when unknown
	Msg   string
}

func (e *InvalidValueError) Error() string {
	if e.Field == "" {
		return "kubelet config: " + e.Msg
	}
	return fmt.Sprintf("kubelet config: %s: %s", e.Field, e.Msg)
}

// derivedField is a KubeletConfiguration field nodeup sets from the node
// settings so that the kubelet and containerd agree.
type derivedField struct {
	field string
	owner string
	want  any // nil: the field must stay unset
}

// derivedFields are the fields KubeletConfiguration takes from the node
// settings rather than from kubelet.config.
func derivedFields(p *profile.Profile) []derivedField {
	endpointOwner := "containerd.socket"
	if p.Node.OS == profile.OSWindows {
		windows := fmt.Sprintf("node.os = %q", profile.OSWindows)
		return []derivedField{
			// Windows has no cgroups; its kubelet refuses QoS cgroups and
			// node-allocatable enforcement.
			{"cgroupDriver", windows, nil},
			{"cgroupsPerQOS", windows, false},
			{"enforceNodeAllocatable", windows, []string{"none"}},
			{"containerRuntimeEndpoint", windows, p.RuntimeEndpoint()},
		}
	}
	return append([]derivedField{
		{"cgroupDriver", "node.cgroup_driver", p.Node.CgroupDriver},
		{"containerRuntimeEndpoint", endpointOwner, p.RuntimeEndpoint()},
	}, reservedFields(p)...)
}

// KubeletConfiguration builds the node's KubeletConfiguration: the fields
// of p.Kubelet.Config (JSON names, decoded strictly: names are
// case-sensitive and an unknown one is an *UnknownFieldError; a value of the
// wrong type is an *InvalidValueError), then the fields derivedFields gives
// (cgroupDriver from p.Node.CgroupDriver, containerRuntimeEndpoint from
// p.RuntimeEndpoint(), and on Windows no cgroup driver, no QoS cgroups and
// no node-allocatable enforcement), so containerd and the kubelet agree by
// construction. Setting one of those in kubelet.config to another value is
// a *ConflictError. A field the kubelet of p.Kubelet.Version does not have
// (kubeletFields: added by a later release or dropped by an earlier one) is
// a *FieldReleaseError. Each top-level field is decoded on its own, so every
// error is found; all are returned together (errors.Join).
func KubeletConfiguration(p *profile.Profile) (*kubeletv1beta1.KubeletConfiguration, error) {
	cfg := &kubeletv1beta1.KubeletConfiguration{}
	// Fields the kubelet of kubelet.version lacks; a field the rendered
	// type lacks too is reported once, as of that release.
	releaseErrs := FieldReleaseErrors(p.Kubelet.Version, p.Kubelet.Config)
	byRelease := map[string]bool{}
	for _, e := range releaseErrs {
		byRelease[e.Field] = true
	}
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(p.Kubelet.Config)) {
		data, err := json.Marshal(map[string]any{k: p.Kubelet.Config[k]})
		if err != nil {
			errs = append(errs, &InvalidValueError{Field: k, Msg: err.Error()})
			continue
		}
		strict, err := sigsjson.UnmarshalStrict(data, cfg, sigsjson.DisallowUnknownFields)
		if err != nil {
			errs = append(errs, invalidValue(err, k))
			continue
		}
		for _, e := range strict {
			if u := unknownField(e); !byRelease[u.Field] {
				errs = append(errs, u)
			}
		}
	}
	for _, e := range releaseErrs {
		errs = append(errs, e)
	}

	for _, d := range derivedFields(p) {
		got, set := p.Kubelet.Config[d.field]
		if set && !sameValue(got, d.want) {
			ce := &ConflictError{Field: d.field, Owner: d.owner, Got: jsonText(got)}
			if d.want != nil {
				ce.Want = jsonText(d.want)
			}
			errs = append(errs, ce)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if p.Node.OS == profile.OSWindows {
		cfg.CgroupDriver = ""
		cfg.CgroupsPerQOS = ptr(false)
		cfg.EnforceNodeAllocatable = []string{"none"}
	} else {
		cfg.CgroupDriver = p.Node.CgroupDriver
		if p.Kubelet.Reserved != nil {
			applyReserved(cfg, p.Kubelet.Reserved)
		}
	}
	cfg.ContainerRuntimeEndpoint = p.RuntimeEndpoint()
	modeDefaults(p, cfg)
	cfg.Kind = kubeletConfigKind
	cfg.APIVersion = kubeletConfigAPIVersion
	return cfg, nil
}

// StandaloneAddress is where a standalone kubelet serves its API unless
// kubelet.config sets address: it authorizes every request (no API server
// to ask), so only the node itself may reach it.
const StandaloneAddress = "127.0.0.1"

// modeDefaults sets what kubelet.mode implies and kubelet.config left out:
// a standalone kubelet listens on StandaloneAddress; a kubelet given a
// kubeconfig checks client certificates against kubelet.client_ca_file and
// renews its own certificate.
func modeDefaults(p *profile.Profile, cfg *kubeletv1beta1.KubeletConfiguration) {
	_, setAddress := p.Kubelet.Config["address"]
	_, setRotate := p.Kubelet.Config["rotateCertificates"]
	switch p.Kubelet.Mode {
	case profile.KubeletStandalone:
		if !setAddress {
			cfg.Address = StandaloneAddress
		}
	case profile.KubeletKubeconfig:
		if cfg.Authentication.X509.ClientCAFile == "" {
			cfg.Authentication.X509.ClientCAFile = p.Kubelet.ClientCAFile
		}
		if !setRotate {
			cfg.RotateCertificates = true
		}
	}
}

func ptr[T any](v T) *T { return &v }

// jsonText is v as JSON, the way kubelet.config values read in YAML.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// KubeletConfigYAML renders the KubeletConfiguration at p.Layout().KubeletConfig
// (/var/lib/kubelet/config.yaml; in kubeadm mode a drop-in of the kubelet's
// --config-dir, which holds only nodeup's keys over kubeadm's file). Keys are sorted; fields left at their zero value
// are omitted (the typed struct would print every duration as "0s") unless
// kubelet.config set them explicitly.
func KubeletConfigYAML(p *profile.Profile) ([]byte, error) {
	cfg, err := KubeletConfiguration(p)
	if err != nil {
		return nil, err
	}
	doc, err := toJSONMap(cfg)
	if err != nil {
		return nil, err
	}
	zero, err := toJSONMap(&kubeletv1beta1.KubeletConfiguration{})
	if err != nil {
		return nil, err
	}
	pruneZero(doc, zero, p.Kubelet.Config)
	out, err := yaml.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("kubelet config: %w", err)
	}
	return append([]byte("# "+header+"\n"), out...), nil
}

// toJSONMap is v as its generic JSON document.
func toJSONMap(v any) (map[string]any, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("kubelet config: %w", err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("kubelet config: %w", err)
	}
	return m, nil
}

// pruneZero deletes from doc every key whose value equals the one in zero
// (the document of an empty struct) and every table left empty by that,
// keeping the keys the user set (user mirrors doc's shape where it exists).
func pruneZero(doc, zero, user map[string]any) {
	for k, v := range doc {
		uv, userSet := user[k]
		sub, isMap := v.(map[string]any)
		switch {
		case isMap:
			zsub, _ := zero[k].(map[string]any)
			usub, _ := uv.(map[string]any)
			pruneZero(sub, zsub, usub)
			if len(sub) == 0 && !userSet {
				delete(doc, k)
			}
		case userSet:
		case reflect.DeepEqual(v, zero[k]):
			delete(doc, k)
		}
	}
}

// unknownField turns one of sigs.k8s.io/json's strict errors into an
// *UnknownFieldError naming the field's path.
func unknownField(err error) *UnknownFieldError {
	var fe sigsjson.FieldError
	if errors.As(err, &fe) {
		return &UnknownFieldError{Field: fe.FieldPath()}
	}
	// Not expected: strict errors carry their path. Keep the message.
	return &UnknownFieldError{Field: strings.TrimPrefix(err.Error(), "unknown field ")}
}

// invalidValue turns a JSON decoding error of top-level field key into an
// *InvalidValueError, naming the (nested) field when the error does.
func invalidValue(err error, key string) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = key
		}
		return &InvalidValueError{Field: field, Msg: fmt.Sprintf("cannot use a %s as %s", te.Value, te.Type)}
	}
	return &InvalidValueError{Field: key, Msg: err.Error()}
}

// FlagConflictError says that a kubelet.flags entry sets what nodeup
// already gives the kubelet: a flag of its drop-in, a field nodeup derives
// from the node settings, or a field kubelet.config sets. The kubelet would
// take the flag and disagree with the rendered configuration.
type FlagConflictError struct {
	Index int    // in p.Kubelet.Flags
	Flag  string // e.g. --cgroup-driver
	Owner string // what sets it, e.g. node.cgroup_driver or kubelet.config.maxPods
	Fix   string // what to do instead
}

func (e *FlagConflictError) Error() string {
	return fmt.Sprintf("kubelet flag %s overrides %s; %s", e.Flag, e.Owner, e.Fix)
}

// KubeletFlagConflicts checks p.Kubelet.Flags against what the drop-in and
// the KubeletConfiguration already set, and returns a *FlagConflictError
// for each flag that would override them.
func KubeletFlagConflicts(p *profile.Profile) []error {
	type owner struct{ setting, fix string }
	useSetting := func(setting string) owner {
		return owner{setting, "remove the flag and set " + setting + " instead"}
	}
	dropIn := func(what, path string) owner {
		return owner{"the " + what + " nodeup's kubelet drop-in passes (" + path + ")", "remove the flag"}
	}
	config := owner{"the kubelet config nodeup renders (" + paths.KubeletConfig + ")", "remove the flag and put the settings in kubelet.config"}
	if p.Kubelet.KubeadmMode() {
		config = owner{"the kubelet config kubeadm writes (" + paths.KubeletConfig + "), which nodeup's drop-in passes", "remove the flag and put the settings in kubelet.config"}
	}
	owners := map[string]owner{
		// The drop-in passes these; a second one would replace nodeup's.
		normalFlag("config"): config,
		// The endpoint and the pause image the runtime serves.
		normalFlag("image-service-endpoint"):    useSetting("containerd.socket"),
		normalFlag("pod-infra-container-image"): useSetting("containerd.sandbox_image"),
	}
	// The kubeconfigs follow kubelet.mode.
	switch p.Kubelet.Mode {
	case profile.KubeletStandalone:
		standalone := owner{`kubelet.mode = "standalone"`, `a standalone kubelet talks to no API server; to give it a kubeconfig set kubelet.mode = "kubeconfig" and kubelet.kubeconfig`}
		owners[normalFlag("kubeconfig")] = standalone
		owners[normalFlag("bootstrap-kubeconfig")] = standalone
	case profile.KubeletKubeconfig:
		owners[normalFlag("kubeconfig")] = useSetting("kubelet.kubeconfig")
	default:
		owners[normalFlag("kubeconfig")] = dropIn("kubeconfig", paths.KubeletKubeconfig)
		owners[normalFlag("bootstrap-kubeconfig")] = dropIn("bootstrap kubeconfig", paths.KubeletBootstrapConfig)
		owners[normalFlag("config-dir")] = owner{"the drop-in directory nodeup's kubelet config goes to (" + paths.KubeletConfigDir + ")", "remove the flag and put the settings in kubelet.config"}
	}
	if HasCredentialProviders(p) {
		providers := owner{"the credential providers nodeup gives the kubelet from kubelet.credential_provider (" + paths.CredentialProviderConfig + ", " + paths.CredentialProviderBinDir + ")",
			"remove the flag, or the credential_provider blocks to set the kubelet's providers up yourself"}
		owners[normalFlag(credentialProviderConfigFlag)] = providers
		owners[normalFlag(credentialProviderBinDirFlag)] = providers
	}
	for _, d := range derivedFields(p) {
		owners[flagName(d.field)] = useSetting(d.owner)
	}
	// Any other flag of a KubeletConfiguration field kubelet.config sets.
	for field := range p.Kubelet.Config {
		if _, taken := owners[flagName(field)]; !taken {
			owners[flagName(field)] = owner{"kubelet.config." + field, "keep one of the two: the flag would win"}
		}
	}
	var errs []error
	for i, f := range p.Kubelet.Flags {
		name, _, _ := strings.Cut(strings.TrimPrefix(f, "--"), "=")
		if o, ok := owners[normalFlag(name)]; ok {
			errs = append(errs, &FlagConflictError{Index: i, Flag: "--" + name, Owner: o.setting, Fix: o.fix})
		}
	}
	return errs
}

// flagName is the kubelet flag of a KubeletConfiguration field, in the form
// normalFlag gives: the field's name in lower case. The kubelet's flags are
// its fields' names with dashes (maxPods, --max-pods; clusterDNS, --cluster-dns).
func flagName(field string) string { return strings.ToLower(field) }

// normalFlag removes a flag's dashes and case, so it compares with flagName.
func normalFlag(name string) string { return strings.ToLower(strings.ReplaceAll(name, "-", "")) }
