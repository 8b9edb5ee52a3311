package templates

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"
)

// typeFieldPaths walks t the way internal/kubeletfields walks the source:
// JSON names, dotted into struct types (T, *T, []T) of t's own package;
// embedded types of other packages (metav1.TypeMeta) are left out.
func typeFieldPaths(t reflect.Type, prefix, pkg string, out *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		opts := strings.Split(f.Tag.Get("json"), ",")
		name := opts[0]
		if name == "-" {
			continue
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
			ft = ft.Elem()
		}
		local := ft.Kind() == reflect.Struct && ft.PkgPath() == pkg
		if f.Anonymous && (name == "" || slices.Contains(opts[1:], "inline")) {
			if local {
				typeFieldPaths(ft, prefix, pkg, out)
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		*out = append(*out, prefix+name)
		if local {
			typeFieldPaths(ft, prefix+name+".", pkg, out)
		}
	}
}

// The generated table agrees with the KubeletConfiguration nodeup renders
// (go.mod's k8s.io/kubelet): each of its fields is in the table and still
// there, and each field the table has as current is in the type. A
// failure after a k8s.io/kubelet update means: raise lastMinor in
// internal/kubeletfields and run go generate ./templates.
func TestKubeletFieldsMatchType(t *testing.T) {
	typ := reflect.TypeFor[kubeletv1beta1.KubeletConfiguration]()
	var paths []string
	typeFieldPaths(typ, "", typ.PkgPath(), &paths)
	if len(paths) < 100 {
		t.Fatalf("only %d field paths in KubeletConfiguration: %v", len(paths), paths)
	}
	for _, p := range paths {
		span, ok := kubeletFields[p]
		switch {
		case !ok:
			t.Errorf("KubeletConfiguration field %q is not in kubeletFields; regenerate the table (go generate ./templates)", p)
		case span.removed != 0:
			t.Errorf("KubeletConfiguration field %q: kubeletFields says 1.%d removed it", p, span.removed)
		}
	}
	for p, span := range kubeletFields {
		if span.removed == 0 && !slices.Contains(paths, p) {
			t.Errorf("kubeletFields has %q as current, but KubeletConfiguration has no such field", p)
		}
		if span.added < kubeletFieldsFirstMinor || span.added > kubeletFieldsLastMinor ||
			(span.removed != 0 && (span.removed <= span.added || span.removed > kubeletFieldsLastMinor)) {
			t.Errorf("kubeletFields[%q] = %+v is outside 1.%d-1.%d", p, span, kubeletFieldsFirstMinor, kubeletFieldsLastMinor)
		}
	}
	// Nested paths into the package's own types are in the table.
	for _, p := range []string{"authentication.x509.clientCAFile", "crashLoopBackOff.maxContainerRestartPeriod", "userNamespaces.idsPerPod"} {
		if _, ok := kubeletFields[p]; !ok {
			t.Errorf("kubeletFields has no %q", p)
		}
	}
}

func TestFieldReleaseErrors(t *testing.T) {
	config := map[string]any{
		"maxPods":                 110,
		"userNamespaces":          map[string]any{"idsPerPod": 65536}, // 1.33
		"memoryReservationPolicy": "None",                             // 1.36
		"notAField":               true,                               // left to the strict decoding
	}
	errs := FieldReleaseErrors("1.34.11", config)
	if len(errs) != 1 {
		t.Fatalf("1.34.11: got %v, want one error for memoryReservationPolicy", errs)
	}
	want := `kubelet 1.34.11 has no KubeletConfiguration field "memoryReservationPolicy": it was added in 1.36; remove it or use kubelet 1.36 or later`
	if got := errs[0].Error(); got != want {
		t.Errorf("error\n got %s\nwant %s", got, want)
	}
	// A release that has every field, one newer than the table, and
	// versions the table cannot judge pass.
	for _, v := range []string{"1.36.4", "v1.36.0", "1.37.2", "1.40.0", "1.29.15", "1.34.0-rc.1", "", "latest", "2.0.0"} {
		if errs := FieldReleaseErrors(v, config); len(errs) != 0 {
			t.Errorf("%q: unexpected %v", v, errs)
		}
	}
	if errs := FieldReleaseErrors("1.32.9", config); len(errs) != 2 || errs[0].Field != "memoryReservationPolicy" || errs[1].Field != "userNamespaces" || errs[1].Added != "1.33" {
		t.Errorf("1.32.9: got %v, want memoryReservationPolicy and userNamespaces", errs)
	}
}

// Nested fields, fields of list elements and removed fields, on a table
// of its own (upstream has none removed in the table's range).
func TestFieldReleaseErrorsNestedAndRemoved(t *testing.T) {
	saved := kubeletFields
	t.Cleanup(func() { kubeletFields = saved })
	kubeletFields = map[string]kubeletFieldSpan{
		"auth":           {added: 30},
		"auth.x509":      {added: 30},
		"auth.x509.new":  {added: 35},
		"gone":           {added: 30, removed: 33},
		"list":           {added: 30},
		"list.old":       {added: 30},
		"list.new":       {added: 36},
		"evictionHard":   {added: 30},
		"evictionHard.x": {added: 37}, // never reached: a map's keys are not fields
	}
	config := map[string]any{
		"auth":         map[string]any{"x509": map[string]any{"new": "a"}},
		"gone":         1,
		"list":         []any{map[string]any{"old": 1, "new": 2}, map[string]any{"new": 3}},
		"evictionHard": map[string]any{"memory.available": "100Mi"},
	}
	var got []string
	for _, e := range FieldReleaseErrors("1.34.2", config) {
		got = append(got, e.Error())
	}
	want := []string{
		`kubelet 1.34.2 has no KubeletConfiguration field "auth.x509.new": it was added in 1.35; remove it or use kubelet 1.35 or later`,
		`kubelet 1.34.2 has no KubeletConfiguration field "gone": it was removed in 1.33; remove it or use a kubelet older than 1.33`,
		`kubelet 1.34.2 has no KubeletConfiguration field "list.new": it was added in 1.36; remove it or use kubelet 1.36 or later`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if errs := FieldReleaseErrors("1.32.0", config); len(errs) != 2 {
		t.Errorf("1.32.0 has gone: got %v, want auth.x509.new and list.new", errs)
	}

	// A removed field the rendered type lacks too is one error, of the release.
	p := exampleProfile(t, "2.3.4")
	p.Kubelet.Version = "1.34.2"
	p.Kubelet.Config = map[string]any{"gone": 1}
	_, err := KubeletConfiguration(p)
	var fr *FieldReleaseError
	var unknown *UnknownFieldError
	if !errors.As(err, &fr) || fr.Removed != "1.33" || errors.As(err, &unknown) {
		t.Errorf("removed field: got %v, want its *FieldReleaseError only", err)
	}
	// Where the kubelet still has it, the rendered type's check stands.
	p.Kubelet.Version = "1.32.0"
	if _, err := KubeletConfiguration(p); !errors.As(err, &unknown) {
		t.Errorf("removed field with kubelet 1.32.0: got %v, want an *UnknownFieldError", err)
	}
}

// KubeletConfiguration refuses a field newer than kubelet.version and
// renders one the release has.
func TestKubeletConfigurationFieldRelease(t *testing.T) {
	p := exampleProfile(t, "2.3.4")
	p.Kubelet.Version = "1.34.11"
	p.Kubelet.Config = map[string]any{"maxPods": 110, "userNamespaces": map[string]any{"idsPerPod": 65536}}
	cfg, err := KubeletConfiguration(p)
	if err != nil {
		t.Fatalf("userNamespaces (1.33) with kubelet 1.34.11: %v", err)
	}
	if cfg.UserNamespaces == nil || cfg.UserNamespaces.IDsPerPod == nil || *cfg.UserNamespaces.IDsPerPod != 65536 {
		t.Errorf("userNamespaces = %+v", cfg.UserNamespaces)
	}

	p.Kubelet.Config["tlsCurvePreferences"] = []any{23}
	_, err = KubeletConfiguration(p)
	var fr *FieldReleaseError
	if !errors.As(err, &fr) || fr.Field != "tlsCurvePreferences" || fr.Added != "1.36" || fr.Version != "1.34.11" {
		t.Fatalf("tlsCurvePreferences (1.36) with kubelet 1.34.11: got %v, want a *FieldReleaseError", err)
	}
	var unknown *UnknownFieldError
	if errors.As(err, &unknown) {
		t.Errorf("also an unknown field: %v", unknown)
	}

	p.Kubelet.Version = "1.36.4"
	if _, err := KubeletConfiguration(p); err != nil {
		t.Errorf("tlsCurvePreferences with kubelet 1.36.4: %v", err)
	}
}
