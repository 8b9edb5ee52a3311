package plan

import "testing"

// matchImages patterns as the kubelet documents them pass; what the
// kubelet would read otherwise than meant does not.
func TestCheckMatchImage(t *testing.T) {
	for _, ok := range []string{
		"123456789.dkr.ecr.us-east-1.amazonaws.com", "*.dkr.ecr.*.amazonaws.com", "*.azurecr.io", "gcr.io",
		"*.*.registry.io", "registry.io:8080/path", "app*.k8s.io", "k8s.*", "registry.internal:5000",
		"10.0.0.5:5000/team", "[fd00::1]:5000",
	} {
		if err := checkMatchImage(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{
		"", "https://gcr.io", "gcr.io:https", "gcr.io:*", "reg?.io", "gcr.io/#x", "user@gcr.io",
		"gcr.io/*/team", "gcr.io/team[0]", "bad..host", "under score!.io", "/path/only", "registry-[ab].internal",
	} {
		if err := checkMatchImage(bad); err == nil {
			t.Errorf("%q passes", bad)
		}
	}
}
