package bench

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Sample is what one run on one fresh node measured.
type Sample struct {
	Cold, Noop, Plan time.Duration
	RSSKiB           int64         // nodeup: peak RSS of its cold apply
	Unpack, Start    time.Duration // the floor: its two parts (Cold is their sum)
	Note             string
}

// Stat is the median and the range of one measure over the runs.
type Stat struct{ Median, Min, Max float64 }

// Of summarises values (the median of an even count is the mean of the middle two).
func Of(values []float64) Stat {
	if len(values) == 0 {
		return Stat{}
	}
	v := slices.Clone(values)
	slices.Sort(v)
	m := v[len(v)/2]
	if len(v)%2 == 0 {
		m = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return Stat{Median: m, Min: v[0], Max: v[len(v)-1]}
}

func seconds(samples []Sample, f measure) Stat {
	var v []float64
	for _, s := range samples {
		v = append(v, f(s).Seconds())
	}
	return Of(v)
}

// Report is everything the table shows.
type Report struct {
	Samples       map[string][]Sample // by contender
	Runs          int
	Compile       time.Duration // one profile compile (go test -bench)
	BinarySize    int64
	Load0, Load1  string // load average before and after
	Profile, Note string
}

// measure picks one duration out of a sample.
type measure func(Sample) time.Duration

var (
	cold   measure = func(s Sample) time.Duration { return s.Cold }
	noop   measure = func(s Sample) time.Duration { return s.Noop }
	plan   measure = func(s Sample) time.Duration { return s.Plan }
	unpack measure = func(s Sample) time.Duration { return s.Unpack }
	start  measure = func(s Sample) time.Duration { return s.Start }
)

// paired is the median over the rounds of a's measure over b's in the same
// round. Runs of one round are minutes apart at most, so on a machine whose
// load drifts this compares like with like better than a ratio of medians.
func paired(a []Sample, fa measure, b []Sample, fb measure) float64 {
	var v []float64
	for i := range min(len(a), len(b)) {
		if d := fb(b[i]); d > 0 {
			v = append(v, fa(a[i]).Seconds()/d.Seconds())
		}
	}
	return Of(v).Median
}

// Table renders the report: medians over the runs, min-max, and each ratio
// twice, of the medians and paired by round; a target is judged on the
// paired ratio.
func (r Report) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nnodeup benchmark: %s, %d runs per contender, interleaved, a fresh node per run\n", r.Profile, r.Runs)
	fmt.Fprintf(&b, "medians [min-max]; ratios of the medians and (paired) the median of each round's ratio;\n")
	fmt.Fprintf(&b, "load average %s before, %s after (2 shared cores: expect noise)\n\n", r.Load0, r.Load1)
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "measure\tmedian\t[min-max]\tratio\t(paired)\ttarget\t")
	row := func(name string, st Stat, unit string) {
		rng := ""
		if st.Max > st.Min {
			rng = fmt.Sprintf("[%s-%s]", num(st.Min), num(st.Max))
		}
		fmt.Fprintf(tw, "%s\t%s %s\t%s\t", name, num(st.Median), unit, rng)
	}
	// versus ends a row with nodeup's measure fa over b's fb, and the target
	// (judged on the paired ratio) when there is one.
	versus := func(label string, fa measure, b string, fb measure, target float64, strict bool) {
		a := r.Samples["nodeup"]
		ofMedians := seconds(a, fa).Median / seconds(r.Samples[b], fb).Median
		p := paired(a, fa, r.Samples[b], fb)
		verdict := ""
		if target > 0 {
			op, met := "<=", p <= target
			if strict {
				op, met = "<", p < target
			}
			verdict = fmt.Sprintf("%s %gx ", op, target)
			if met {
				verdict += "met"
			} else {
				verdict += "MISSED"
			}
		}
		fmt.Fprintf(tw, "%s %.3fx\t(%.3fx)\t%s\t\n", label, ofMedians, p, verdict)
	}
	none := func() { fmt.Fprint(tw, "\t\t\t\n") }
	section := func(title string) { fmt.Fprintf(tw, "%s\t\t\t\t\t\t\n", title) }

	section("1. cold apply, fresh node -> answering CRI socket")
	row("   nodeup apply", seconds(r.Samples["nodeup"], cold), "s")
	none()
	row("   getting-started script", seconds(r.Samples["script"], cold), "s")
	versus("nodeup/script", cold, "script", cold, 0.55, false)
	row("   ansible playbook", seconds(r.Samples["ansible"], cold), "s")
	versus("nodeup/ansible", cold, "ansible", cold, 0.10, true)
	section("2. no-op re-apply, converged node")
	row("   nodeup apply", seconds(r.Samples["nodeup"], noop), "s")
	versus("/nodeup cold", noop, "nodeup", cold, 0.10, false)
	row("   script (redoes everything)", seconds(r.Samples["script"], noop), "s")
	versus("nodeup/script", noop, "script", noop, 0, false)
	row("   ansible, second run", seconds(r.Samples["ansible"], noop), "s")
	versus("nodeup/ansible", noop, "ansible", noop, 0.05, true)
	section("3. the floor")
	row("   download+hash+unpack, all at once", seconds(r.Samples["floor"], unpack), "s")
	none()
	row("   containerd start -> CRI answers", seconds(r.Samples["floor"], start), "s")
	none()
	row("   floor (sum)", seconds(r.Samples["floor"], cold), "s")
	versus("nodeup cold/floor", cold, "floor", cold, 1.2, false)
	section("4. nodeup's footprint")
	var rss []float64
	for _, s := range r.Samples["nodeup"] {
		rss = append(rss, float64(s.RSSKiB)/1024)
	}
	rs := Of(rss)
	row("   peak RSS, cold apply", rs, "MiB")
	verdict := "< 64 MiB (max) met"
	if rs.Max >= 64 {
		verdict = "< 64 MiB (max) MISSED"
	}
	fmt.Fprintf(tw, "\t\t%s\t\n", verdict)
	fmt.Fprintf(tw, "   binary size (-trimpath -s -w)\t%s MiB\t\t\t\t\t\n", num(float64(r.BinarySize)/(1<<20)))
	section("5. nodeup's own overhead")
	fmt.Fprintf(tw, "   profile compile (go test -bench, plan/)\t%s ms\t\t\t\t\t\n", num(float64(r.Compile.Microseconds())/1000))
	row("   nodeup plan, converged node", seconds(r.Samples["nodeup"], plan), "s")
	versus("/nodeup cold", plan, "nodeup", cold, 0, false)
	tw.Flush()
	if r.Note != "" {
		fmt.Fprintf(&b, "\n%s\n", r.Note)
	}
	return b.String()
}

// num prints a figure with three significant digits or so.
func num(v float64) string {
	switch {
	case v < 0.1:
		return fmt.Sprintf("%.3f", v)
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.3f", v)
}
