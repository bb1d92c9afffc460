package evaluate

import (
	"net/netip"
	"slices"
)

// Incident is one incident detect's incident engine raised over the
// evaluated alerts (package detect/incident), with the evaluated flows
// counted into it.
type Incident struct {
	ID, Kind, Key string
	// Src and Dest are its key hosts (Src for a source or pair key, Dest
	// for a target or pair key), else its most frequent ones.
	Src, Dest netip.Addr
	// Start is its start event's time (capture time, Unix ns).
	Start int64
	// MergedInto names the incident this one was merged into ("" for
	// none): its flows count there.
	MergedInto string
	// Flows counts the flows of each label whose alerts were counted into
	// it directly, FirstAlert the earliest alert time among them.
	Flows      map[string]int
	FirstAlert map[string]int64
}

// IncidentReport is report.json's "incidents": the incident view of the
// same alerts.
type IncidentReport struct {
	// Total counts the incidents, merged ones excluded (their flows count
	// in the incident they were merged into), ByKind by final kind.
	Total  int            `json:"total"`
	Merged int            `json:"merged"`
	ByKind map[string]int `json:"by_kind"`
	// Benign counts the incidents all of whose flows are benign, and
	// BenignPerHour per hour of capture (CaptureSeconds: the flows' span).
	Benign         int      `json:"benign"`
	BenignPerHour  *float64 `json:"benign_per_hour"`
	CaptureSeconds float64  `json:"capture_seconds"`
	// LinesWritten is what detect's default mode writes for these alerts
	// (incident events plus sample flow alerts), FlowAlerts what the flow
	// mode writes, LinesPerFlowAlert their ratio.
	LinesWritten      uint64   `json:"lines_written"`
	FlowAlerts        uint64   `json:"flow_alerts"`
	LinesPerFlowAlert *float64 `json:"lines_per_flow_alert"`
	// PerLabel gives, for each attack label, the incidents that cover its
	// flows and the time to detect: from the label's start to the first
	// event of a covering incident that stands for its flows (its start, or
	// the label's first alert counted into an incident already open).
	PerLabel map[string]*LabelIncidents `json:"per_label"`
}

// LabelIncidents are the incidents covering one label's flows.
type LabelIncidents struct {
	Incidents       int           `json:"incidents"`
	FirstStartDelay *float64      `json:"first_start_delay_s"`
	Covering        []IncidentRef `json:"covering"`
	UncoveredFlows  int           `json:"uncovered_flows"` // of the label, in no incident (never alerted)
	CoveredFlows    int           `json:"covered_flows"`
}

// IncidentRef is one covering incident: its identity and the label's
// flows in it.
type IncidentRef struct {
	ID    string     `json:"id"`
	Kind  string     `json:"kind"`
	Key   string     `json:"key"`
	Src   netip.Addr `json:"src,omitzero"`
	Dest  netip.Addr `json:"dest,omitzero"`
	Flows int        `json:"flows"`
}

// incidentReport folds merged incidents into their successors and counts.
func incidentReport(in *Input, perLabel map[string]int) *IncidentReport {
	if in.Incidents == nil {
		return nil
	}
	byID := make(map[string]*Incident, len(in.Incidents))
	for i := range in.Incidents {
		byID[in.Incidents[i].ID] = &in.Incidents[i]
	}
	final := func(x *Incident) *Incident {
		for n := 0; x.MergedInto != "" && n < len(byID); n++ {
			y := byID[x.MergedInto]
			if y == nil {
				break
			}
			x = y
		}
		return x
	}
	r := &IncidentReport{ByKind: map[string]int{}, PerLabel: map[string]*LabelIncidents{},
		LinesWritten: in.LinesWritten, FlowAlerts: in.FlowAlerts, CaptureSeconds: in.CaptureSeconds}
	folded := map[*Incident]map[string]int{}
	firstStart := map[string]int64{} // per label, the earliest start of an incident covering it
	for i := range in.Incidents {
		x := &in.Incidents[i]
		f := final(x)
		if folded[f] == nil {
			folded[f] = map[string]int{}
		}
		for l, n := range x.Flows {
			folded[f][l] += n
			if l == Benign {
				continue
			}
			t := max(x.Start, x.FirstAlert[l])
			if s, ok := firstStart[l]; !ok || t < s {
				firstStart[l] = t
			}
		}
	}
	for i := range in.Incidents {
		x := &in.Incidents[i]
		if final(x) != x {
			r.Merged++
			continue
		}
		r.Total++
		r.ByKind[x.Kind]++
		benign := true
		for l, n := range folded[x] {
			if l == Benign || n == 0 {
				continue
			}
			benign = false
			li := r.PerLabel[l]
			if li == nil {
				li = &LabelIncidents{}
				r.PerLabel[l] = li
			}
			li.Incidents++
			li.CoveredFlows += n
			li.Covering = append(li.Covering, IncidentRef{ID: x.ID, Kind: x.Kind, Key: x.Key, Src: x.Src, Dest: x.Dest, Flows: n})
		}
		if benign {
			r.Benign++
		}
	}
	for l, li := range r.PerLabel {
		slices.SortFunc(li.Covering, func(a, b IncidentRef) int { return b.Flows - a.Flows })
		li.UncoveredFlows = max(0, perLabel[l]-li.CoveredFlows)
		if s, ok := in.LabelStarts[l]; ok {
			li.FirstStartDelay = num(float64(firstStart[l]-s) / 1e9)
		}
	}
	for l, n := range perLabel {
		if _, ok := r.PerLabel[l]; !ok && l != Benign {
			r.PerLabel[l] = &LabelIncidents{UncoveredFlows: n, Covering: []IncidentRef{}}
		}
	}
	if r.CaptureSeconds > 0 {
		r.BenignPerHour = num(float64(r.Benign) / (r.CaptureSeconds / 3600))
	}
	if r.FlowAlerts > 0 {
		r.LinesPerFlowAlert = num(float64(r.LinesWritten) / float64(r.FlowAlerts))
	}
	return r
}
