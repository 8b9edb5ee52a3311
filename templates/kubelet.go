package templates

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

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
// containerRuntimeEndpoint from containerd.socket and node.os).
type ConflictError struct {
	Field string
	Want  string // what the node settings give
	Got   string // what kubelet.config says
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("kubelet config: %s = %q conflicts with the node settings, which give %q; drop it from kubelet.config",
		e.Field, e.Got, e.Want)
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

// KubeletConfiguration builds the node's KubeletConfiguration: the fields
// of p.Kubelet.Config (JSON names, decoded strictly: names are
// case-sensitive and an unknown one is an *UnknownFieldError; a value of the
// wrong type is an *InvalidValueError), then cgroupDriver from
// p.Node.CgroupDriver and containerRuntimeEndpoint from p.RuntimeEndpoint(),
// so containerd and the kubelet agree by construction. Setting either of
// those two in kubelet.config to another value is a *ConflictError. All
// errors found are returned together (errors.Join).
func KubeletConfiguration(p *profile.Profile) (*kubeletv1beta1.KubeletConfiguration, error) {
	cfg := &kubeletv1beta1.KubeletConfiguration{}
	if len(p.Kubelet.Config) > 0 {
		data, err := json.Marshal(p.Kubelet.Config)
		if err != nil {
			return nil, &InvalidValueError{Msg: err.Error()}
		}
		strict, err := sigsjson.UnmarshalStrict(data, cfg, sigsjson.DisallowUnknownFields)
		if err != nil {
			return nil, invalidValue(err)
		}
		var errs []error
		for _, e := range strict {
			errs = append(errs, unknownField(e))
		}
		if len(errs) > 0 {
			return nil, errors.Join(errs...)
		}
	}

	want := []struct {
		field string
		value *string
		want  string
	}{
		{"cgroupDriver", &cfg.CgroupDriver, p.Node.CgroupDriver},
		{"containerRuntimeEndpoint", &cfg.ContainerRuntimeEndpoint, p.RuntimeEndpoint()},
	}
	var errs []error
	for _, w := range want {
		if *w.value != "" && *w.value != w.want {
			errs = append(errs, &ConflictError{Field: w.field, Want: w.want, Got: *w.value})
		}
		*w.value = w.want
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	cfg.Kind = kubeletConfigKind
	cfg.APIVersion = kubeletConfigAPIVersion
	return cfg, nil
}

// KubeletConfigYAML renders /var/lib/kubelet/config.yaml from
// KubeletConfiguration(p). Keys are sorted; fields left at their zero value
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
func unknownField(err error) error {
	var fe sigsjson.FieldError
	if errors.As(err, &fe) {
		return &UnknownFieldError{Field: fe.FieldPath()}
	}
	// Not expected: strict errors carry their path. Keep the message.
	return &UnknownFieldError{Field: strings.TrimPrefix(err.Error(), "unknown field ")}
}

// invalidValue turns a JSON decoding error into an *InvalidValueError,
// naming the field when the error does.
func invalidValue(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return &InvalidValueError{Field: te.Field, Msg: fmt.Sprintf("cannot use a %s as %s", te.Value, te.Type)}
	}
	return &InvalidValueError{Msg: err.Error()}
}
