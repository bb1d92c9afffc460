package evalcmd

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"

	"github.com/vigil-nids/vigil/capture"
	"github.com/vigil-nids/vigil/datasets"
	"github.com/vigil-nids/vigil/detect"
	"github.com/vigil-nids/vigil/detect/incident"
	"github.com/vigil-nids/vigil/evaluate"
	"github.com/vigil-nids/vigil/features"
	"github.com/vigil-nids/vigil/features/afterimage"
	"github.com/vigil-nids/vigil/internal/cli"
	"github.com/vigil-nids/vigil/models/bundle"
)

// flowRef identifies one flow record across its interim and final scores.
type flowRef struct {
	id  features.FlowID // End zeroed
	seq uint32
}

// flowScores accumulates what detect would conclude about one flow record:
// its highest score per model (so "score ≥ threshold" holds exactly when
// detect alerted on it) and the capture time of its first alert per model.
type flowScores struct {
	id     features.FlowID
	max    []float64
	first  []int64
	attack bool   // its label is not benign (set once labeled)
	label  string // set once labeled
	// observed: a record of this flow was scored (not only named as a
	// related flow of another record's alert).
	observed bool
}

// packetScore is one packet's ensemble score and its 5-tuple's sample
// (packet models only): 16 bytes a packet, for the per-packet ROC-AUC.
type packetScore struct {
	f     *flowScores
	score float64
}

// group is a set of captures read together as one stream, labeled by a
// label windows file or with one label for every flow.
type group struct {
	paths []string
	label string // "" = by the label windows
}

// scoreCaptures runs the detect pipeline over the captures, exactly as
// detect would (same extractor settings, active-flow scoring, thresholds),
// and turns every flow record into a labeled sample.
//
// A packet model (feature set "packet") scores every IP packet; the
// samples are then the bidirectional 5-tuples: a 5-tuple's score is the
// highest of its packets', its first alert the first of theirs, Start and
// End its first and last packet's times, and its identity (the direction)
// its first packet's, labeled by the same Labels.Match as flows.
func scoreCaptures(o Options, b *bundle.Bundle, e *Env) (*evaluate.Input, error) {
	packets := detect.FeatureSet(b) == detect.PacketFeatures && len(b.Encoder) == 0
	schema := features.FlowSchema()
	if packets {
		schema = afterimage.Schema()
	}
	if err := b.CheckSchema(schema); err != nil {
		if len(b.Encoder) > 0 {
			return nil, cli.Usagef("--model %q was trained on a %s feature table, not on captures: evaluate it with --dataset %s:PATH", o.Model, b.Schema.Name, b.Schema.Name)
		}
		return nil, cli.Usage(fmt.Errorf("--model %q: %w (retrain it with this build's train)", o.Model, err))
	}
	if err := cli.MatchFeatures(o.Features, o.Model, detect.FeatureSet(b)); err != nil {
		return nil, err
	}
	var groups []group
	var plain []string
	for _, arg := range o.Pcaps {
		path, label := datasets.ParsePcapArg(arg)
		if label == "" {
			plain = append(plain, path)
			continue
		}
		groups = append(groups, group{paths: []string{path}, label: label})
	}
	var labels *datasets.Labels
	if len(plain) > 0 {
		if o.Labels == "" {
			return nil, cli.Usagef("--pcap %s has no labels: give --labels FILE, or label a whole file with --pcap FILE=LABEL", plain[0])
		}
		l, err := datasets.LoadLabelsFile(o.Labels)
		if err != nil {
			return nil, cli.Usage(fmt.Errorf("--labels: %w", err))
		}
		l.Slack = o.Slack
		labels = l
		groups = append([]group{{paths: plain}}, groups...)
	} else if o.Labels != "" {
		return nil, cli.Usagef("--labels is given but every --pcap is FILE=LABEL: drop one of them")
	}

	var (
		xcfg   features.Config
		newExt detect.NewExtractorFunc // nil: flows, from xcfg
		err    error
	)
	if packets {
		pcfg, err := detect.PacketConfig(b)
		if err != nil {
			return nil, cli.Usage(fmt.Errorf("--model %q: %w", o.Model, err))
		}
		newExt = detect.NewPacketExtractor(pcfg)
	} else if xcfg, err = detect.ExtractorConfig(b); err != nil {
		return nil, cli.Usage(fmt.Errorf("--model %q: %w", o.Model, err))
	}
	interval := xcfg.SnapshotInterval
	if o.ScoreInterval > 0 {
		interval = o.ScoreInterval
	}
	names, th := modelNames(b)
	in := &evaluate.Input{Models: names, Thresholds: th, LabelStarts: map[string]int64{}}
	warn := func(msg string) { fmt.Fprintf(e.Stderr, "warning: %s\n", msg) }
	var allPks []packetScore
	for _, g := range groups {
		src, err := capture.Open(g.paths, capture.Options{Warn: warn})
		if err != nil {
			return nil, cli.Usage(err)
		}
		var mu sync.Mutex
		flows := map[flowRef]*flowScores{}
		// The group's packets, appended in scoring order (packet models).
		var pks []packetScore
		observe := func(ob *detect.Observation) {
			ref := flowRef{id: ob.ID, seq: ob.Seq}
			ref.id.End = 0
			if packets {
				ref = flowRef{id: canonical(ob.ID)}
			}
			sc := scoresOf(b, bundle.Scores(ob.Scores), make([]float64, 0, 3))
			mu.Lock()
			defer mu.Unlock()
			entry := func(ref flowRef) *flowScores {
				f := flows[ref]
				if f == nil {
					f = &flowScores{max: make([]float64, len(names)), first: make([]int64, len(names))}
					for i := range f.max {
						f.max[i] = math.Inf(-1)
					}
					flows[ref] = f
				}
				return f
			}
			credit := func(f *flowScores) {
				for i, s := range sc {
					f.max[i] = max(f.max[i], s)
					if s >= th[i] && (f.first[i] == 0 || ob.At < f.first[i]) {
						f.first[i] = ob.At
					}
				}
			}
			f := entry(ref)
			f.observed = true
			credit(f)
			// A beacon's record speaks for its earlier connections too: an
			// alert on it names them (related_flows), so they are detected
			// when it alerts, at its time, as detect reports them.
			for _, rel := range ob.Related {
				credit(entry(flowRef{id: rel}))
			}
			if !packets {
				f.id = ob.ID
				return
			}
			pks = append(pks, packetScore{f, ob.Scores.Ensemble})
			// The packets of one 5-tuple reach one worker, in order, but
			// do not rely on it: keep the earliest packet's identity and
			// the latest time.
			switch {
			case !f.id.Src.IsValid() || ob.ID.Start < f.id.Start:
				end := max(f.id.End, ob.ID.End)
				f.id = ob.ID
				f.id.End = end
			case ob.ID.End > f.id.End:
				f.id.End = ob.ID.End
			}
		}
		// The incidents detect's default mode raises over these alerts
		// (flow models): the events, and the incidents each flow record's
		// alerts were counted into.
		mem := &detect.Memory{}
		members := map[memberKey][]string{}
		incidentOf := func(a *detect.Alert, id string) {
			k := memberKey{a.FlowID, int64(a.Flow.Start), a.Flow.Seq}
			if ms := members[k]; !slices.Contains(ms, id) {
				members[k] = append(ms, id)
			}
		}
		mode := detect.AlertsIncident
		if packets {
			mode, incidentOf = detect.AlertsFlow, nil
		}
		var prog *cli.Progress
		if !o.Quiet {
			prog = cli.StartProgress(e.Stderr, "scoring", src.Stats().TotalBytes, func() int64 { return src.Stats().BytesRead })
		}
		sum, err := detect.New(detect.FromBundle(b), detect.Config{
			Extractor: xcfg, ScoreInterval: interval, Block: true, Observe: observe, NewExtractor: newExt,
			AlertMode: mode, IncidentOf: incidentOf,
		}).Run(context.Background(), src, mem)
		if prog != nil {
			prog.Stop()
		}
		src.Close()
		if err != nil {
			return nil, cli.Usage(err)
		}
		// Deterministic order: by flow start, then identity.
		list := make([]*flowScores, 0, len(flows))
		for _, f := range flows {
			if f.observed { // a related flow no record of which was scored is no flow of the capture
				list = append(list, f)
			}
		}
		sort.Slice(list, func(i, j int) bool { return lessID(&list[i].id, &list[j].id) })
		var earliest int64
		for _, f := range list {
			label := g.label
			if label == "" {
				label, _ = labels.Match(f.id)
			}
			if label == "" {
				label = evaluate.Benign
			}
			f.attack = label != evaluate.Benign
			f.label = label
			if earliest == 0 || f.id.Start < earliest {
				earliest = f.id.Start
			}
			in.Samples = append(in.Samples, evaluate.Sample{
				Label: label, Scores: f.max, Start: f.id.Start, End: f.id.End, FirstAlert: f.first,
				Flow: &evaluate.FlowKey{Proto: features.ProtoName(f.id.Proto), Src: f.id.Src, Sport: f.id.Sport, Dst: f.id.Dst, Dport: f.id.Dport},
			})
		}
		if g.label != "" && g.label != evaluate.Benign && earliest != 0 {
			if s, ok := in.LabelStarts[g.label]; !ok || earliest < s {
				in.LabelStarts[g.label] = earliest
			}
		}
		if !packets {
			addIncidents(in, mem.Events(), flows, members)
			in.LinesWritten += uint64(len(mem.Events())) + sum.AlertsWritten
			in.FlowAlerts += sum.Alerts
			in.CaptureSeconds += float64(sum.CaptureEnd-sum.CaptureStart) / 1e9
		}
		allPks = append(allPks, pks...)
		fps, err := bundle.FingerprintAll(src.Paths())
		if err != nil {
			return nil, cli.Usage(err)
		}
		for _, fp := range fps {
			in.Inputs = append(in.Inputs, evaluate.Fingerprint(fp))
		}

	}
	if packets && !o.Quiet {
		scores := make([]float64, len(allPks))
		attack := make([]bool, len(allPks))
		na := 0
		for i, p := range allPks {
			scores[i], attack[i] = p.score, p.f.attack
			if attack[i] {
				na++
			}
		}
		if auc, ok := evaluate.ROCAUC(scores, attack); ok {
			fmt.Fprintf(e.Stderr, "per packet: ensemble ROC-AUC %.4f over %d packets (%d in attack 5-tuples); the report is per 5-tuple\n", auc, len(allPks), na)
		}
	}
	if labels != nil {
		for l, sp := range labels.Spans() {
			if s, ok := in.LabelStarts[l]; !ok || sp.Start < s {
				in.LabelStarts[l] = sp.Start
			}
		}
		if un := labels.Unmatched(); len(un) > 0 {
			in.Unmatched.Count = len(un)
			for _, i := range un[:min(5, len(un))] {
				r := labels.Rows[i]
				in.Unmatched.First = append(in.Unmatched.First, fmt.Sprintf("%s:%d %s", labels.Name, r.Line, r.Label))
			}
			// A warning, not a summary: printed even with --quiet.
			warn(labels.UnmatchedReport(5))
		}
		fp, err := bundle.Fingerprint(o.Labels)
		if err == nil {
			in.Inputs = append(in.Inputs, evaluate.Fingerprint(fp))
		}
	}
	return in, nil
}

// canonical returns a packet's 5-tuple in canonical order (lower address,
// then lower port, first) with the times zeroed: both directions of a
// conversation map to it.
func canonical(id features.FlowID) features.FlowID {
	if c := id.Src.Compare(id.Dst); c > 0 || c == 0 && id.Sport > id.Dport {
		id.Src, id.Dst, id.Sport, id.Dport = id.Dst, id.Src, id.Dport, id.Sport
	}
	id.Start, id.End = 0, 0
	return id
}

func lessID(a, b *features.FlowID) bool {
	if a.Start != b.Start {
		return a.Start < b.Start
	}
	if c := a.Src.Compare(b.Src); c != 0 {
		return c < 0
	}
	if c := a.Dst.Compare(b.Dst); c != 0 {
		return c < 0
	}
	if a.Sport != b.Sport {
		return a.Sport < b.Sport
	}
	if a.Dport != b.Dport {
		return a.Dport < b.Dport
	}
	return a.Proto < b.Proto
}

// memberKey identifies a flow record's alerts: the alert's flow_id, its
// flow's start and Seq.
type memberKey struct {
	flowID uint64
	start  int64
	seq    uint32
}

// addIncidents turns one run's incident events into evaluate's incidents,
// with the labeled flows counted into each.
func addIncidents(in *evaluate.Input, events []*incident.Event, flows map[flowRef]*flowScores, members map[memberKey][]string) {
	if in.Incidents == nil {
		in.Incidents = []evaluate.Incident{}
	}
	at := map[string]int{}
	for _, ev := range events {
		b := &ev.Incident
		i, ok := at[b.ID]
		if !ok {
			i = len(in.Incidents)
			at[b.ID] = i
			in.Incidents = append(in.Incidents, evaluate.Incident{ID: b.ID, Start: int64(ev.Timestamp), Flows: map[string]int{}, FirstAlert: map[string]int64{}})
		}
		x := &in.Incidents[i]
		x.Kind, x.Key, x.MergedInto = b.Kind, b.Key, b.MergedInto
		x.Src, x.Dest = ev.SrcIP, ev.DestIP
		if !x.Src.IsValid() && len(b.Src.Top) > 0 {
			x.Src = b.Src.Top[0].IP
		}
		if !x.Dest.IsValid() && len(b.Dest.Top) > 0 {
			x.Dest = b.Dest.Top[0].IP
		}
	}
	ens := slices.Index(in.Models, "ensemble")
	for ref, f := range flows {
		if !f.observed {
			continue
		}
		var first int64
		if ens >= 0 {
			first = f.first[ens]
		}
		k := memberKey{features.FlowKeyHash(&ref.id) & (1<<53 - 1), ref.id.Start, ref.seq}
		for _, id := range members[k] {
			if i, ok := at[id]; ok {
				x := &in.Incidents[i]
				x.Flows[f.label]++
				if t, ok := x.FirstAlert[f.label]; first != 0 && (!ok || first < t) {
					x.FirstAlert[f.label] = first
				}
			}
		}
	}
}
