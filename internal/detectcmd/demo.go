package detectcmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/vigil-nids/vigil/capture"
	"github.com/vigil-nids/vigil/datasets"
	"github.com/vigil-nids/vigil/detect"
	"github.com/vigil-nids/vigil/detect/incident"
	"github.com/vigil-nids/vigil/features"
	"github.com/vigil-nids/vigil/internal/cli"
	"github.com/vigil-nids/vigil/models/kmeans"
	"github.com/vigil-nids/vigil/train"
)

// DemoDir is the sample data --demo uses, relative to the repository root.
const DemoDir = "testdata/lab"

// findDemo looks for DemoDir in dir and its parents.
func findDemo(dir string) (string, error) {
	if dir == "" {
		var err error
		if dir, err = os.Getwd(); err != nil {
			return "", err
		}
	}
	for d := dir; ; d = filepath.Dir(d) {
		p := filepath.Join(d, DemoDir)
		if _, err := os.Stat(filepath.Join(p, "baseline.pcap.gz")); err == nil {
			return p, nil
		}
		if filepath.Dir(d) == d {
			return "", cli.Usagef("--demo needs the sample data in %s of the vigil repository: run it from the repository (go run ./cmd/detect --demo)", DemoDir)
		}
	}
}

// flowRef identifies one flow record across its interim and final scores.
type flowRef struct {
	id  features.FlowID // End zeroed
	seq uint32
}

type demoFlow struct {
	label   string
	alerted bool
	final   bool
}

// Demo trains on the sample baseline, detects on the sample mixed capture,
// and prints the top alerts, what they caught per attack label, and the
// run summary.
func Demo(e *Env) error {
	e = e.fill()
	dir, err := findDemo(e.Dir)
	if err != nil {
		return err
	}
	w := e.Stdout
	start := e.Now()
	fmt.Fprintf(w, "vigil demo: train on %s/baseline.pcap.gz, detect on %s/mixed.pcap.gz\n\n", dir, dir)

	xcfg := features.Config{SnapshotInterval: 5 * time.Second}
	b, tsum, err := train.FromCaptures(train.CaptureConfig{
		Paths:     []string{filepath.Join(dir, "baseline.pcap.gz")},
		Extractor: xcfg,
		Fit:       train.Config{Seed: 1, KMeans: kmeans.Config{K: train.DefaultK}},
	})
	if err != nil {
		return fmt.Errorf("demo: train: %w", err)
	}
	th := b.Thresholds
	fmt.Fprintf(w, "trained on %d packets, %d flows (%d vectors): isolation forest (%d trees) and k-means (k=%d); thresholds for FPR %.3g: iforest %.4f, kmeans %.4f, ensemble %.4f\n\n",
		tsum.Features.Packets, tsum.Features.FlowsEmitted, tsum.Records, len(b.Forest.Trees), b.KMeans.K, b.TargetFPR, th.IForest, th.KMeans, th.Ensemble)

	labels, err := datasets.LoadLabelsFile(filepath.Join(dir, "labels.csv"))
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	var mu sync.Mutex
	flows := map[flowRef]*demoFlow{}
	observe := func(o *detect.Observation) {
		ref := flowRef{id: o.ID, seq: o.Seq}
		ref.id.End = 0
		mu.Lock()
		defer mu.Unlock()
		f := flows[ref]
		if f == nil {
			f = &demoFlow{}
			flows[ref] = f
		}
		if o.Scores.Ensemble >= th.Ensemble {
			f.alerted = true
		}
		if o.Final {
			f.final = true
			f.label, _ = labels.Match(o.ID)
		}
	}
	src, err := capture.Open([]string{filepath.Join(dir, "mixed.pcap.gz")}, capture.Options{})
	if err != nil {
		return err
	}
	defer src.Close()
	mem := &detect.Memory{}
	sum, err := detect.New(detect.FromBundle(b), detect.Config{
		Extractor: xcfg, ScoreInterval: xcfg.SnapshotInterval, Block: true, Observe: observe,
		AlertMode: detect.AlertsBoth,
	}).Run(context.Background(), src, mem)
	if err != nil {
		return err
	}

	writeIncidents(w, mem.Events())

	// Top alerts: the highest score per flow.
	alerts := mem.Alerts()
	best := map[uint64]*detect.Alert{}
	for _, a := range alerts {
		if c := best[a.FlowID]; c == nil || a.Score > c.Score {
			best[a.FlowID] = a
		}
	}
	top := make([]*detect.Alert, 0, len(best))
	for _, a := range best {
		top = append(top, a)
	}
	sort.Slice(top, func(i, j int) bool {
		if top[i].Score != top[j].Score {
			return top[i].Score > top[j].Score
		}
		return top[i].FlowID < top[j].FlowID
	})
	// Show variety: the best alert of each label first (the demo has
	// labels; a user's run would not), then the next best flows.
	labelOf := func(a *detect.Alert) string {
		id := features.FlowID{Start: int64(a.Flow.Start), End: int64(a.Flow.End), Src: a.SrcIP, Dst: a.DestIP, Proto: protoNumber(a.Proto)}
		if a.SrcPort != nil {
			id.Sport = *a.SrcPort
		}
		if a.DestPort != nil {
			id.Dport = *a.DestPort
		}
		l, _ := labels.Match(id)
		return l
	}
	shown := map[string]bool{}
	picked := map[*detect.Alert]bool{}
	var pick []*detect.Alert
	for _, a := range top {
		if l := labelOf(a); !shown[l] {
			shown[l] = true
			picked[a] = true
			pick = append(pick, a)
		}
	}
	for _, a := range top {
		if len(pick) >= 10 {
			break
		}
		if !picked[a] {
			pick = append(pick, a)
		}
	}
	fmt.Fprintf(w, "%d alerts on %d flows; the top flow of each label, then the next highest (full JSON: detect --model M --pcap P --alerts FILE):\n", len(alerts), len(best))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "time\tflow\tscore\tlabel\ttop features (value; baseline p1..p99)")
	for _, a := range pick {
		lab := labelOf(a)
		var fs []string
		for i, t := range a.TopFeatures {
			if i == 2 {
				break
			}
			fs = append(fs, fmt.Sprintf("%s=%.4g (%.3g..%.3g)", t.Name, float64(t.Value), float64(t.Baseline[0]), float64(t.Baseline[1])))
		}
		fmt.Fprintf(tw, "%s\t%s%s -> %s%s %s\t%.2f\t%s\t%s\n", time.Unix(0, int64(a.Timestamp)).UTC().Format("15:04:05.000"),
			a.SrcIP, port(a.SrcPort), a.DestIP, port(a.DestPort), a.Proto, float64(a.Score), lab, strings.Join(fs, ", "))
	}
	tw.Flush()

	// What the alerts caught, by label.
	type agg struct{ flows, alerted int }
	by := map[string]*agg{}
	for _, f := range flows {
		if !f.final {
			continue
		}
		g := by[f.label]
		if g == nil {
			g = &agg{}
			by[f.label] = g
		}
		g.flows++
		if f.alerted {
			g.alerted++
		}
	}
	names := make([]string, 0, len(by))
	for l := range by {
		names = append(names, l)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "\nflows alerted, by label (labels.csv; evaluate gives ROC/PR and per-label AUC):\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "label\tflows\talerted\tshare\t")
	for _, l := range names {
		g := by[l]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.3f\t\n", l, g.flows, g.alerted, float64(g.alerted)/float64(g.flows))
	}
	tw.Flush()
	fmt.Fprintln(w)
	sum.WriteText(w)
	fmt.Fprintf(w, "demo done in %.1fs\n", e.Now().Sub(start).Seconds())
	return nil
}

func port(p *uint16) string {
	if p == nil {
		return ""
	}
	return fmt.Sprintf(":%d", *p)
}

// protoNumber reads back an alert's protocol name (features.ProtoName).
func protoNumber(name string) uint8 {
	p, err := datasets.ParseProto(name)
	if err != nil || p < 0 {
		return 0
	}
	return uint8(p)
}

// writeIncidents prints one line per incident (merged ones are in their
// successor): kind, the host it is about, flows, peak, why.
func writeIncidents(w io.Writer, events []*incident.Event) {
	var ends []*incident.Event
	for _, ev := range events {
		if ev.Incident.State == "end" && ev.Incident.Reason != "merged" {
			ends = append(ends, ev)
		}
	}
	sort.SliceStable(ends, func(i, j int) bool { return ends[i].Incident.FirstSeen < ends[j].Incident.FirstSeen })
	fmt.Fprintf(w, "%d incidents (what detect --alert-mode incident writes, with %d flow alerts each as samples; docs/alerts.md#incidents):\n", len(ends), incident.DefaultSamples)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "start\tkind\tabout\tflows\tpeak pkts/s\twhy (features its alerts named most)")
	for _, ev := range ends {
		b := ev.Incident
		about := ""
		switch b.Key {
		case "target":
			about = fmt.Sprintf("target %s (%d sources)", ev.DestIP, b.Src.Count)
		case "source":
			about = fmt.Sprintf("source %s (%d targets)", ev.SrcIP, b.Dest.Count)
		default:
			about = fmt.Sprintf("%s -> %s", ev.SrcIP, ev.DestIP)
		}
		if b.DestPorts.Count == 1 {
			about += fmt.Sprintf(" port %d", b.DestPorts.Top[0].Port)
		} else if b.DestPorts.Count > 1 {
			about += fmt.Sprintf(" %d ports", b.DestPorts.Count)
		}
		var why []string
		for i, f := range b.TopFeatures {
			if i == 3 {
				break
			}
			why = append(why, f.Name)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", b.FirstSeen.Time().Format("15:04:05.000"), b.Kind, about, b.Flows, b.PeakPPS, strings.Join(why, ", "))
	}
	tw.Flush()
	fmt.Fprintln(w)
}
