package profile

import "k8s.io/apimachinery/pkg/util/version"

// CompareVersions compares two component versions ("2.3.4" < "2.10.0",
// "v1.7.30" = "1.7.30"); a distribution's spelling such as "1.6.20~ds1"
// compares by its numeric part. A version that cannot be read sorts before
// every version that can, and two such compare as strings.
func CompareVersions(a, b string) int {
	va, ea := version.ParseGeneric(a)
	vb, eb := version.ParseGeneric(b)
	switch {
	case ea != nil && eb != nil:
		switch {
		case a < b:
			return -1
		case a > b:
			return 1
		}
		return 0
	case ea != nil:
		return -1
	case eb != nil:
		return 1
	}
	switch {
	case va.LessThan(vb):
		return -1
	case va.GreaterThan(vb):
		return 1
	}
	return 0
}
