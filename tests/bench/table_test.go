package bench

import (
	"strings"
	"testing"
	"time"
)

func TestOfAndPaired(t *testing.T) {
	if st := Of([]float64{3, 1, 2, 10}); st.Median != 2.5 || st.Min != 1 || st.Max != 10 {
		t.Errorf("Of: %+v", st)
	}
	s := func(d ...float64) []Sample {
		var out []Sample
		for _, v := range d {
			out = append(out, Sample{Cold: time.Duration(v * float64(time.Second))})
		}
		return out
	}
	// A load spike in round 2 slows both; the paired ratio sees through it.
	if p := paired(s(1, 5, 1.1), cold, s(2, 10, 2.2), cold); p != 0.5 {
		t.Errorf("paired: %v, want 0.5", p)
	}
}

func TestTableJudgesPairedRatios(t *testing.T) {
	sec := func(v float64) time.Duration { return time.Duration(v * float64(time.Second)) }
	r := Report{Runs: 3, Profile: "profiles/demo.hcl", Samples: map[string][]Sample{}}
	for _, load := range []float64{1, 3, 1} {
		r.Samples["nodeup"] = append(r.Samples["nodeup"], Sample{Cold: sec(1 * load), Noop: sec(0.05 * load), Plan: sec(0.04 * load), RSSKiB: 30 << 10})
		r.Samples["script"] = append(r.Samples["script"], Sample{Cold: sec(3 * load), Noop: sec(3 * load)})
		r.Samples["ansible"] = append(r.Samples["ansible"], Sample{Cold: sec(20 * load), Noop: sec(15 * load)})
		r.Samples["floor"] = append(r.Samples["floor"], Sample{Cold: sec(0.9 * load), Unpack: sec(0.6 * load), Start: sec(0.3 * load)})
	}
	out := r.Table()
	t.Log(out)
	for _, want := range []string{"nodeup/script 0.333x", "<= 0.55x met", "<= 1.2x met", "< 64 MiB (max) met", "/nodeup cold 0.050x"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q", want)
		}
	}
	if strings.Contains(out, "MISSED") {
		t.Errorf("a target is missed in:\n%s", out)
	}
}
