package datasets

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-nids/vigil/features"
)

const sharedData = "../../shared/data" // relative to datasets/, i.e. /work/shared/data

func sharedFile(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(sharedData, rel)
	if _, err := os.Stat(p); err != nil {
		if dir := os.Getenv("VIGIL_SHARED_DATA"); dir != "" {
			p = filepath.Join(dir, rel)
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
		t.Skipf("shared data %s not present: %v", rel, err)
	}
	return p
}

func countLabels(l *Labels) map[string]int {
	m := map[string]int{}
	for _, r := range l.Rows {
		m[r.Label]++
	}
	return m
}

func TestLoadSharedLab(t *testing.T) {
	l, err := LoadLabelsFile(sharedFile(t, "lab/labels.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Rows) != 9 {
		t.Fatalf("lab rows = %d, want 9 (PROVENANCE.md)", len(l.Rows))
	}
}

// insiderCounts is the table of lab-insider/PROVENANCE.md.
var insiderCounts = map[string]int{
	"syn_flood": 20000, "portscan_syn": 1000, "dns_tunnel_dig": 299,
	"sql_injection": 62, "service_scan": 19, "beaconing": 19,
	"bruteforce_ftp": 12, "bruteforce_ssh": 7, "dns_tunnel_iodine": 1,
}

func TestLoadSharedInsider(t *testing.T) {
	l, err := LoadLabelsFile(sharedFile(t, "lab-insider/labels.csv"))
	if err != nil {
		t.Fatal(err)
	}
	got := countLabels(l)
	if len(got) != len(insiderCounts) {
		t.Errorf("labels %v, want %v", got, insiderCounts)
	}
	for lab, n := range insiderCounts {
		if got[lab] != n {
			t.Errorf("%s: %d rows, want %d", lab, got[lab], n)
		}
	}
	// Every per-flow row must match the flow it was made from.
	for i, r := range l.Rows {
		id := features.FlowID{Start: r.Start, End: r.End, Src: r.Dst.Addr(), Dst: r.Src.Addr(),
			Sport: uint16(r.Dport), Dport: uint16(r.Sport), Proto: uint8(r.Proto)}
		if lab, row := l.Match(id); row != i || lab != r.Label {
			t.Fatalf("row %d (line %d) reversed flow matched row %d %q", i, r.Line, row, lab)
		}
	}
	if u := l.Unmatched(); len(u) != 0 {
		t.Errorf("%d unmatched rows after matching every row's own flow", len(u))
	}
}

func TestLoadFixtures(t *testing.T) {
	lab, err := LoadLabelsFile("testdata/lab-labels.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(lab.Rows) != 9 {
		t.Fatalf("lab rows = %d, want 9", len(lab.Rows))
	}
	r := lab.Rows[0]
	// First row as written: 1795707401508265921,1795707491517448832,10.77.0.66,10.77.0.22,beaconing
	if r.Start != 1795707401508265921 || r.End != 1795707491517448832 || r.Label != "beaconing" ||
		r.Src != netip.MustParsePrefix("10.77.0.66/32") || r.Dst != netip.MustParsePrefix("10.77.0.22/32") ||
		r.Sport != -1 || r.Dport != -1 || r.Proto != -1 || r.Line != 2 {
		t.Errorf("row 0 = %+v", r)
	}
	cut, err := LoadLabelsFile("testdata/insider-labels-cut.csv")
	if err != nil {
		t.Fatal(err)
	}
	// Counted with: tail -n +2 insider-labels-cut.csv | cut -d, -f5 | sort | uniq -c
	want := map[string]int{"beaconing": 19, "portscan_syn": 50, "service_scan": 19, "syn_flood": 50,
		"bruteforce_ftp": 12, "bruteforce_ssh": 7, "sql_injection": 62, "dns_tunnel_dig": 40, "dns_tunnel_iodine": 1}
	got := countLabels(cut)
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: %d rows, want %d", k, got[k], n)
		}
	}
	r = cut.Rows[0] // 1795707401.515130043,1795707401.519370079,10.77.0.22,10.77.0.21,beaconing,34430,8000,tcp
	if r.Start != 1795707401_515130043 || r.End != 1795707401_519370079 || r.Sport != 34430 || r.Dport != 8000 || r.Proto != 6 {
		t.Errorf("cut row 0 = %+v", r)
	}
}

func TestParseTime(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{"1795707401.515130043", 1795707401_515130043, false},
		{"1795707401.5", 1795707401_500000000, false},
		{"1795707401", 1795707401_000000000, false},
		{"0", 0, false},
		{"1795707401508265921", 1795707401508265921, false},
		{"100000000000000000", 1e17, false},
		{"2026-11-26T16:33:02Z", 1795710782_000000000, false},
		{"2026-11-26T17:33:02.25+01:00", 1795710782_250000000, false},
		{"", 0, true},
		{"x", 0, true},
		{"1.", 0, true},
		{".5", 0, true},
		{"-5", 0, true},
		{"1e9", 0, true},
		{"1.0000000001", 0, true},
		{"99999999999999999", 0, true}, // neither seconds (overflows ns) nor >= 1e17
		{"99999999999999999999", 0, true},
		{"2026-13-01T00:00:00Z", 0, true},
		{"9999-01-01T00:00:00Z", 0, true},
	} {
		got, err := ParseTime(tc.in)
		if (err != nil) != tc.bad || (!tc.bad && got != tc.want) {
			t.Errorf("ParseTime(%q) = %d, %v; want %d, bad=%v", tc.in, got, err, tc.want, tc.bad)
		}
	}
	// The RFC 3339 case checked independently of ParseTime.
	if want := time.Date(2026, 11, 26, 16, 33, 2, 0, time.UTC).UnixNano(); want != 1795710782_000000000 {
		t.Fatalf("test constant wrong: %d", want)
	}
}

func mustLoad(t *testing.T, csv string) *Labels {
	t.Helper()
	l, err := LoadLabels(strings.NewReader(csv), "t.csv")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func flow(start, end float64, src string, sport uint16, dst string, dport uint16, proto uint8) features.FlowID {
	return features.FlowID{Start: int64(start * 1e9), End: int64(end * 1e9),
		Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), Sport: sport, Dport: dport, Proto: proto}
}

func TestMatch(t *testing.T) {
	l := mustLoad(t, `label,start,end,src,dst,sport,dport,proto,note
scan,100,110,10.0.0.66,10.0.0.10,,,tcp,window tcp only
net,200,210,10.0.0.0/24,,,,,CIDR to anyone
flow,300,301,10.0.0.21,10.0.0.10,40000,80,tcp,one flow
flow2,300,301,10.0.0.21,10.0.0.10,,80,6,dport only
wide,299,310,10.0.0.21,10.0.0.10,,,,window over the flow rows
early,400,420,10.0.0.5,,,,,first of two overlapping windows
late,410,430,10.0.0.5,,,,,second
v6,500,510,2001:db8::/32,2001:db8::1,,,icmpv6,
udp17,600,601,10.0.0.1,10.0.0.2,5353,53,17,
`)
	for _, tc := range []struct {
		name string
		id   features.FlowID
		want string
	}{
		{"forward", flow(101, 102, "10.0.0.66", 5000, "10.0.0.10", 80, 6), "scan"},
		{"reverse", flow(101, 102, "10.0.0.10", 80, "10.0.0.66", 5000, 6), "scan"},
		{"wrong proto", flow(101, 102, "10.0.0.66", 5000, "10.0.0.10", 53, 17), Benign},
		{"other host", flow(101, 102, "10.0.0.67", 5000, "10.0.0.10", 80, 6), Benign},
		{"before slack", flow(98, 98.9, "10.0.0.66", 5000, "10.0.0.10", 80, 6), Benign},
		{"inside slack before", flow(98, 99.1, "10.0.0.66", 5000, "10.0.0.10", 80, 6), "scan"},
		{"inside slack after", flow(110.9, 120, "10.0.0.66", 5000, "10.0.0.10", 80, 6), "scan"},
		{"after slack", flow(111.1, 120, "10.0.0.66", 5000, "10.0.0.10", 80, 6), Benign},
		{"spanning window", flow(50, 150, "10.0.0.66", 5000, "10.0.0.10", 80, 6), "scan"},
		{"cidr any dst", flow(205, 206, "10.0.0.99", 1, "192.0.2.1", 2, 17), "net"},
		{"cidr reverse", flow(205, 206, "192.0.2.1", 2, "10.0.0.99", 1, 17), "net"},
		{"cidr outside", flow(205, 206, "10.0.1.99", 1, "192.0.2.1", 2, 17), Benign},
		{"per-flow row", flow(300.1, 300.2, "10.0.0.21", 40000, "10.0.0.10", 80, 6), "flow"},
		{"per-flow reversed", flow(300.1, 300.2, "10.0.0.10", 80, "10.0.0.21", 40000, 6), "flow"},
		{"dport-only row", flow(300.1, 300.2, "10.0.0.21", 40001, "10.0.0.10", 80, 6), "flow2"},
		{"window under rows", flow(300.1, 300.2, "10.0.0.21", 40001, "10.0.0.10", 443, 6), "wide"},
		{"ports crossed not swapped", flow(300.1, 300.2, "10.0.0.21", 80, "10.0.0.10", 40000, 6), "wide"},
		{"earliest of overlapping", flow(415, 416, "10.0.0.5", 1, "10.0.0.6", 2, 6), "early"},
		{"only late", flow(425, 426, "10.0.0.6", 1, "10.0.0.5", 2, 6), "late"},
		{"v6 cidr", flow(505, 506, "2001:db8:5::7", 0x8000, "2001:db8::1", 7, 58), "v6"},
		{"v6 wrong proto", flow(505, 506, "2001:db8:5::7", 1, "2001:db8::1", 7, 17), Benign},
		{"v4-mapped flow", flow(101, 102, "::ffff:10.0.0.66", 5000, "10.0.0.10", 80, 6), "scan"},
		{"proto number", flow(600, 600.5, "10.0.0.2", 53, "10.0.0.1", 5353, 17), "udp17"},
		{"proto number wrong", flow(600, 600.5, "10.0.0.2", 53, "10.0.0.1", 5353, 6), Benign},
		{"far away", flow(1e6, 1e6+1, "10.0.0.66", 5000, "10.0.0.10", 80, 6), Benign},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, row := l.Match(tc.id)
			if got != tc.want {
				t.Errorf("Match = %q (row %d), want %q", got, row, tc.want)
			}
			if (row < 0) != (tc.want == Benign) || (row >= 0 && l.Rows[row].Label != got) {
				t.Errorf("row %d inconsistent with label %q", row, got)
			}
		})
	}
	// Unmatched: every row matched above.
	if u := l.Unmatched(); len(u) != 0 {
		t.Errorf("unmatched rows %v; want none", u)
	}
	l.ResetCounts()
	if u := l.Unmatched(); len(u) != len(l.Rows) {
		t.Errorf("after reset %d unmatched, want %d", len(u), len(l.Rows))
	}
}

func TestSlackSetting(t *testing.T) {
	l := mustLoad(t, "start,end,src,dst,label,sport,dport,proto\n100,101,10.0.0.1,10.0.0.2,x,1,2,tcp\n")
	id := flow(103, 104, "10.0.0.1", 1, "10.0.0.2", 2, 6)
	if lab, _ := l.Match(id); lab != Benign {
		t.Fatalf("2 s after with 1 s slack: %q", lab)
	}
	l.Slack = 3 * time.Second
	if lab, _ := l.Match(id); lab != "x" {
		t.Fatalf("2 s after with 3 s slack: %q", lab)
	}
	l.Slack = 0
	if lab, _ := l.Match(flow(101, 102, "10.0.0.1", 1, "10.0.0.2", 2, 6)); lab != "x" {
		t.Fatalf("touching end with 0 slack: %q", lab)
	}
}

// A benign flow of the insider 10.77.0.21 inside an attack window, but on a
// 5-tuple no row names, stays benign; the attack flows next to it do not.
func TestInsiderBenignStaysBenign(t *testing.T) {
	l, err := LoadLabelsFile("testdata/insider-labels-cut.csv")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		id   features.FlowID
		want string
	}{
		// sql_injection rows: 1795707479.857003927-…889322996 10.77.0.21:51558 -> 10.77.0.10:8080 tcp
		{"sqli attack flow", flow(1795707479.86, 1795707479.88, "10.77.0.21", 51558, "10.77.0.10", 8080, 6), "sql_injection"},
		{"benign http same time", flow(1795707479.86, 1795707479.88, "10.77.0.21", 51560, "10.77.0.10", 80, 6), Benign},
		{"benign other port same server", flow(1795707479.86, 1795707479.88, "10.77.0.21", 51999, "10.77.0.10", 8080, 6), Benign},
		// dns_tunnel_dig: 10.77.0.21:32804 -> 10.77.0.10:53 udp at 1795707503.0059
		{"dig attack flow reversed", flow(1795707503.0060, 1795707503.0061, "10.77.0.10", 53, "10.77.0.21", 32804, 17), "dns_tunnel_dig"},
		{"benign dns query", flow(1795707503.0060, 1795707503.0061, "10.77.0.21", 33333, "10.77.0.10", 53, 17), Benign},
		// iodine: a 15 s UDP flow 10.77.0.21:37495 -> 10.77.0.11:53
		{"iodine", flow(1795707530, 1795707531, "10.77.0.21", 37495, "10.77.0.11", 53, 17), "dns_tunnel_iodine"},
		{"benign tcp with iodine's ports", flow(1795707530, 1795707531, "10.77.0.21", 37495, "10.77.0.11", 53, 6), Benign},
		// beaconing: 10.77.0.22:34430 -> 10.77.0.21:8000
		{"beacon", flow(1795707401.52, 1795707401.53, "10.77.0.22", 34430, "10.77.0.21", 8000, 6), "beaconing"},
		{"benign between beacon hosts", flow(1795707401.52, 1795707401.53, "10.77.0.21", 40000, "10.77.0.22", 22, 6), Benign},
		{"right 5-tuple, wrong time", flow(1795707700, 1795707701, "10.77.0.21", 51558, "10.77.0.10", 8080, 6), Benign},
	} {
		if got, _ := l.Match(tc.id); got != tc.want {
			t.Errorf("%s: Match = %q, want %q", tc.name, got, tc.want)
		}
	}
	u := l.Unmatched()
	if len(u) != len(l.Rows)-4 {
		t.Errorf("unmatched = %d, want %d", len(u), len(l.Rows)-4)
	}
	rep := l.UnmatchedReport(3)
	if !strings.HasPrefix(rep, "insider-labels-cut.csv: 256 of 260 label rows matched no flow: line 3 (beaconing 10.77.0.22:34444 -> 10.77.0.21:8000)") ||
		!strings.HasSuffix(rep, "; …") {
		t.Errorf("report = %q", rep)
	}
}

func TestLoadErrors(t *testing.T) {
	const hdr = "start,end,src,dst,label\n"
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty", "", "t.csv: empty file"},
		{"bad start", hdr + "1,2,,,a\nx,2,,,b\n", `t.csv:3: bad start time "x"`},
		{"bad end", hdr + "1,2,,,a\n1,2,,,a\n1,2026-99-01T00:00:00Z,,,c\n", `t.csv:4: bad end time "2026-99-01T00:00:00Z"`},
		{"end before start", hdr + "5,4,,,a\n", `t.csv:2: end "4" is before start "5"`},
		{"unknown column", "start,end,src,dst,label,colour,note\n", `t.csv:1: unknown column(s) "colour"`},
		{"missing columns", "start,src,label\n", "t.csv:1: missing required column(s) end, dst"},
		{"duplicate column", "start,start_unix_ns,end,src,dst,label\n", `t.csv:1: column "start" given twice`},
		{"bad src", hdr + "1,2,10.0.0.300,,a\n", `t.csv:2: bad src "10.0.0.300"`},
		{"bad dst cidr", hdr + "1,2,,10.0.0.0/33,a\n", `t.csv:2: bad dst "10.0.0.0/33"`},
		{"bad port", "start,end,src,dst,label,sport\n1,2,,,a,70000\n", `t.csv:2: bad sport "70000"`},
		{"bad proto", "start,end,src,dst,label,proto\n1,2,,,a,tcpp\n", `t.csv:2: bad proto "tcpp"`},
		{"empty label", hdr + "1,2,,,\n", "t.csv:2: empty label"},
		{"field count", hdr + "1,2,,,a\n1,2,,a\n", "t.csv:3: wrong number of fields"},
		{"bad quote", hdr + "1,2,,,a\n1,2,,,\"a\n", "t.csv:3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadLabels(strings.NewReader(tc.in), "t.csv")
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("err = %v; want prefix %q", err, tc.want)
			}
		})
	}
}

func TestLoadAccepts(t *testing.T) {
	// Header case, spaces, a BOM, CRLF, aliases, "*" and quoted fields.
	l := mustLoad(t, "\ufeff Start_Unix_NS , END_UNIX_NS,Attacker_IP,victim_ip,attack_type,tool_and_args\r\n"+
		"1795707401508265921,1795707491517448832, 10.77.0.66 ,*,beaconing,\"curl, every 5s\"\r\n")
	if len(l.Rows) != 1 || l.Rows[0].Dst.IsValid() || l.Rows[0].Src != netip.MustParsePrefix("10.77.0.66/32") {
		t.Fatalf("rows = %+v", l.Rows)
	}
	// Header only: no rows, every flow benign.
	l = mustLoad(t, "start,end,src,dst,label\n")
	if lab, row := l.Match(flow(1, 2, "10.0.0.1", 1, "10.0.0.2", 2, 6)); lab != Benign || row != -1 {
		t.Fatalf("empty labels matched %q %d", lab, row)
	}
	if l.UnmatchedReport(3) != "" {
		t.Fatal("report for no rows")
	}
}

func TestParsePcapArg(t *testing.T) {
	dir := t.TempDir()
	eqFile := filepath.Join(dir, "a=b.pcap")
	if err := os.WriteFile(eqFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ in, path, label string }{
		{"x.pcap", "x.pcap", ""},
		{"x.pcap=syn_flood", "x.pcap", "syn_flood"},
		{"dir/x=y.pcap=benign", "dir/x=y.pcap", "benign"},
		{eqFile, eqFile, ""},
		{eqFile + "=scan", eqFile, "scan"},
		{"x.pcap=", "x.pcap=", ""},
		{"a=b/c.pcap", "a=b/c.pcap", ""},
	} {
		p, lab := ParsePcapArg(tc.in)
		if p != tc.path || lab != tc.label {
			t.Errorf("ParsePcapArg(%q) = %q, %q; want %q, %q", tc.in, p, lab, tc.path, tc.label)
		}
	}
}

func TestMatchNoAllocs(t *testing.T) {
	l, err := LoadLabelsFile("testdata/insider-labels-cut.csv")
	if err != nil {
		t.Fatal(err)
	}
	id := flow(1795707479.86, 1795707479.88, "10.77.0.21", 51558, "10.77.0.10", 8080, 6)
	if n := testing.AllocsPerRun(1000, func() { l.Match(id) }); n != 0 {
		t.Fatalf("Match allocs = %v; want 0", n)
	}
}

func TestMatchConcurrent(t *testing.T) {
	l, err := LoadLabelsFile("testdata/insider-labels-cut.csv")
	if err != nil {
		t.Fatal(err)
	}
	ids, want := benchFlows(l, 2000)
	done := make(chan int)
	for range 4 {
		go func() {
			got := 0
			for _, id := range ids {
				if _, row := l.Match(id); row >= 0 {
					got++
				}
			}
			done <- got
		}()
	}
	total := int64(0)
	for range 4 {
		if got := <-done; got != want {
			t.Errorf("matched %d, want %d", got, want)
		}
	}
	for i := range l.Rows {
		total += l.Matches(i)
	}
	if total != int64(4*want) {
		t.Errorf("match counts sum to %d, want %d", total, 4*want)
	}
}

func TestSpans(t *testing.T) {
	l := mustLoad(t, "start,end,src,dst,label\n5,9,,,a\n1,3,,,b\n2,4,,,a\n")
	got := l.Spans()
	if len(got) != 2 || got["a"] != (Span{2e9, 9e9, 2}) || got["b"] != (Span{1e9, 3e9, 1}) {
		t.Errorf("Spans = %v", got)
	}
}
