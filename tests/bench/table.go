package bench

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nodeup/nodeup/tests/testbed"
)

// Sample is what one run on one fresh node measured.
type Sample struct {
	Cold, Noop, Plan time.Duration
	RSSKiB           int64         // nodeup: peak RSS of its cold apply
	Unpack, Start    time.Duration // the floor: its two parts (Cold is their sum)
	// What the mirror served for the cold run and the no-op one (the shaped
	// network only: the loopback mirror counts nothing).
	ColdBytes, NoopBytes int64
	Note                 string
}

// FleetSample is one run of a contender on a fleet of nodes at once.
type FleetSample struct {
	Wall            time.Duration // until the last node was done
	First           time.Duration // until the first node was done
	Bytes, Requests int64         // what the mirror served
	Dropped         int64         // packets the link dropped towards the nodes
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

// Report is everything the table shows.
type Report struct {
	Samples       map[string][]Sample // by contender, the mirror on the node's loopback
	Runs          int
	Compile       time.Duration // one profile compile (go test -bench)
	BinarySize    int64
	Load0, Load1  string // load average before and after
	Profile, Note string

	// The shaped network: the link, the connect time a node saw, and the packets
	// the link dropped (towards the mirror, towards the nodes).
	WAN      string
	RTT      time.Duration
	LinkRate int64 // bits per second
	Link     testbed.LinkStats
	// Net: by contender on the shaped network, and "failover": nodeup with a dead
	// mirror listed first.
	Net map[string][]Sample
	// Fleet: by contender, FleetSize nodes at once on the shaped network.
	Fleet     map[string][]FleetSample
	FleetRuns int
	FleetSize int
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

// secs is one measure of each sample, in seconds.
func secs(samples []Sample, f measure) []float64 {
	var v []float64
	for _, s := range samples {
		v = append(v, f(s).Seconds())
	}
	return v
}

// paired is the median over the rounds of a's measure over b's in the same
// round. Runs of one round are minutes apart at most, so on a machine whose
// load drifts this compares like with like better than a ratio of medians.
func paired(a []Sample, fa measure, b []Sample, fb measure) float64 {
	return pairedOf(secs(a, fa), secs(b, fb))
}

func pairedOf(a, b []float64) float64 {
	var v []float64
	for i := range min(len(a), len(b)) {
		if b[i] > 0 {
			v = append(v, a[i]/b[i])
		}
	}
	return Of(v).Median
}

// walls are the fleet runs' wall times, in seconds; linkFloor the time the
// bytes each run served take at the link's rate.
func walls(fs []FleetSample) []float64 {
	var v []float64
	for _, f := range fs {
		v = append(v, f.Wall.Seconds())
	}
	return v
}

// bytesAtLineRate is the time each sample's cold bytes take at the link's rate.
func (r Report) bytesAtLineRate(samples []Sample) []float64 {
	var v []float64
	for _, s := range samples {
		if r.LinkRate > 0 {
			v = append(v, float64(s.ColdBytes)*8/float64(r.LinkRate))
		}
	}
	return v
}

func (r Report) linkFloor(fs []FleetSample) []float64 {
	var v []float64
	for _, f := range fs {
		if r.LinkRate > 0 {
			v = append(v, float64(f.Bytes)*8/float64(r.LinkRate))
		}
	}
	return v
}

// target is the most a paired ratio may be (strict: less than); zero is none.
type target struct {
	max    float64
	strict bool
}

// verdictAbs judges a figure against the target as an amount, not a ratio.
func (t target) verdictAbs(v float64, unit string) string {
	if v <= t.max {
		return fmt.Sprintf("<= %g %s met", t.max, unit)
	}
	return fmt.Sprintf("<= %g %s MISSED", t.max, unit)
}

// pairedDiff is each round's a minus b.
func pairedDiff(a, b []float64) []float64 {
	var v []float64
	for i := range min(len(a), len(b)) {
		v = append(v, a[i]-b[i])
	}
	return v
}

func (t target) verdict(p float64) string {
	if t.max == 0 {
		return ""
	}
	op, met := "<=", p <= t.max
	if t.strict {
		op, met = "<", p < t.max
	}
	if met {
		return fmt.Sprintf("%s %gx met", op, t.max)
	}
	return fmt.Sprintf("%s %gx MISSED", op, t.max)
}

// table writes rows of six columns: measure, median, [min-max], ratio,
// (paired), target.
type table struct{ tw *tabwriter.Writer }

func (w table) section(title string) { fmt.Fprintf(w.tw, "%s\t\t\t\t\t\t\n", title) }

// row starts a row with a measure's median and range; versus or none ends it.
func (w table) row(name string, v []float64, unit string) {
	st := Of(v)
	rng := ""
	if st.Max > st.Min {
		rng = fmt.Sprintf("[%s-%s]", num(st.Min), num(st.Max))
	}
	fmt.Fprintf(w.tw, "%s\t%s %s\t%s\t", name, num(st.Median), unit, rng)
}

// versus ends a row with a's values over b's: the ratio of the medians, the
// paired ratio, and the target judged on the paired ratio.
func (w table) versus(label string, a, b []float64, t target) {
	p := pairedOf(a, b)
	fmt.Fprintf(w.tw, "%s %.3fx\t(%.3fx)\t%s\t\n", label, Of(a).Median/Of(b).Median, p, t.verdict(p))
}

func (w table) none() { fmt.Fprint(w.tw, "\t\t\t\n") }

// text is a row with one value and no ratio.
func (w table) text(name, value string) { fmt.Fprintf(w.tw, "%s\t%s\t\t\t\t\t\n", name, value) }

// Table renders the report: medians over the runs, min-max, and each ratio
// twice, of the medians and paired by round; a target is judged on the
// paired ratio.
func (r Report) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nnodeup benchmark: %s, %d runs per contender, interleaved, a fresh node per run\n", r.Profile, r.Runs)
	fmt.Fprintf(&b, "medians [min-max]; ratios of the medians and (paired) the median of each round's ratio;\n")
	fmt.Fprintf(&b, "load average %s before, %s after (2 shared cores: expect noise)\n", r.Load0, r.Load1)
	fmt.Fprintf(&b, "sections 1-5: the mirror on the node's loopback\n")
	if r.WAN != "" {
		fmt.Fprintf(&b, "sections 6-7: the mirror in a network namespace of its own across a shaped link,\n  %s; a node connects to it in %v\n", r.WAN, r.RTT.Round(100*time.Microsecond))
	}
	fmt.Fprintln(&b)
	w := table{tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)}
	fmt.Fprintln(w.tw, "measure\tmedian\t[min-max]\tratio\t(paired)\ttarget\t")
	r.loopbackRows(w)
	r.footprintRows(w)
	if len(r.Net) > 0 {
		r.shapedRows(w)
	}
	if len(r.Fleet) > 0 {
		r.fleetRows(w)
	}
	w.tw.Flush()
	if l := r.Link; l.Sent > 0 {
		fmt.Fprintf(&b, "\nthe shaped link over the whole run: %d packets carried; %d dropped at its full queue (%d to the mirror);\n"+
			"%.2f%% more than 1 ms late, the latest %v (its threads %s)\n",
			l.Sent, l.DroppedUp+l.DroppedDown, l.DroppedUp, float64(l.LateOver1ms)*100/float64(l.Sent), l.Late.Round(100*time.Microsecond), l.Scheduling)
	}
	if r.Note != "" {
		fmt.Fprintf(&b, "\n%s\n", r.Note)
	}
	return b.String()
}

// loopbackRows are sections 1-3: the mirror on the node's loopback.
func (r Report) loopbackRows(w table) {
	nu, sc, an, fl := r.Samples["nodeup"], r.Samples["script"], r.Samples["ansible"], r.Samples["floor"]
	w.section("1. cold apply, fresh node -> answering CRI socket")
	w.row("   nodeup apply", secs(nu, cold), "s")
	w.none()
	w.row("   getting-started script", secs(sc, cold), "s")
	w.versus("nodeup/script", secs(nu, cold), secs(sc, cold), target{max: 0.55})
	w.row("   ansible playbook", secs(an, cold), "s")
	w.versus("nodeup/ansible", secs(nu, cold), secs(an, cold), target{max: 0.10, strict: true})
	w.section("2. no-op re-apply, converged node")
	w.row("   nodeup apply", secs(nu, noop), "s")
	w.versus("/nodeup cold", secs(nu, noop), secs(nu, cold), target{max: 0.10})
	w.row("   script (redoes everything)", secs(sc, noop), "s")
	w.versus("nodeup/script", secs(nu, noop), secs(sc, noop), target{})
	w.row("   ansible, second run", secs(an, noop), "s")
	w.versus("nodeup/ansible", secs(nu, noop), secs(an, noop), target{max: 0.05, strict: true})
	w.section("3. the floor")
	w.row("   download+hash+unpack, all at once", secs(fl, unpack), "s")
	w.none()
	w.row("   containerd start -> CRI answers", secs(fl, start), "s")
	w.none()
	w.row("   floor (sum)", secs(fl, cold), "s")
	w.versus("nodeup cold/floor", secs(nu, cold), secs(fl, cold), target{max: 1.2})
}

// footprintRows are sections 4 and 5: nodeup's size, memory and own costs.
func (r Report) footprintRows(w table) {
	nu := r.Samples["nodeup"]
	w.section("4. nodeup's footprint")
	var rss []float64
	for _, s := range nu {
		rss = append(rss, float64(s.RSSKiB)/1024)
	}
	w.row("   peak RSS, cold apply", rss, "MiB")
	verdict := "< 64 MiB (max) met"
	if Of(rss).Max >= 64 {
		verdict = "< 64 MiB (max) MISSED"
	}
	fmt.Fprintf(w.tw, "\t\t%s\t\n", verdict)
	w.text("   binary size (-trimpath -s -w)", num(float64(r.BinarySize)/(1<<20))+" MiB")
	w.section("5. nodeup's own overhead")
	w.text("   profile compile (go test -bench, plan/)", num(float64(r.Compile.Microseconds())/1000)+" ms")
	w.row("   nodeup plan, converged node", secs(nu, plan), "s")
	w.versus("/nodeup cold", secs(nu, plan), secs(nu, cold), target{})
}

// shapedRows are section 6: the mirror across the shaped network.
func (r Report) shapedRows(w table) {
	nu, sc, an, fl, fo := r.Net["nodeup"], r.Net["script"], r.Net["ansible"], r.Net["floor"], r.Net["failover"]
	w.section("6. shaped network: cold apply -> answering CRI socket")
	w.row("   nodeup apply", secs(nu, cold), "s")
	w.none()
	w.row("   getting-started script", secs(sc, cold), "s")
	w.versus("nodeup/script", secs(nu, cold), secs(sc, cold), targetShapedScript)
	w.row("   ansible playbook", secs(an, cold), "s")
	w.versus("nodeup/ansible", secs(nu, cold), secs(an, cold), targetShapedAnsible)
	w.row("   floor: all downloads at once + start", secs(fl, cold), "s")
	w.versus("nodeup cold/floor", secs(nu, cold), secs(fl, cold), targetShapedFloor)
	w.row("   link floor: the bytes at line rate", r.bytesAtLineRate(nu), "s")
	w.versus("nodeup cold/link floor", secs(nu, cold), r.bytesAtLineRate(nu), targetShapedLink)
	w.row("   nodeup, a dead mirror listed first", secs(fo, cold), "s")
	w.versus("/nodeup cold", secs(fo, cold), secs(nu, cold), target{})
	w.row("   what the dead mirror cost (paired)", pairedDiff(secs(fo, cold), secs(nu, cold)), "s")
	fmt.Fprintf(w.tw, "\t\t%s\t\n", targetFailoverCost.verdictAbs(Of(pairedDiff(secs(fo, cold), secs(nu, cold))).Median, "s"))
	w.section("   no-op re-apply, converged node")
	w.row("   nodeup apply", secs(nu, noop), "s")
	w.versus("/nodeup cold", secs(nu, noop), secs(nu, cold), target{max: 0.10})
	w.row("   script (redoes everything)", secs(sc, noop), "s")
	w.versus("nodeup/script", secs(nu, noop), secs(sc, noop), target{})
	w.row("   ansible, second run", secs(an, noop), "s")
	w.versus("nodeup/ansible", secs(nu, noop), secs(an, noop), target{max: 0.05, strict: true})
	w.section("   served by the mirror per node, cold / no-op")
	for _, c := range []string{"nodeup", "script", "ansible", "floor", "failover"} {
		var cb, nb []float64
		for _, s := range r.Net[c] {
			cb, nb = append(cb, float64(s.ColdBytes)/1e6), append(nb, float64(s.NoopBytes)/1e6)
		}
		w.text("   "+c, fmt.Sprintf("%s / %s MB", mbNum(Of(cb).Median), mbNum(Of(nb).Median)))
	}
}

// fleetRows are section 7: a fleet at once from the one mirror.
func (r Report) fleetRows(w table) {
	nu, sc, an := r.Fleet["nodeup"], r.Fleet["script"], r.Fleet["ansible"]
	w.section(fmt.Sprintf("7. shaped network: %d nodes at once -> all verified (%d runs)", r.FleetSize, r.FleetRuns))
	w.row("   nodeup apply", walls(nu), "s")
	w.versus("/link floor", walls(nu), r.linkFloor(nu), targetFleetLink)
	w.row("   getting-started script", walls(sc), "s")
	w.versus("nodeup/script", walls(nu), walls(sc), targetFleetScript)
	w.row("   ansible playbook", walls(an), "s")
	w.versus("nodeup/ansible", walls(nu), walls(an), target{})
	w.row("   link floor: nodeup's bytes at line rate", r.linkFloor(nu), "s")
	w.none()
	for _, c := range []string{"nodeup", "script", "ansible"} {
		var mbs, reqs []float64
		for _, f := range r.Fleet[c] {
			mbs, reqs = append(mbs, float64(f.Bytes)/1e6), append(reqs, float64(f.Requests))
		}
		w.text("   served: "+c, fmt.Sprintf("%s MB, %.0f requests", mbNum(Of(mbs).Median), Of(reqs).Median))
	}
}

// Targets on the shaped network, set from what it showed (README.md): the link
// bounds everyone, so nodeup is judged against the floor and the link first.
var (
	targetShapedScript  = target{max: 0.7}
	targetShapedAnsible = target{max: 0.3}
	targetShapedFloor   = target{max: 1.1}
	targetShapedLink    = target{max: 1.6}
	targetFailoverCost  = target{max: 6} // seconds: one connect timeout (5 s)
	targetFleetLink     = target{max: 1.2}
	targetFleetScript   = target{max: 0.9}
)

// mbNum prints megabytes: 0 as 0.
func mbNum(v float64) string {
	if v == 0 {
		return "0"
	}
	return num(v)
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
