package detect

import (
	"bytes"
	"context"
	"net/netip"
	"testing"

	"github.com/vigil-nids/vigil/capture"
	"github.com/vigil-nids/vigil/detect/incident"
)

// runLabMode runs the sample mixed capture through the pipeline in mode
// and returns what the sinks received.
func runLabMode(t *testing.T, mode AlertMode, extra func(*Config)) (*Memory, Summary) {
	t.Helper()
	b := trainLab(t)
	ecfg, err := ExtractorConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	src, err := capture.Open([]string{labMixed}, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	cfg := Config{Extractor: ecfg, ScoreInterval: ecfg.SnapshotInterval, Block: true, AlertMode: mode}
	if extra != nil {
		extra(&cfg)
	}
	mem := &Memory{}
	sum, err := New(FromBundle(b), cfg).Run(context.Background(), src, mem)
	if err != nil {
		t.Fatal(err)
	}
	return mem, sum
}

// TestIncidentsLab: on the sample capture, the hping3 SYN flood is one
// incident of kind syn_flood with the victim as dest, the nmap SYN scan one
// port_scan from the scanner, and the incident mode writes a few samples
// per incident instead of every alert; the counts add up.
func TestIncidentsLab(t *testing.T) {
	mem, sum := runLabMode(t, AlertsIncident, nil)
	evs := mem.Events()
	if len(evs) == 0 {
		t.Fatal("no incident events")
	}
	ends := map[string]*incident.Event{}
	starts := 0
	for _, ev := range evs {
		switch ev.Incident.State {
		case "start":
			starts++
		case "end":
			if ends[ev.Incident.ID] != nil {
				t.Errorf("incident %s ended twice", ev.Incident.ID)
			}
			ends[ev.Incident.ID] = ev
		}
	}
	if starts != len(ends) {
		t.Errorf("%d starts, %d ends: every incident must end", starts, len(ends))
	}
	byKind := map[string][]*incident.Event{}
	for _, ev := range ends {
		if ev.Incident.Reason != "merged" {
			byKind[ev.Incident.Kind] = append(byKind[ev.Incident.Kind], ev)
		}
	}
	lab10 := netip.MustParseAddr("10.77.0.10")
	floods := byKind["syn_flood"]
	if len(floods) != 1 {
		t.Fatalf("%d syn_flood incidents, want 1 (kinds: %v)", len(floods), kindsOf(byKind))
	}
	// hping3 -p 80: port 80 carries nearly all of it (an anomaly on
	// another port of the same pair may join while it is open).
	if f := floods[0]; f.DestIP != lab10 || f.Incident.Alerts < 1000 || f.Incident.DestPorts.Top[0].Port != 80 ||
		f.Incident.DestPorts.Top[0].Flows < f.Incident.Alerts*99/100 {
		t.Errorf("syn_flood: dest %v, %d alerts, ports %+v; want %v, ≥1000, 99%% on 80", f.DestIP, f.Incident.Alerts, f.Incident.DestPorts, lab10)
	}
	scans := byKind["port_scan"]
	if len(scans) != 1 || scans[0].SrcIP != attacker || scans[0].Incident.Dest.Top[0].IP != lab10 || scans[0].Incident.DestPorts.Count < 500 {
		t.Fatalf("port_scan incidents %+v, want one from %v on %v over ≥500 ports", scans, attacker, lab10)
	}
	alerts := mem.Alerts()
	if sum.Incidents == nil || sum.AlertsWritten != uint64(len(alerts)) || sum.AlertsWritten+sum.AlertsSuppressed != sum.Alerts {
		t.Fatalf("summary %+v: written %d + suppressed %d != alerts %d (sink got %d)", sum.Incidents, sum.AlertsWritten, sum.AlertsSuppressed, sum.Alerts, len(alerts))
	}
	if len(alerts) > incident.DefaultSamples*2*len(ends) || sum.AlertsSuppressed < sum.Alerts/2 {
		t.Errorf("%d flow alerts written of %d for %d incidents", len(alerts), sum.Alerts, len(ends))
	}
}

// TestIncidentsDeterministic: a blocking replay writes the same lines in
// the same order every time, with two workers racing.
func TestIncidentsDeterministic(t *testing.T) {
	enc := func() []byte {
		mem, _ := runLabMode(t, AlertsBoth, func(c *Config) { c.Workers = 2 })
		var buf bytes.Buffer
		s := NewJSONLines(&buf)
		for _, ev := range mem.Events() {
			s.SendEvent(ev)
		}
		for _, a := range mem.Alerts() {
			s.Send(a)
		}
		s.Close()
		return buf.Bytes()
	}
	a, b := enc(), enc()
	if !bytes.Equal(a, b) {
		t.Fatal("two replays of the sample wrote different output")
	}
}

func kindsOf(m map[string][]*incident.Event) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		out[k] = len(v)
	}
	return out
}

// cancelAfter cancels its context once n packets were read, as a SIGTERM
// in the middle of a replay would.
type cancelAfter struct {
	capture.Source
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) ReadPacket() ([]byte, capture.CaptureInfo, error) {
	c.n--
	if c.n == 0 {
		c.cancel()
	}
	return c.Source.ReadPacket()
}

// TestIncidentsEndOnCancel: canceled in the middle of the SYN flood, the
// run still ends and writes every incident it started.
func TestIncidentsEndOnCancel(t *testing.T) {
	b := trainLab(t)
	ecfg, err := ExtractorConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	src, err := capture.Open([]string{labMixed}, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mem := &Memory{}
	sum, err := New(FromBundle(b), Config{Extractor: ecfg, ScoreInterval: ecfg.SnapshotInterval, Block: true, AlertMode: AlertsIncident}).
		Run(ctx, &cancelAfter{Source: src, n: 20000, cancel: cancel}, mem)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Packets >= 60000 {
		t.Fatalf("read %d packets: the cancellation did not stop the replay", sum.Packets)
	}
	started, ended := map[string]bool{}, map[string]string{}
	for _, ev := range mem.Events() {
		switch ev.Incident.State {
		case "start":
			started[ev.Incident.ID] = true
		case "end":
			ended[ev.Incident.ID] = ev.Incident.Reason
		}
	}
	closed := 0
	for id := range started {
		r, ok := ended[id]
		if !ok {
			t.Errorf("incident %s started and never ended", id)
		}
		if r == "close" {
			closed++
		}
	}
	if len(started) == 0 || closed == 0 {
		t.Errorf("%d incidents, %d closed at the cancellation", len(started), closed)
	}
}
