package detect

import (
	"bufio"
	"encoding/json"
	"io"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vigil-nids/vigil/features"
	"github.com/vigil-nids/vigil/models"
)

func testJob(proto uint8, sport, dport uint16, vlan uint16) *job {
	id := features.FlowID{
		Start: time.Date(2026, 11, 26, 10, 0, 0, 123456789, time.UTC).UnixNano(),
		End:   time.Date(2026, 11, 26, 10, 0, 5, 0, time.UTC).UnixNano(),
		Src:   netip.MustParseAddr("10.77.0.66"), Dst: netip.MustParseAddr("10.77.0.10"),
		Sport: sport, Dport: dport, Proto: proto, VLAN: vlan,
	}
	return &job{id: id, community: "1:abc=", fwdPkts: 3, bwdPkts: 2, fwdBytes: 180, bwdBytes: 120,
		final: true, reason: features.EndRST, seq: 1, at: id.End + 1500, hash: features.FlowKeyHash(&id)}
}

func TestAlertJSON(t *testing.T) {
	top := []models.Contribution{{Name: "syn_ratio", Value: 1, Lo: 0, Hi: math.Inf(1), Share: 0.75}}
	a := newAlert(testJob(6, 40000, 80, 0), Scores{IForest: 0.7, KMeans: 3, Ensemble: 1.4}, Thresholds{0.5, 4, 1}, "h1", top)
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"timestamp": "2026-11-26T10:00:05.000001Z", "event_type": "anomaly", "src_ip": "10.77.0.66",
		"src_port": 40000.0, "dest_ip": "10.77.0.10", "dest_port": 80.0, "proto": "TCP",
		"community_id": "1:abc=", "score": 1.4, "threshold": 1.0, "model": "h1", "final": true,
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %#v, want %#v", k, m[k], v)
		}
	}
	for _, k := range []string{"icmp_type", "vlan"} {
		if _, ok := m[k]; ok {
			t.Errorf("%s present in a TCP alert without VLAN", k)
		}
	}
	flow := m["flow"].(map[string]any)
	if flow["pkts_toserver"] != 3.0 || flow["bytes_toclient"] != 120.0 || flow["start"] != "2026-11-26T10:00:00.123456Z" ||
		flow["reason"] != "rst" || flow["seq"] != 1.0 {
		t.Errorf("flow = %v", flow)
	}
	if s := m["scores"].(map[string]any); s["iforest"] != 0.7 || s["kmeans"] != 3.0 {
		t.Errorf("scores = %v", s)
	}
	tf := m["top_features"].([]any)[0].(map[string]any)
	if bl := tf["baseline"].([]any); tf["name"] != "syn_ratio" || bl[0] != 0.0 || bl[1] != nil || tf["share"] != 0.75 {
		t.Errorf("top feature = %v (an infinite bound must be null)", tf)
	}
	id := m["flow_id"].(float64)
	if id <= 0 || id >= 1<<53 || uint64(id) != a.FlowID {
		t.Errorf("flow_id %v not an exact 53-bit integer", id)
	}

	// ICMP: type and code instead of ports; VLAN as Suricata's array.
	j := testJob(1, 8<<8, 77, 12) // echo request: type 8, code 0
	j.final = false
	a = newAlert(j, Scores{Ensemble: 2}, Thresholds{1, 1, 1}, "h1", nil)
	b, _ = json.Marshal(a)
	s := string(b)
	for _, sub := range []string{`"icmp_type":8`, `"icmp_code":0`, `"vlan":[12]`, `"proto":"ICMP"`, `"final":false`, `"top_features":[]`} {
		if !strings.Contains(s, sub) {
			t.Errorf("ICMP alert %s lacks %s", s, sub)
		}
	}
	for _, sub := range []string{"src_port", "reason"} {
		if strings.Contains(s, sub) {
			t.Errorf("ICMP interim alert %s has %s", s, sub)
		}
	}

	// Round trip through the Go types.
	var back Alert
	if err := json.Unmarshal(b, &back); err != nil || back.Timestamp != a.Timestamp/1000*1000 || back.FlowID != a.FlowID {
		t.Fatalf("round trip: %v %+v", err, back)
	}
}

func TestFlowKeyHashDirection(t *testing.T) {
	j := testJob(6, 40000, 80, 5)
	rev := j.id
	rev.Src, rev.Dst, rev.Sport, rev.Dport = rev.Dst, rev.Src, rev.Dport, rev.Sport
	if features.FlowKeyHash(&j.id) != features.FlowKeyHash(&rev) {
		t.Fatal("hash depends on direction")
	}
	for _, mut := range []func(*features.FlowID){
		func(f *features.FlowID) { f.Sport++ },
		func(f *features.FlowID) { f.VLAN = 0 },
		func(f *features.FlowID) { f.Proto = 17 },
		func(f *features.FlowID) { f.Dst = netip.MustParseAddr("10.77.0.11") },
	} {
		o := j.id
		mut(&o)
		if features.FlowKeyHash(&o) == features.FlowKeyHash(&j.id) {
			t.Fatalf("different keys %+v and %+v hash the same", o, j.id)
		}
	}
}

func TestJSONLinesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerts.json")
	s, err := CreateJSONLines(path, false)
	if err != nil {
		t.Fatal(err)
	}
	a := newAlert(testJob(17, 53, 5353, 0), Scores{Ensemble: 3}, Thresholds{1, 1, 1}, "h", nil)
	for range 3 {
		if err := s.Send(a); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(a); err != ErrClosed {
		t.Fatalf("Send after Close = %v, want ErrClosed", err)
	}
	f, _ := os.Open(path)
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	re := regexp.MustCompile(`^\{"timestamp":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z","event_type":"anomaly",.*\}$`)
	for sc.Scan() {
		if !re.MatchString(sc.Text()) {
			t.Fatalf("line %q", sc.Text())
		}
		n++
	}
	if n != 3 {
		t.Fatalf("%d lines, want 3", n)
	}

	if _, err := CreateJSONLines(path, false); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("existing file without force: err = %v", err)
	}
	s, err = CreateJSONLines(path, true)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if st, _ := os.Stat(path); st.Size() != 0 {
		t.Fatalf("force did not truncate: %d bytes", st.Size())
	}
}

func TestSummaryForms(t *testing.T) {
	s := Summary{Packets: 10, Bytes: 600, Flows: 2, Alerts: 1, AlertsByModel: map[string]uint64{"iforest": 1},
		Protocols: map[string]uint64{"udp": 4, "tcp": 6}, Dropped: Drops{Kernel: 3, Internal: 4}, ElapsedSeconds: 2, PacketsPerSecond: 5}
	var b strings.Builder
	if err := s.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"packets   10 (600 bytes", "alerts    1 (iforest 1, kmeans 0)", "kernel 3, internal 4", "protocols tcp 6, udp 4", "5 packets/s"} {
		if !strings.Contains(b.String(), sub) {
			t.Errorf("text summary lacks %q:\n%s", sub, b.String())
		}
	}
	b.Reset()
	s.WriteJSON(&b)
	var m map[string]any
	if err := json.Unmarshal([]byte(b.String()), &m); err != nil {
		t.Fatal(err)
	}
	if m["packets"] != 10.0 || m["dropped"].(map[string]any)["kernel"] != 3.0 || m["elapsed_seconds"] != 2.0 {
		t.Fatalf("json summary %v", m)
	}
}

func BenchmarkAlertJSON(b *testing.B) {
	top := []models.Contribution{{Name: "a", Value: 1, Hi: 2, Share: .5}, {Name: "b", Value: 3, Hi: 4, Share: .3}, {Name: "c", Value: 5, Hi: 6, Share: .2}}
	a := newAlert(testJob(6, 40000, 80, 0), Scores{IForest: 0.7, KMeans: 3, Ensemble: 1.4}, Thresholds{0.5, 4, 1}, "h1", top)
	s := NewJSONLines(io.Discard)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Send(a); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "alerts/s")
}

// TestAlertCommunityID: an alert carries the extractor's Community ID when
// the record has one, else the one features.CommunityID computes (here
// written into the alert's box), for IPv4 and IPv6, TCP, UDP and ICMP;
// alerts built in a row from one slab keep their own.
func TestAlertCommunityID(t *testing.T) {
	v6 := testJob(17, 5353, 53, 0)
	v6.id.Src, v6.id.Dst = netip.MustParseAddr("fe80::1"), netip.MustParseAddr("2001:db8::53")
	given := testJob(6, 40000, 80, 0) // community "1:abc="
	var slab [4]alertBox
	var alerts []*Alert
	for i, j := range []*job{testJob(6, 40000, 80, 0), testJob(1, 0x0803, 0, 0), v6, given} {
		if j != given {
			j.community = ""
		}
		a := newAlertIn(&slab[i], j, Scores{Ensemble: 2}, Thresholds{1, 1, 1}, "h", nil)
		want := j.community
		if want == "" {
			want = features.CommunityID(&j.id)
		}
		if a.CommunityID != want || !strings.HasPrefix(want, "1:") {
			t.Fatalf("job %d: community_id %q, want %q", i, a.CommunityID, want)
		}
		alerts = append(alerts, a)
	}
	if alerts[0].CommunityID == alerts[1].CommunityID || alerts[1].CommunityID == alerts[2].CommunityID {
		t.Fatalf("distinct flows share a Community ID: %q %q %q", alerts[0].CommunityID, alerts[1].CommunityID, alerts[2].CommunityID)
	}
}
