package ops

import (
	"strings"
	"testing"
	"time"

	"github.com/nodeup/nodeup/state"
)

// nodeup_last_apply_ok is 1 only for an apply that converged and verified;
// nodeup_last_apply_verified says whether it verified.
func TestLastApplyMetricsAreHonest(t *testing.T) {
	for _, c := range []struct {
		last             state.LastApply
		ok, verifiedLine string
	}{
		{state.LastApply{OK: true, Verified: true}, "nodeup_last_apply_ok 1\n", "nodeup_last_apply_verified 1\n"},
		{state.LastApply{OK: true}, "nodeup_last_apply_ok 0\n", "nodeup_last_apply_verified 0\n"},
		{state.LastApply{Verified: true, Failed: 1}, "nodeup_last_apply_ok 0\n", "nodeup_last_apply_verified 1\n"},
	} {
		text := DriftMetrics{Applied: true, LastApply: c.last, At: time.Unix(0, 0)}.Text()
		if !strings.Contains(text, c.ok) || !strings.Contains(text, c.verifiedLine) {
			t.Errorf("%+v:\n%s", c.last, text)
		}
	}
}
