package incident

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"runtime"
	"testing"
	"time"
)

var (
	victim  = netip.MustParseAddr("10.77.0.10")
	scanner = netip.MustParseAddr("10.77.0.66")
	t0      = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC).UnixNano()
)

// spoofed returns the i-th of a flood's distinct sources.
func spoofed(i int) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(0x0b000000+i))
	return netip.AddrFrom4(b)
}

type recorder struct{ events []Event }

func (r *recorder) emit(ev *Event) error { r.events = append(r.events, *ev); return nil }

func (r *recorder) states() map[string]int {
	m := map[string]int{}
	for _, e := range r.events {
		m[e.Incident.State]++
	}
	return m
}

func synFlow(src netip.Addr, i int, at int64) Flow {
	return Flow{At: at, Src: src, Dst: victim, Sport: uint16(1024 + i%60000), Dport: 80, Proto: TCP,
		Record: uint64(i), Packets: 1, Bytes: 40, Score: 0.7,
		Top: synTop, CommunityID: "1:x"}
}

var synTop = []string{"src_unanswered_60s", "src_conns_60s", "src_new_services_60s"}

func TestSpoofedSynFloodIsOneTargetIncident(t *testing.T) {
	var r recorder
	e := New(Config{}, r.emit)
	n := 20000
	samples := 0
	for i := range n {
		f := synFlow(spoofed(i), i, t0+int64(i)*int64(100*time.Microsecond))
		_, s, err := e.Add(&f)
		if err != nil {
			t.Fatal(err)
		}
		if s {
			samples++
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	var ends []Event
	for _, ev := range r.events {
		if ev.Incident.State == "end" && ev.Incident.Reason != "merged" {
			ends = append(ends, ev)
		}
	}
	if len(ends) != 1 {
		t.Fatalf("%d incidents ended (not merged), want 1: %+v", len(ends), r.states())
	}
	b := ends[0].Incident
	if b.Kind != "syn_flood" || b.Key != "target" || ends[0].DestIP != victim {
		t.Errorf("kind %s key %s dest %v, want syn_flood target %v", b.Kind, b.Key, ends[0].DestIP, victim)
	}
	if b.Alerts != uint64(n) || b.Packets != uint64(n) {
		t.Errorf("alerts %d packets %d, want %d", b.Alerts, b.Packets, n)
	}
	if d := float64(b.Src.Count)/float64(n) - 1; d < -0.1 || d > 0.1 {
		t.Errorf("src count %d, want %d within 10%%", b.Src.Count, n)
	}
	if b.Dest.Count != 1 || b.DestPorts.Count != 1 || b.DestPorts.Top[0].Port != 80 {
		t.Errorf("dest %+v ports %+v", b.Dest, b.DestPorts)
	}
	// The first alert opened a pair incident, merged into the target one
	// by the second: 5 samples each at most.
	if samples > 2*DefaultSamples || e.Stats().Suppressed != uint64(n-samples) {
		t.Errorf("%d samples, stats %+v", samples, e.Stats())
	}
	// 2.4 s of flood: start, updates every 10 s (none), end.
	if st := r.states(); st["update"] != 0 || st["start"] != 2 {
		t.Errorf("events %v", st)
	}
	if b.PeakPPS != 10000 {
		t.Errorf("peak %d pps, want 10000", b.PeakPPS)
	}
}

func TestPortScanIsOneIncidentWithScannerAsSource(t *testing.T) {
	var r recorder
	e := New(Config{}, r.emit)
	for p := range 1000 {
		f := Flow{At: t0 + int64(p)*int64(200*time.Microsecond), Src: scanner, Dst: victim, Sport: 40000, Dport: uint16(p + 1), Proto: TCP,
			Record: uint64(p), Packets: 2, Bytes: 84, Top: []string{"src_conns_60s", "src_new_services_60s", "src_dports_60s"}}
		e.Add(&f)
	}
	e.Close()
	if len(r.events) != 2 {
		t.Fatalf("%d events, want start and end: %v", len(r.events), r.states())
	}
	ev := r.events[1]
	if ev.Incident.Kind != "port_scan" || ev.SrcIP != scanner || ev.Incident.Dest.Top[0].IP != victim {
		t.Errorf("end %+v", ev)
	}
	if ev.Incident.DestPorts.Count < 900 || ev.Incident.Flows < 900 {
		t.Errorf("ports %d flows %d, want about 1000", ev.Incident.DestPorts.Count, ev.Incident.Flows)
	}
	if r.events[0].Incident.Kind != Anomaly {
		t.Errorf("start kind %s: one flow does not show a scan", r.events[0].Incident.Kind)
	}
}

func TestKinds(t *testing.T) {
	for _, c := range []struct {
		name string
		f    Flow
		kind string
		sh   Shape
	}{
		{"beacon", Flow{Proto: TCP, Dport: 8000, Top: []string{"beacon_iat_cv_less_clockwork", "http_ua_len"}}, "beacon", Pair},
		{"dns tunnel", Flow{Proto: UDP, Dport: 53, Top: []string{"dns_longest_label", "dns_qname_len"}}, "dns_tunnel", Pair},
		{"dns label not on 53", Flow{Proto: UDP, Dport: 5353, Top: []string{"dns_longest_label"}}, Anomaly, Pair},
		{"sqli", Flow{Proto: TCP, Dport: 8080, Top: []string{"http_query_len", "http_sqli_tokens"}}, "web_attack", Pair},
		{"ftp brute force", Flow{Proto: TCP, Dport: 21, Top: []string{"auth_failures", "active_max"}}, "brute_force", Target},
		{"dns reflection", Flow{Proto: UDP, Sport: 53, Dport: 40000, Top: []string{"dport_ephemeral"}}, "udp_reflection", Target},
		{"answered dns", Flow{Proto: UDP, Sport: 53, Dport: 40000, BwdPackets: 1, Top: []string{"dport_ephemeral"}}, Anomaly, Pair},
		{"unsolicited", Flow{Proto: UDP, Sport: 5000, Dport: 80, Top: []string{"unsolicited_response"}}, "udp_reflection", Target},
		{"victim view", Flow{Proto: TCP, Dport: 80, Top: []string{"dst_syn_only_share_10s", "dst_svc_initiators_10s"}}, TCPProbe, Target},
		{"a scan's victim-side counts", Flow{Proto: TCP, Dport: 81, Top: []string{"dst_like_conns_10s", "src_dports_60s"}}, TCPProbe, Pair},
		{"icmp victim view", Flow{Proto: ICMP, Top: []string{"dst_like_initiators_10s"}}, ICMPProbe, Target},
		{"icmp errors nobody asked for", Flow{Proto: ICMP, Top: []string{"unsolicited_response"}}, Anomaly, Source},
		{"timing only", Flow{Proto: ICMP, Top: []string{"flow_iat_min", "active_max"}}, Anomaly, Pair},
	} {
		k, sh := classify(DefaultRules, &c.f)
		if k != c.kind || sh != c.sh {
			t.Errorf("%s: %s %s, want %s %s", c.name, k, sh, c.kind, c.sh)
		}
	}
}

func TestSettle(t *testing.T) {
	for _, c := range []struct {
		kind string
		c    Counts
		want string
	}{
		{TCPProbe, Counts{Flows: 1000, Dests: 1, DestPorts: 1000, Unanswered: 1}, "port_scan"},
		{TCPProbe, Counts{Flows: 20000, Dests: 1, DestPorts: 1, Unanswered: 1}, "syn_flood"},
		{TCPProbe, Counts{Flows: 20000, Dests: 1, DestPorts: 1, Unanswered: 0.1}, Anomaly}, // answered: a connection flood is not a SYN flood
		{TCPProbe, Counts{Flows: 9381, Dests: 1, DestPorts: 3650, Unanswered: 1}, "syn_flood"},
		{TCPProbe, Counts{Flows: 20, Dests: 1, DestPorts: 1, Unanswered: 1}, Anomaly},
		{UDPProbe, Counts{Flows: 20000, Dests: 1, DestPorts: 100}, "udp_flood"},
		{ICMPProbe, Counts{Flows: 10000, Dests: 1}, "icmp_flood"},
		{ICMPProbe, Counts{Flows: 10, Dests: 1}, Anomaly},
		{"beacon", Counts{}, "beacon"},
	} {
		if got := Settle(c.kind, c.c); got != c.want {
			t.Errorf("Settle(%s, %+v) = %s, want %s", c.kind, c.c, got, c.want)
		}
	}
}

func TestLifeCycle(t *testing.T) {
	var r recorder
	e := New(Config{Update: 10 * time.Second, Idle: 60 * time.Second}, r.emit)
	// One beacon every 5 s for 40 s, then silence, then another alert
	// 2 minutes later.
	f := Flow{Src: scanner, Dst: victim, Proto: TCP, Dport: 8000, Packets: 10, Top: []string{"beacon_iat_cv_less_clockwork"}}
	var id0 string
	for i := range 9 {
		f.At, f.Record = t0+int64(i)*int64(5*time.Second), uint64(i)
		id, _, _ := e.Add(&f)
		if i == 0 {
			id0 = id
		} else if id != id0 {
			t.Fatalf("alert %d went to %s, not %s", i, id, id0)
		}
	}
	if got := r.states(); got["start"] != 1 || got["update"] != 4 || got["end"] != 0 {
		t.Fatalf("after 40 s: %v, want 1 start and 4 updates (every 10 s)", got)
	}
	f.At = t0 + int64(160*time.Second)
	id, _, _ := e.Add(&f)
	if id == id0 {
		t.Fatal("an alert 2 minutes after the last joined the idle incident")
	}
	end := r.events[len(r.events)-2]
	if end.Incident.State != "end" || end.Incident.Reason != "idle" || int64(end.Timestamp) != t0+int64(100*time.Second) {
		t.Errorf("idle end %+v, want at last alert + 60 s", end)
	}
	e.Close()
	if last := r.events[len(r.events)-1]; last.Incident.State != "end" || last.Incident.Reason != "close" || last.Incident.ID != id {
		t.Errorf("close: %+v", last)
	}
	if e.Open() != 0 {
		t.Errorf("%d open after Close", e.Open())
	}
}

func TestMaxOpenEvictsOldest(t *testing.T) {
	var r recorder
	e := New(Config{MaxOpen: 3}, r.emit)
	for i := range 5 {
		f := Flow{At: t0 + int64(i), Src: spoofed(i), Dst: spoofed(1000 + i), Proto: UDP, Dport: 9, Top: []string{"flow_iat_min"}}
		e.Add(&f)
	}
	if e.Open() != 3 || e.Stats().Evicted != 2 {
		t.Fatalf("open %d, stats %+v", e.Open(), e.Stats())
	}
	var evicted []netip.Addr
	for _, ev := range r.events {
		if ev.Incident.Reason == "evicted" {
			evicted = append(evicted, ev.SrcIP)
		}
	}
	if len(evicted) != 2 || evicted[0] != spoofed(0) || evicted[1] != spoofed(1) {
		t.Errorf("evicted %v, want the two oldest", evicted)
	}
}

func TestDeterministicIDs(t *testing.T) {
	run := func() []byte {
		var buf bytes.Buffer
		e := New(Config{}, func(ev *Event) error {
			b, err := ev.AppendJSON(nil)
			buf.Write(append(b, '\n'))
			return err
		})
		for i := range 3000 {
			f := synFlow(spoofed(i%700), i, t0+int64(i)*int64(time.Millisecond))
			e.Add(&f)
		}
		e.Close()
		return buf.Bytes()
	}
	a, b := run(), run()
	if !bytes.Equal(a, b) || len(a) == 0 {
		t.Fatalf("two runs of the same alerts differ (%d, %d bytes)", len(a), len(b))
	}
	for _, line := range bytes.Split(bytes.TrimSpace(a), []byte("\n")) {
		if _, err := ParseEvent(line); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
	}
}

// TestMillionSourcesBounded: a flood from 1M distinct sources keeps the
// incident's memory bounded (sketches, not sets) and adds nothing per
// alert once the incident exists.
func TestMillionSourcesBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("1M alerts: skipped with -short")
	}
	e := New(Config{}, nil)
	f := synFlow(spoofed(0), 0, t0)
	e.Add(&f)
	f = synFlow(spoofed(1), 1, t0+1)
	e.Add(&f)
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	i := 2
	allocs := testing.AllocsPerRun(1_000_000, func() {
		f := synFlow(spoofed(i), i, t0+int64(i)*1000)
		e.Add(&f)
		i++
	})
	runtime.GC()
	runtime.ReadMemStats(&m1)
	if allocs != 0 {
		t.Errorf("%.2f allocations per alert, want 0", allocs)
	}
	if grow := int64(m1.HeapAlloc) - int64(m0.HeapAlloc); grow > 64<<10 {
		t.Errorf("heap grew %d bytes over 1M sources", grow)
	}
	if e.Open() != 1 {
		t.Errorf("%d incidents open, want 1", e.Open())
	}
}

func BenchmarkAddFlood(b *testing.B) {
	e := New(Config{}, nil)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		f := synFlow(spoofed(i), i, t0+int64(i)*1000)
		e.Add(&f)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "alerts/s")
}

func FuzzParseEvent(f *testing.F) {
	f.Add([]byte(`{"timestamp":"2026-12-07T12:00:00.000000Z","event_type":"incident","dest_ip":"10.77.0.10","incident":{"id":"a","state":"start","kind":"syn_flood"}}`))
	f.Add([]byte(`{"event_type":"anomaly"}`))
	f.Add([]byte(`{"event_type":"incident","incident":{"id":"x","state":"gone","kind":"k"}}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		ev, err := ParseEvent(line)
		if err == nil && (ev.Incident.ID == "" || ev.Incident.Kind == "") {
			t.Fatalf("accepted %q without id or kind", line)
		}
	})
}

func TestScanThenFloodSplits(t *testing.T) {
	var r recorder
	e := New(Config{}, r.emit)
	at := t0
	for p := range 1000 {
		at += int64(200 * time.Microsecond)
		f := Flow{At: at, Src: scanner, Dst: victim, Sport: 40000, Dport: uint16(p + 1), Proto: TCP,
			Record: uint64(p), Packets: 2, Top: []string{"src_conns_60s", "src_unanswered_60s"}}
		e.Add(&f)
	}
	for i := range 5000 {
		at += int64(100 * time.Microsecond)
		f := Flow{At: at, Src: scanner, Dst: victim, Sport: uint16(2000 + i), Dport: 80, Proto: TCP,
			Record: uint64(10000 + i), Packets: 1, Top: []string{"src_unanswered_60s", "src_conns_60s"}}
		e.Add(&f)
	}
	e.Close()
	var kinds []string
	for _, ev := range r.events {
		if ev.Incident.State == "end" {
			kinds = append(kinds, ev.Incident.Kind+"/"+ev.Incident.Reason)
		}
	}
	if len(kinds) != 2 || kinds[0] != "port_scan/split" || kinds[1] != "syn_flood/close" {
		t.Errorf("ends %v, want port_scan/split then syn_flood/close", kinds)
	}
}
