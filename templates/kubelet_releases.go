package templates

//go:generate go run ../internal/kubeletfields kubelet_fields.go

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/mod/semver"
)

// kubeletFieldSpan is the minor releases of Kubernetes 1.x whose kubelet
// has a KubeletConfiguration field: from added, until removed (0: still there).
type kubeletFieldSpan struct {
	added, removed int
}

// FieldReleaseError says that kubelet.config sets a KubeletConfiguration
// field the kubelet of kubelet.version does not have: one a later release
// added (Added) or an earlier one dropped (Removed). Such a kubelet refuses
// the configuration or ignores the field.
type FieldReleaseError struct {
	Field   string // JSON path, e.g. "userNamespaces" or "crashLoopBackOff.maxContainerRestartPeriod"
	Version string // kubelet.version
	Added   string // the minor release that added the field, e.g. "1.36"; "" when Removed is set
	Removed string // the minor release that dropped it
}

func (e *FieldReleaseError) Error() string {
	if e.Removed != "" {
		return fmt.Sprintf("kubelet %s has no KubeletConfiguration field %q: it was removed in %s; remove it or use a kubelet older than %s",
			e.Version, e.Field, e.Removed, e.Removed)
	}
	return fmt.Sprintf("kubelet %s has no KubeletConfiguration field %q: it was added in %s; remove it or use kubelet %s or later",
		e.Version, e.Field, e.Added, e.Added)
}

// kubeletMinor is the minor release of Kubernetes 1.x a kubelet version
// (1.34.11 or v1.34.11) belongs to, and whether kubeletFields can judge it:
// false for a version that is not a release (a pre-release, or not a
// version at all) or is older than the table.
func kubeletMinor(version string) (int, bool) {
	v := "v" + strings.TrimPrefix(version, "v")
	if !semver.IsValid(v) || semver.Prerelease(v) != "" || semver.Major(v) != "v1" {
		return 0, false
	}
	minor, err := strconv.Atoi(strings.TrimPrefix(semver.MajorMinor(v), "v1."))
	if err != nil || minor < kubeletFieldsFirstMinor {
		return 0, false
	}
	return minor, true
}

// FieldReleaseErrors checks the fields of config (kubelet.config: JSON
// names, decoded to maps and lists) against the kubelet release version:
// a *FieldReleaseError for each field that release does not have. Paths
// the table does not know (map keys, fields of types from other packages,
// misspellings) are left to the strict decoding of KubeletConfiguration,
// and so is a version the table cannot judge.
func FieldReleaseErrors(version string, config map[string]any) []*FieldReleaseError {
	minor, ok := kubeletMinor(version)
	if !ok {
		return nil
	}
	var errs []*FieldReleaseError
	reported := map[string]bool{} // list elements share their paths
	var walk func(v any, prefix string)
	walk = func(v any, prefix string) {
		switch v := v.(type) {
		case []any:
			// A list of structs: each element has the struct's fields.
			for _, e := range v {
				walk(e, prefix)
			}
		case map[string]any:
			for _, k := range slices.Sorted(maps.Keys(v)) {
				path := prefix + k
				span, known := kubeletFields[path]
				if !known || reported[path] {
					continue
				}
				switch {
				case minor < span.added || (span.removed != 0 && minor >= span.removed):
					reported[path] = true
				}
				switch {
				case minor < span.added:
					errs = append(errs, &FieldReleaseError{Field: path, Version: version, Added: minorName(span.added)})
				case span.removed != 0 && minor >= span.removed:
					errs = append(errs, &FieldReleaseError{Field: path, Version: version, Removed: minorName(span.removed)})
				default:
					walk(v[k], path+".")
				}
			}
		}
	}
	walk(config, "")
	return errs
}

func minorName(minor int) string { return fmt.Sprintf("1.%d", minor) }
