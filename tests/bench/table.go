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

func seconds(samples []Sample, f func(Sample) time.Duration) Stat {
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

// Table renders the report: medians over the runs, min–max, ratios against the
// targets nodeup has set itself.
func (r Report) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nnodeup benchmark: %s, %d runs per contender, interleaved, a fresh node per run\n", r.Profile, r.Runs)
	fmt.Fprintf(&b, "medians [min-max]; load average %s before, %s after (2 shared cores: expect noise)\n\n", r.Load0, r.Load1)
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "measure\tmedian\t[min-max]\tratio\ttarget\t")
	row := func(name string, st Stat, unit string, ratio, target string, met *bool) {
		verdict := ""
		if met != nil {
			verdict = "met"
			if !*met {
				verdict = "MISSED"
			}
		}
		rng := ""
		if st.Max > st.Min {
			rng = fmt.Sprintf("[%s-%s]", num(st.Min), num(st.Max))
		}
		fmt.Fprintf(tw, "%s\t%s %s\t%s\t%s\t%s %s\t\n", name, num(st.Median), unit, rng, ratio, target, verdict)
	}
	check := func(ok bool) *bool { return &ok }
	cold := func(s Sample) time.Duration { return s.Cold }
	noop := func(s Sample) time.Duration { return s.Noop }

	nc, sc, ac, fc := seconds(r.Samples["nodeup"], cold), seconds(r.Samples["script"], cold), seconds(r.Samples["ansible"], cold), seconds(r.Samples["floor"], cold)
	nn, sn, an := seconds(r.Samples["nodeup"], noop), seconds(r.Samples["script"], noop), seconds(r.Samples["ansible"], noop)

	fmt.Fprintln(tw, "1. cold apply, fresh node -> answering CRI socket\t\t\t\t\t")
	row("   nodeup apply", nc, "s", "", "", nil)
	row("   getting-started script", sc, "s", ratio("nodeup/script", nc, sc), "<= 0.55x", check(nc.Median <= 0.55*sc.Median))
	row("   ansible playbook", ac, "s", ratio("nodeup/ansible", nc, ac), "< 0.10x", check(nc.Median < 0.10*ac.Median))
	fmt.Fprintln(tw, "2. no-op re-apply, converged node\t\t\t\t\t")
	row("   nodeup apply", nn, "s", ratio("/nodeup cold", nn, nc), "<= 0.10x", check(nn.Median <= 0.10*nc.Median))
	row("   script (redoes everything)", sn, "s", ratio("nodeup/script", nn, sn), "", nil)
	row("   ansible, second run", an, "s", ratio("nodeup/ansible", nn, an), "< 0.05x", check(nn.Median < 0.05*an.Median))
	fmt.Fprintln(tw, "3. the floor\t\t\t\t\t")
	row("   download+hash+unpack, all at once", seconds(r.Samples["floor"], func(s Sample) time.Duration { return s.Unpack }), "s", "", "", nil)
	row("   containerd start -> CRI answers", seconds(r.Samples["floor"], func(s Sample) time.Duration { return s.Start }), "s", "", "", nil)
	row("   floor (sum)", fc, "s", ratio("nodeup cold/floor", nc, fc), "<= 1.2x", check(nc.Median <= 1.2*fc.Median))
	fmt.Fprintln(tw, "4. nodeup's footprint\t\t\t\t\t")
	var rss []float64
	for _, s := range r.Samples["nodeup"] {
		rss = append(rss, float64(s.RSSKiB)/1024)
	}
	rs := Of(rss)
	row("   peak RSS, cold apply", rs, "MiB", "", "< 64 MiB", check(rs.Max < 64))
	fmt.Fprintf(tw, "   binary size (-trimpath -s -w)\t%s MiB\t\t\t\t\n", num(float64(r.BinarySize)/(1<<20)))
	fmt.Fprintln(tw, "5. nodeup's own overhead\t\t\t\t\t")
	fmt.Fprintf(tw, "   profile compile (go test -bench, plan/)\t%s ms\t\t\t\t\n", num(float64(r.Compile.Microseconds())/1000))
	row("   nodeup plan, converged node", seconds(r.Samples["nodeup"], func(s Sample) time.Duration { return s.Plan }), "s", ratio("/nodeup cold", seconds(r.Samples["nodeup"], func(s Sample) time.Duration { return s.Plan }), nc), "", nil)
	tw.Flush()
	if r.Note != "" {
		fmt.Fprintf(&b, "\n%s\n", r.Note)
	}
	return b.String()
}

func ratio(name string, a, b Stat) string {
	if b.Median == 0 {
		return name + " -"
	}
	return fmt.Sprintf("%s %.2fx", name, a.Median/b.Median)
}

// num prints a figure with three significant digits or so.
func num(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.3f", v)
}
