package evaluate

import (
	"net/netip"
	"testing"
)

func TestIncidentReport(t *testing.T) {
	v := netip.MustParseAddr("10.77.0.10")
	s := int64(1e12)
	in := Input{
		LabelStarts:    map[string]int64{"syn_flood": s, "portscan": s},
		LinesWritten:   12,
		FlowAlerts:     1200,
		CaptureSeconds: 1800,
		Incidents: []Incident{
			// a pair incident merged into the target one: its flows count there
			{ID: "a", Kind: "anomaly", Key: "pair", Dest: v, Start: s + 1e9, MergedInto: "b", Flows: map[string]int{"syn_flood": 1}, FirstAlert: map[string]int64{"syn_flood": s + 1e9}},
			{ID: "b", Kind: "syn_flood", Key: "target", Dest: v, Start: s + 2e9, Flows: map[string]int{"syn_flood": 999, Benign: 3}, FirstAlert: map[string]int64{"syn_flood": s + 2e9}},
			// already open before the scan: the scan's first alert counts
			{ID: "c", Kind: "port_scan", Key: "pair", Start: s - 5e9, Flows: map[string]int{"portscan": 10}, FirstAlert: map[string]int64{"portscan": s + 3e9}},
			{ID: "d", Kind: "anomaly", Key: "pair", Start: s, Flows: map[string]int{Benign: 2}},
		},
	}
	r := incidentReport(&in, map[string]int{"syn_flood": 1200, "portscan": 10, Benign: 100})
	if r.Total != 3 || r.Merged != 1 || r.Benign != 1 || r.ByKind["anomaly"] != 1 {
		t.Fatalf("total %d merged %d benign %d kinds %v", r.Total, r.Merged, r.Benign, r.ByKind)
	}
	sf := r.PerLabel["syn_flood"]
	if sf.Incidents != 1 || sf.Covering[0].ID != "b" || sf.CoveredFlows != 1000 || sf.UncoveredFlows != 200 {
		t.Errorf("syn_flood %+v", sf)
	}
	if sf.FirstStartDelay == nil || *sf.FirstStartDelay != 1 {
		t.Errorf("syn_flood delay %v, want 1 s (the merged incident's start)", sf.FirstStartDelay)
	}
	if d := r.PerLabel["portscan"].FirstStartDelay; d == nil || *d != 3 {
		t.Errorf("portscan delay %v, want 3 s (its first alert in an open incident)", d)
	}
	if r.BenignPerHour == nil || *r.BenignPerHour != 2 || r.LinesPerFlowAlert == nil || *r.LinesPerFlowAlert != 0.01 {
		t.Errorf("benign/h %v lines/alert %v", r.BenignPerHour, r.LinesPerFlowAlert)
	}
}
