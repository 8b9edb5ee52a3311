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

func TestTableShapedNetwork(t *testing.T) {
	sec := func(v float64) time.Duration { return time.Duration(v * float64(time.Second)) }
	r := Report{Runs: 2, FleetRuns: 2, FleetSize: 10, Profile: "profiles/demo.hcl", LinkRate: 200_000_000,
		WAN: "20ms each way", RTT: 40 * time.Millisecond,
		Samples: map[string][]Sample{}, Net: map[string][]Sample{}, Fleet: map[string][]FleetSample{}}
	for _, load := range []float64{1, 2} {
		r.Net["nodeup"] = append(r.Net["nodeup"], Sample{Cold: sec(4 * load), Noop: sec(0.05 * load), ColdBytes: 77.5e6})
		r.Net["script"] = append(r.Net["script"], Sample{Cold: sec(7 * load), Noop: sec(7 * load), ColdBytes: 77.5e6, NoopBytes: 77.5e6})
		r.Net["ansible"] = append(r.Net["ansible"], Sample{Cold: sec(18 * load), Noop: sec(11 * load), ColdBytes: 77.5e6})
		r.Net["floor"] = append(r.Net["floor"], Sample{Cold: sec(3.9 * load), ColdBytes: 77.5e6})
		r.Net["failover"] = append(r.Net["failover"], Sample{Cold: sec(4*load + 5.5), ColdBytes: 77.5e6})
		r.Fleet["nodeup"] = append(r.Fleet["nodeup"], FleetSample{Wall: sec(34), Bytes: 775e6, Requests: 50})
		r.Fleet["script"] = append(r.Fleet["script"], FleetSample{Wall: sec(40), Bytes: 775e6, Requests: 50})
		r.Fleet["ansible"] = append(r.Fleet["ansible"], FleetSample{Wall: sec(190), Bytes: 775e6, Requests: 50})
	}
	out := r.Table()
	t.Log(out)
	for _, want := range []string{
		"nodeup/script 0.571x", "<= 0.7x met",
		"what the dead mirror cost (paired)", "5.50 s", "<= 6 s met",
		"/link floor 1.097x", "<= 1.2x met", "31.0 s",
		"nodeup cold/link floor 1.935x", "<= 1.6x MISSED",
		"77.5 / 77.5 MB", "77.5 / 0 MB", "775 MB, 50 requests",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q", want)
		}
	}
}
