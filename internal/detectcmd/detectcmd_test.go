package detectcmd

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-nids/vigil/capture"
	"github.com/vigil-nids/vigil/datasets"
	"github.com/vigil-nids/vigil/detect"
	"github.com/vigil-nids/vigil/detect/incident"
	"github.com/vigil-nids/vigil/features"
	"github.com/vigil-nids/vigil/internal/cli"
	"github.com/vigil-nids/vigil/internal/traincmd"
	"github.com/vigil-nids/vigil/models/bundle"
)

// The tests run the real commands on the repository's sample lab data
// (../../testdata/lab, see its README.md): a 60 s benign baseline and a
// 27 s mixed cut in which 10.77.0.66 runs beaconing, an nmap SYN scan, an
// nmap service scan, an hping3 SYN flood and hydra against 10.77.0.10,
// with the lab's label windows in labels.csv.
const (
	repo       = "../.."
	baseline   = repo + "/testdata/lab/baseline.pcap.gz"
	mixed      = repo + "/testdata/lab/mixed.pcap.gz"
	labelsFile = repo + "/testdata/lab/labels.csv"
	nslKDD     = repo + "/datasets/testdata/nslkdd-train-head200.txt"
)

// The attack labels of the mixed cut (beaconing is in it too, but its
// slow periodic HTTP fetches look like the baseline's web traffic).
var attackLabels = []string{"portscan_syn", "service_scan", "syn_flood", "bruteforce_ftp"}

type result struct {
	code           int
	stdout, stderr string
}

// runDetect runs the detect command with args; env is its environment.
func runDetect(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	e := &Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string { return env[k] }, Dir: repo}
	code := cli.Run(New(e), flowMode(args), &stderr)
	return result{code, stdout.String(), stderr.String()}
}

// flowMode adds --alert-mode flow to a detect run's args that name a
// model and no mode: these tests read every flow alert
// (TestDefaultAlertMode runs the default).
func flowMode(args []string) []string {
	if !slices.Contains(args, "--model") || slices.Contains(args, "--alert-mode") {
		return args
	}
	return append([]string{"--alert-mode", "flow"}, args...)
}

// trainModel trains a bundle on the sample baseline with the real train
// command (extra flags appended) and returns its path.
func trainModel(t *testing.T, dir string, extra ...string) string {
	t.Helper()
	out := filepath.Join(dir, "model.vgl")
	var stderr bytes.Buffer
	e := &traincmd.Env{Stdout: io.Discard, Stderr: &stderr, Getenv: func(string) string { return "" },
		Now: func() time.Time { return time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC) }}
	args := append([]string{"--pcap", baseline, "--out", out, "--seed", "1", "-q"}, extra...)
	if code := cli.Run(traincmd.New(e), args, &stderr); code != 0 {
		t.Fatalf("train %v: exit %d: %s", args, code, stderr.String())
	}
	return out
}

// oneLine checks that stderr is exactly one line mentioning want.
func oneLine(t *testing.T, stderr, want string) {
	t.Helper()
	if strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
		t.Errorf("stderr is not one line: %q", stderr)
	}
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr %q does not name the problem (%q)", stderr, want)
	}
}

func TestDemo(t *testing.T) {
	r := runDetect(t, nil, "--demo")
	if r.code != 0 {
		t.Fatalf("--demo: exit %d: %s", r.code, r.stderr)
	}
	out := r.stdout
	head, table, ok := strings.Cut(out, "flows alerted, by label")
	if !ok {
		t.Fatalf("no per-label table in the demo output:\n%s", out)
	}
	// The table: a header row, then "label flows alerted share" rows up
	// to a blank line.
	type row struct {
		flows, alerted int
		share          float64
	}
	rows := map[string]row{}
	lines := strings.Split(table, "\n")
	for i, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) == 0 {
			break
		}
		if i == 0 {
			if strings.Join(f, " ") != "label flows alerted share" {
				t.Fatalf("table header %q", l)
			}
			continue
		}
		if len(f) != 4 {
			t.Fatalf("table row %q", l)
		}
		var x row
		var err1, err2, err3 error
		x.flows, err1 = strconv.Atoi(f[1])
		x.alerted, err2 = strconv.Atoi(f[2])
		x.share, err3 = strconv.ParseFloat(f[3], 64)
		if err1 != nil || err2 != nil || err3 != nil || x.flows <= 0 || x.alerted > x.flows ||
			math.Abs(x.share-float64(x.alerted)/float64(x.flows)) > 0.001 {
			t.Fatalf("table row %q does not add up", l)
		}
		rows[f[0]] = x
	}
	t.Logf("by label: %+v", rows)
	for _, l := range attackLabels {
		if _, ok := rows[l]; !ok {
			t.Errorf("label %s missing from the per-label table", l)
		}
		// The top-alerts table shows the best alert of every label that
		// alerted.
		if rows[l].alerted > 0 && !strings.Contains(head, " "+l+" ") {
			t.Errorf("label %s alerted but is not among the top alerts shown", l)
		}
	}
	for _, l := range []string{"portscan_syn", "syn_flood"} {
		if rows[l].share < 0.9 {
			t.Errorf("%s: %.3f of flows alerted, want >= 0.9", l, rows[l].share)
		}
	}
	if b, ok := rows["benign"]; !ok || b.share > 0.1 {
		t.Errorf("benign flows: %+v, want an alerted share <= 0.1", b)
	}
	if n := countPackets(t, mixed); !strings.Contains(out, fmt.Sprintf("packets   %d ", n)) {
		t.Errorf("demo summary does not report the sample's %d packets", n)
	}
	// The budget: under 30 s on the 2-core machine.
	if _, after, ok := strings.Cut(out, "demo done in "); !ok {
		t.Error("demo output lacks its duration")
	} else if sec, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(after), "s"), 64); err != nil || sec >= 30 {
		t.Errorf("demo done in %q, want under 30 s", after)
	}
}

// Outside the repository --demo finds no sample data and says where it
// looked, without training on anything.
func TestDemoOutsideRepo(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := cli.Run(New(&Env{Stdout: &stdout, Stderr: &stderr, Dir: t.TempDir()}), []string{"--demo"}, &stderr)
	if code != cli.ExitUsage {
		t.Fatalf("exit %d, want 2: %s", code, stderr.String())
	}
	oneLine(t, stderr.String(), DemoDir)
	if stdout.Len() != 0 {
		t.Errorf("stdout: %q", stdout.String())
	}
}

func TestDemoRefusesOtherFlags(t *testing.T) {
	r := runDetect(t, nil, "--demo", "--pcap", "x")
	if r.code != cli.ExitUsage {
		t.Fatalf("--demo --pcap x: exit %d, want 2", r.code)
	}
	oneLine(t, r.stderr, "--demo takes no other flags")
	if r.stdout != "" {
		t.Errorf("refused demo wrote %q", r.stdout)
	}
}

// countPackets counts a capture's packets with capture.Open.
func countPackets(t *testing.T, path string) uint64 {
	t.Helper()
	var n uint64
	eachPacket(t, path, func([]byte, capture.CaptureInfo) { n++ })
	return n
}

// eachPacket calls fn with every packet of the capture at path, read with
// capture.Open, and fails the test on a read error.
func eachPacket(t *testing.T, path string, fn func(data []byte, ci capture.CaptureInfo)) {
	t.Helper()
	src, err := capture.Open([]string{path}, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for {
		data, ci, err := src.ReadPacket()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		fn(data, ci)
	}
}

// tuple is a flow's 5-tuple in canonical order (lower endpoint first).
type tuple struct {
	a, b         netip.Addr
	aPort, bPort uint16
	proto        uint8
}

func canon(a netip.Addr, ap uint16, b netip.Addr, bp uint16, proto uint8) tuple {
	if proto == 1 || proto == 58 { // ICMP: the pair of hosts
		ap, bp = 0, 0
	}
	if c := a.Compare(b); c > 0 || c == 0 && ap > bp {
		a, b, ap, bp = b, a, bp, ap
	}
	return tuple{a, b, ap, bp, proto}
}

// flowKey names one flow record: its tuple and its start to the µs (the
// precision of alert timestamps).
type flowKey struct {
	t     tuple
	start int64
}

// labeledFlows extracts every final flow record of path with the model's
// extractor settings, independently of the detect pipeline, and labels
// it with labels.csv.
func labeledFlows(t *testing.T, path string, b *bundle.Bundle) map[flowKey]string {
	t.Helper()
	cfg, err := detect.ExtractorConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	labels, err := datasets.LoadLabelsFile(labelsFile)
	if err != nil {
		t.Fatal(err)
	}
	flows := map[flowKey]string{}
	x := features.NewExtractor(cfg, func(r *features.Record) {
		if !r.Final {
			return
		}
		l, _ := labels.Match(r.FlowID)
		flows[flowKey{canon(r.Src, r.Sport, r.Dst, r.Dport, r.Proto), r.Start / 1000}] = l
	})
	src, err := capture.Open([]string{path}, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for {
		data, ci, err := src.ReadPacket()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		x.Process(data, ci)
	}
	x.Flush()
	return flows
}

// communityID computes Community ID v1 (seed 0) for a TCP or UDP flow, as
// the spec defines it (github.com/corelight/community-id-spec).
func communityID(src netip.Addr, sp uint16, dst netip.Addr, dp uint16, proto uint8) string {
	if c := src.Compare(dst); c > 0 || c == 0 && sp > dp {
		src, dst, sp, dp = dst, src, dp, sp
	}
	var buf []byte
	buf = binary.BigEndian.AppendUint16(buf, 0)
	buf = append(buf, src.AsSlice()...)
	buf = append(buf, dst.AsSlice()...)
	buf = append(buf, proto, 0)
	buf = binary.BigEndian.AppendUint16(buf, sp)
	buf = binary.BigEndian.AppendUint16(buf, dp)
	h := sha1.Sum(buf)
	return "1:" + base64.StdEncoding.EncodeToString(h[:])
}

// eveAlert is what a consumer of the alerts reads, declared here rather
// than borrowed from package detect so that the field names are checked.
type eveAlert struct {
	Timestamp   string   `json:"timestamp"`
	EventType   string   `json:"event_type"`
	FlowID      *uint64  `json:"flow_id"`
	SrcIP       string   `json:"src_ip"`
	SrcPort     *uint16  `json:"src_port"`
	DestIP      string   `json:"dest_ip"`
	DestPort    *uint16  `json:"dest_port"`
	Proto       string   `json:"proto"`
	CommunityID string   `json:"community_id"`
	Score       *float64 `json:"score"`
	Scores      *struct {
		IForest *float64 `json:"iforest"`
		KMeans  *float64 `json:"kmeans"`
	} `json:"scores"`
	Threshold   *float64 `json:"threshold"`
	TopFeatures []struct {
		Name     string     `json:"name"`
		Value    *float64   `json:"value"`
		Baseline []*float64 `json:"baseline"`
	} `json:"top_features"`
	Model string `json:"model"`
	Flow  *struct {
		PktsToServer  *uint64 `json:"pkts_toserver"`
		PktsToClient  *uint64 `json:"pkts_toclient"`
		BytesToServer *uint64 `json:"bytes_toserver"`
		BytesToClient *uint64 `json:"bytes_toclient"`
		Start         string  `json:"start"`
		End           string  `json:"end"`
	} `json:"flow"`

	src, dst netip.Addr
	sp, dp   uint16
	proto    uint8
	start    time.Time
}

var rfc3339Micro = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)

var protoNums = map[string]uint8{"TCP": 6, "UDP": 17, "ICMP": 1, "IPV6-ICMP": 58}

// readAlerts parses an alerts file and checks every line's fields.
func readAlerts(t *testing.T, path string, threshold float64, hash string, topN int) []*eveAlert {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names := map[string]bool{}
	for _, ft := range features.FlowSchema().Features {
		names[ft.Name] = true
	}
	var out []*eveAlert
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	bad := 0
	fail := func(line int, format string, args ...any) {
		t.Helper()
		if bad++; bad <= 5 {
			t.Errorf("alert line %d: %s", line, fmt.Sprintf(format, args...))
		}
	}
	for n := 1; sc.Scan(); n++ {
		var a eveAlert
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		if err := dec.Decode(&a); err != nil || dec.More() {
			fail(n, "not one JSON object (%v): %.200s", err, sc.Text())
			continue
		}
		var err1, err2 error
		a.src, err1 = netip.ParseAddr(a.SrcIP)
		a.dst, err2 = netip.ParseAddr(a.DestIP)
		proto, okProto := protoNums[a.Proto]
		a.proto = proto
		switch {
		case !rfc3339Micro.MatchString(a.Timestamp):
			fail(n, "timestamp %q is not RFC 3339 UTC with µs", a.Timestamp)
			continue
		case a.EventType != "anomaly":
			fail(n, "event_type %q", a.EventType)
		case err1 != nil || err2 != nil:
			fail(n, "src_ip %q dest_ip %q", a.SrcIP, a.DestIP)
		case !okProto:
			fail(n, "proto %q", a.Proto)
		case a.FlowID == nil || a.Flow == nil || a.Flow.PktsToServer == nil || a.Flow.PktsToClient == nil ||
			a.Flow.BytesToServer == nil || a.Flow.BytesToClient == nil:
			fail(n, "flow_id or flow.{pkts,bytes}_to{server,client} missing")
		case *a.Flow.PktsToServer == 0 || *a.Flow.BytesToServer == 0:
			fail(n, "a flow without a first packet: %+v", *a.Flow)
		case !rfc3339Micro.MatchString(a.Flow.Start) || !rfc3339Micro.MatchString(a.Flow.End) || a.Flow.End < a.Flow.Start:
			fail(n, "flow start %q end %q", a.Flow.Start, a.Flow.End)
		case !strings.HasPrefix(a.CommunityID, "1:"):
			fail(n, "community_id %q", a.CommunityID)
		case a.Score == nil || a.Threshold == nil || a.Scores == nil || a.Scores.IForest == nil || a.Scores.KMeans == nil:
			fail(n, "score, scores or threshold missing")
		case *a.Score < *a.Threshold || math.Abs(*a.Threshold-threshold) > 1e-9*math.Max(1, threshold):
			fail(n, "score %v, threshold %v (the model's: %v)", *a.Score, *a.Threshold, threshold)
		case len(a.TopFeatures) == 0 || topN >= 0 && len(a.TopFeatures) != topN:
			fail(n, "%d top_features, want %d", len(a.TopFeatures), topN)
		case a.Model != hash:
			fail(n, "model %q, want the bundle hash %q", a.Model, hash)
		}
		for _, tf := range a.TopFeatures {
			if !names[tf.Name] || tf.Value == nil || len(tf.Baseline) != 2 {
				fail(n, "top feature %+v", tf)
			}
		}
		if (a.SrcPort == nil) != (a.DestPort == nil) || (a.SrcPort == nil) != (proto == 1 || proto == 58) {
			fail(n, "proto %s with ports %v %v", a.Proto, a.SrcPort, a.DestPort)
		}
		if a.SrcPort != nil && a.DestPort != nil {
			a.sp, a.dp = *a.SrcPort, *a.DestPort
			if want := communityID(a.src, a.sp, a.dst, a.dp, proto); a.CommunityID != want {
				fail(n, "community_id %s, want %s", a.CommunityID, want)
			}
		}
		a.start, _ = time.Parse(time.RFC3339Nano, a.Flow.Start)
		out = append(out, &a)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

type summaryJSON struct {
	Packets     *uint64 `json:"packets"`
	Flows       *uint64 `json:"flows"`
	Alerts      *uint64 `json:"alerts"`
	PcapPackets uint64  `json:"pcap_packets"`
	Protocols   map[string]uint64
	Dropped     *struct {
		Kernel   *uint64 `json:"kernel"`
		Internal *uint64 `json:"internal"`
	} `json:"dropped"`
	Elapsed *float64 `json:"elapsed_seconds"`
}

func readSummary(t *testing.T, path string) summaryJSON {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("summary: %v", err)
	}
	var s summaryJSON
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("summary: %v", err)
	}
	if s.Packets == nil || s.Flows == nil || s.Alerts == nil || s.Dropped == nil || s.Dropped.Kernel == nil ||
		s.Dropped.Internal == nil || s.Elapsed == nil || len(s.Protocols) == 0 {
		t.Fatalf("summary lacks fields: %s", b)
	}
	return s
}

// frameTuple parses an Ethernet/IPv4 frame's 5-tuple by hand.
func frameTuple(data []byte) (tuple, bool) {
	off := 12
	for off+2 <= len(data) && binary.BigEndian.Uint16(data[off:]) == 0x8100 {
		off += 4
	}
	if off+2 > len(data) || binary.BigEndian.Uint16(data[off:]) != 0x0800 {
		return tuple{}, false
	}
	ip := data[off+2:]
	if len(ip) < 20 || ip[0]>>4 != 4 {
		return tuple{}, false
	}
	ihl := int(ip[0]&15) * 4
	src, _ := netip.AddrFromSlice(ip[12:16])
	dst, _ := netip.AddrFromSlice(ip[16:20])
	proto := ip[9]
	var sp, dp uint16
	if proto == 6 || proto == 17 {
		if len(ip) < ihl+4 {
			return tuple{}, false
		}
		sp, dp = binary.BigEndian.Uint16(ip[ihl:]), binary.BigEndian.Uint16(ip[ihl+2:])
	}
	return canon(src, sp, dst, dp, proto), true
}

func TestEndToEnd(t *testing.T) {
	dir := t.TempDir()
	model := trainModel(t, dir)
	b, err := bundle.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	alerts, sumPath, pcapPath := filepath.Join(dir, "alerts.json"), filepath.Join(dir, "run.json"), filepath.Join(dir, "anomalies.pcap")
	start := time.Now()
	r := runDetect(t, nil, "--model", model, "--pcap", mixed, "--alerts", alerts, "--summary", sumPath, "--write-pcap", pcapPath)
	t.Logf("detect in %v", time.Since(start))
	if r.code != 0 {
		t.Fatalf("detect: exit %d: %s", r.code, r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("alerts went to a file, yet stdout has %.200q", r.stdout)
	}
	for _, want := range []string{"packets ", "alerts ", "dropped "} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("no human summary on stderr (%q): %q", want, r.stderr)
		}
	}

	as := readAlerts(t, alerts, b.Thresholds.Ensemble, b.Hash(), 5)
	if len(as) == 0 {
		t.Fatal("no alerts")
	}

	// The summary: packets counted independently, alerts = lines.
	s := readSummary(t, sumPath)
	flows := labeledFlows(t, mixed, b)
	if n := countPackets(t, mixed); *s.Packets != n {
		t.Errorf("summary: %d packets, the capture has %d", *s.Packets, n)
	}
	if *s.Alerts != uint64(len(as)) {
		t.Errorf("summary: %d alerts, the alerts file has %d lines", *s.Alerts, len(as))
	}
	if *s.Flows != uint64(len(flows)) {
		t.Errorf("summary: %d flows, the extractor gives %d", *s.Flows, len(flows))
	}
	if *s.Dropped.Internal != 0 {
		t.Errorf("a replay dropped %d vectors", *s.Dropped.Internal)
	}

	// Attack flows alert, benign flows mostly do not.
	alerted := map[flowKey]bool{}
	alertedTuples := map[tuple]bool{}
	for _, a := range as {
		k := flowKey{canon(a.src, a.sp, a.dst, a.dp, a.proto), a.start.UnixNano() / 1000}
		if _, ok := flows[k]; !ok {
			t.Fatalf("alert for a flow the capture does not have: %+v", k)
		}
		alerted[k] = true
		alertedTuples[k.t] = true
	}
	type count struct{ flows, alerted int }
	by := map[string]*count{}
	for k, l := range flows {
		c := by[l]
		if c == nil {
			c = &count{}
			by[l] = c
		}
		c.flows++
		if alerted[k] {
			c.alerted++
		}
	}
	for l, c := range by {
		t.Logf("%-15s %6d flows, %6d alerted", l, c.flows, c.alerted)
	}
	share := func(l string) float64 {
		c := by[l]
		if c == nil || c.flows == 0 {
			t.Errorf("no %s flows in the sample", l)
			return 0
		}
		return float64(c.alerted) / float64(c.flows)
	}
	for l, min := range map[string]float64{"portscan_syn": 0.9, "syn_flood": 0.9, "service_scan": 0.5, "bruteforce_ftp": 0.5} {
		if got := share(l); got < min {
			t.Errorf("%s: %.3f of flows alerted, want >= %.2f", l, got, min)
		}
	}
	if got := share(datasets.Benign); got > 0.1 {
		t.Errorf("benign: %.3f of flows alerted, want <= 0.1", got)
	}

	// The anomaly pcap: every packet belongs to an alerted flow.
	if s.PcapPackets == 0 {
		t.Fatal("summary: no packets written to the anomaly pcap")
	}
	src, err := capture.Open([]string{pcapPath}, capture.Options{})
	if err != nil {
		t.Fatalf("anomaly pcap: %v", err)
	}
	defer src.Close()
	var n uint64
	for {
		data, _, err := src.ReadPacket()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("anomaly pcap: %v", err)
		}
		n++
		tu, ok := frameTuple(data)
		if !ok || !alertedTuples[tu] {
			t.Fatalf("anomaly pcap packet %d (%+v) belongs to no alerted flow", n, tu)
		}
	}
	if n != s.PcapPackets {
		t.Errorf("anomaly pcap has %d packets, the summary says %d", n, s.PcapPackets)
	}
}

func TestRefusals(t *testing.T) {
	dir := t.TempDir()
	model := trainModel(t, dir)
	good, err := os.ReadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	corrupt := filepath.Join(dir, "corrupt.vgl")
	c := bytes.Clone(good)
	c[len(c)/2] ^= 0x40
	os.WriteFile(corrupt, c, 0o644)
	truncated := filepath.Join(dir, "truncated.vgl")
	os.WriteFile(truncated, good[:len(good)/3], 0o644)

	// A bundle trained on a feature table has another schema.
	tableDir := filepath.Join(dir, "table")
	os.Mkdir(tableDir, 0o755)
	var stderr bytes.Buffer
	tableModel := filepath.Join(tableDir, "nsl.vgl")
	if code := cli.Run(traincmd.New(&traincmd.Env{Stdout: io.Discard, Stderr: &stderr, Getenv: func(string) string { return "" }}),
		[]string{"--dataset", "nsl-kdd:" + nslKDD, "--out", tableModel, "--seed", "1", "-q"}, &stderr); code != 0 {
		t.Fatalf("train on NSL-KDD: exit %d: %s", code, stderr.String())
	}

	garbage := filepath.Join(dir, "garbage.pcap")
	os.WriteFile(garbage, []byte("this is not a capture at all, just some text\n"), 0o644)
	unreadable := filepath.Join(dir, "unreadable.pcap")
	os.WriteFile(unreadable, nil, 0o000)
	existing := filepath.Join(dir, "existing.out")
	const precious = "precious, do not overwrite\n"
	os.WriteFile(existing, []byte(precious), 0o644)
	out := func(name string) string { return filepath.Join(dir, name) }
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no model", []string{"--pcap", mixed}, "no --model"},
		{"model missing", []string{"--model", out("nope.vgl"), "--pcap", mixed}, "nope.vgl"},
		{"model corrupt", []string{"--model", corrupt, "--pcap", mixed}, "--model"},
		{"model truncated", []string{"--model", truncated, "--pcap", mixed}, "--model"},
		{"model not a bundle", []string{"--model", garbage, "--pcap", mixed}, "--model"},
		{"model of a table", []string{"--model", tableModel, "--pcap", mixed}, "nsl-kdd feature table"},
		{"no input", []string{"--model", model}, "no input"},
		{"pcap and iface", []string{"--model", model, "--pcap", mixed, "--iface", "lo"}, "exclusive"},
		{"pcap missing", []string{"--model", model, "--pcap", out("nope.pcap")}, "nope.pcap"},
		{"pcap not a capture", []string{"--model", model, "--pcap", garbage}, "not a pcap"},
		{"no such interface", []string{"--model", model, "--iface", "vigil-nonexist0"}, `interface "vigil-nonexist0": no such interface`},
		{"bpf without iface", []string{"--model", model, "--pcap", mixed, "--bpf", "tcp"}, "--bpf"},
		{"bad bpf", []string{"--model", model, "--iface", "lo", "--bpf", "tcp port banana"}, "bpf"},
		{"realtime live", []string{"--model", model, "--iface", "lo", "--realtime"}, "--realtime"},
		{"zero queue", []string{"--model", model, "--pcap", mixed, "--queue", "0"}, "--queue"},
		{"negative score interval", []string{"--model", model, "--pcap", mixed, "--score-interval", "-1s"}, "--score-interval"},
		{"bad flag value", []string{"--model", model, "--pcap", mixed, "--workers", "many"}, "--workers"},
		{"unknown flag", []string{"--model", model, "--pcap", mixed, "--modle", "x"}, "--modle"},
		{"alerts exists", []string{"--model", model, "--pcap", mixed, "--alerts", existing}, "--force"},
		{"summary exists", []string{"--model", model, "--pcap", mixed, "--alerts", out("a1.json"), "--summary", existing}, "--force"},
		{"write-pcap exists", []string{"--model", model, "--pcap", mixed, "--alerts", out("a2.json"), "--write-pcap", existing}, "--force"},
		{"write-pcap not creatable", []string{"--model", model, "--pcap", mixed, "--alerts", out("a3.json"), "--write-pcap", out("nodir/x.pcap")}, "--write-pcap"},
		{"metrics address in use", []string{"--model", model, "--pcap", mixed, "--alerts", out("a4.json"), "--write-pcap", out("p4.pcap"),
			"--metrics-addr", busy.Addr().String()}, "--metrics-addr"},
	}
	if os.Geteuid() != 0 {
		// As root the file is readable anyway.
		tests = append(tests, struct {
			name string
			args []string
			want string
		}{"pcap unreadable", []string{"--model", model, "--pcap", unreadable}, "permission denied"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runDetect(t, nil, tt.args...)
			if r.code != cli.ExitUsage {
				t.Fatalf("exit %d, want 2; stderr %q", r.code, r.stderr)
			}
			oneLine(t, r.stderr, tt.want)
			if !strings.HasPrefix(r.stderr, "detect: ") {
				t.Errorf("stderr %q does not start with the command's name", r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("a refused run wrote to stdout: %.200q", r.stdout)
			}
		})
	}
	if b, _ := os.ReadFile(existing); string(b) != precious {
		t.Errorf("the existing output was modified: %q", b)
	}
	// Nor any output it created before it was refused (a leftover empty
	// file would refuse the next run without --force).
	for _, name := range []string{"a1.json", "a2.json", "a3.json", "a4.json", "p4.pcap"} {
		if _, err := os.Stat(out(name)); err == nil {
			t.Errorf("a refused run left %s behind", name)
		}
	}
	// The refusals left no temporary files behind either.
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left behind: %s", e.Name())
		}
	}

	// --force overwrites.
	r := runDetect(t, nil, "--model", model, "--pcap", mixed, "--alerts", existing, "--force", "-q")
	if r.code != 0 {
		t.Fatalf("--force: exit %d: %s", r.code, r.stderr)
	}
	if b, _ := os.ReadFile(existing); string(b) == precious || !bytes.HasPrefix(b, []byte(`{"timestamp":`)) {
		t.Errorf("--force did not overwrite with alerts: %.100q", b)
	}
}

// Live capture without CAP_NET_RAW is refused with the capability named.
// The check needs a process without the capability: as root, the test
// runs itself again under setpriv with CAP_NET_RAW dropped from the
// bounding set.
func TestRefusalNoPrivilege(t *testing.T) {
	if os.Getenv("VIGIL_TEST_NOPRIV_CHILD") == "1" {
		var stderr bytes.Buffer
		code := cli.Run(New(&Env{Stdout: io.Discard, Stderr: &stderr, Getenv: func(string) string { return "" }}),
			[]string{"--model", os.Getenv("VIGIL_TEST_MODEL"), "--iface", "lo"}, &stderr)
		fmt.Printf("EXIT %d\n%s", code, stderr.String())
		return
	}
	model := trainModel(t, t.TempDir())
	var cmd *exec.Cmd
	if os.Geteuid() == 0 {
		setpriv, err := exec.LookPath("setpriv")
		if err != nil {
			t.Skip("running as root and setpriv (util-linux) is not installed: cannot drop CAP_NET_RAW to test the refusal")
		}
		cmd = exec.Command(setpriv, "--bounding-set=-net_raw", "--inh-caps=-net_raw", os.Args[0], "-test.run=^TestRefusalNoPrivilege$")
	} else {
		cmd = exec.Command(os.Args[0], "-test.run=^TestRefusalNoPrivilege$")
	}
	cmd.Env = append(os.Environ(), "VIGIL_TEST_NOPRIV_CHILD=1", "VIGIL_TEST_MODEL="+model)
	b, err := cmd.CombinedOutput()
	out := string(b)
	if err != nil {
		t.Fatalf("child: %v: %s", err, out)
	}
	code, rest, _ := strings.Cut(out, "\n")
	if code != "EXIT 2" {
		t.Fatalf("live capture without CAP_NET_RAW: %q", out)
	}
	stderr, _, _ := strings.Cut(rest, "PASS")
	oneLine(t, stderr, "needs CAP_NET_RAW")
}

// Configuration precedence on one key, --top-features, visible in the
// length of every alert's top_features: flag > VIGIL_* > --config > default.
func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	model := trainModel(t, dir)
	b, err := bundle.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "detect.yaml")
	os.WriteFile(cfg, []byte("top-features: 3\nscore-interval: 2s\n"), 0o644)
	badCfg := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badCfg, []byte("top-features: 3\ntop-featurs: 2\n"), 0o644)
	env := map[string]string{"VIGIL_TOP_FEATURES": "2"}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want int
	}{
		{"default", nil, nil, 5},
		{"file", nil, []string{"--config", cfg}, 3},
		{"env over file", env, []string{"--config", cfg}, 2},
		{"flag over env and file", env, []string{"--config", cfg, "--top-features", "1"}, 1},
		{"flag over env", env, []string{"--top-features", "4"}, 4},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			alerts := filepath.Join(dir, fmt.Sprintf("alerts%d.json", i))
			args := append([]string{"--model", model, "--pcap", mixed, "--alerts", alerts, "-q"}, tt.args...)
			r := runDetect(t, tt.env, args...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if as := readAlerts(t, alerts, b.Thresholds.Ensemble, b.Hash(), tt.want); len(as) == 0 {
				t.Fatal("no alerts")
			}
		})
	}
	t.Run("unknown key", func(t *testing.T) {
		r := runDetect(t, nil, "--model", model, "--pcap", mixed, "--config", badCfg)
		if r.code != cli.ExitUsage {
			t.Fatalf("exit %d, want 2", r.code)
		}
		oneLine(t, r.stderr, "top-featurs")
	})
	t.Run("bad env value", func(t *testing.T) {
		r := runDetect(t, map[string]string{"VIGIL_TOP_FEATURES": "five"}, "--model", model, "--pcap", mixed)
		if r.code != cli.ExitUsage {
			t.Fatalf("exit %d, want 2", r.code)
		}
		oneLine(t, r.stderr, "VIGIL_TOP_FEATURES")
	})
}

// The summary file is an ordinary output: readable like the alerts.
func TestSummaryMode(t *testing.T) {
	dir := t.TempDir()
	model := trainModel(t, dir)
	alerts, sum := filepath.Join(dir, "a.json"), filepath.Join(dir, "s.json")
	if r := runDetect(t, nil, "--model", model, "--pcap", mixed, "--alerts", alerts, "--summary", sum, "-q"); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	sa, err1 := os.Stat(alerts)
	ss, err2 := os.Stat(sum)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if ss.Mode().Perm() != sa.Mode().Perm() {
		t.Errorf("summary mode %v, alerts mode %v", ss.Mode().Perm(), sa.Mode().Perm())
	}
}

// TestStreamOutputs: /dev/null and a named pipe are accepted as --alerts,
// --summary and --write-pcap without --force, written directly (not
// replaced by a renamed temporary file) and left as they were.
func TestStreamOutputs(t *testing.T) {
	dir := t.TempDir()
	model := trainModel(t, dir)
	r := runDetect(t, nil, "--model", model, "--pcap", mixed, "--alerts", os.DevNull, "--summary", os.DevNull,
		"--write-pcap", os.DevNull, "-q")
	if r.code != 0 {
		t.Fatalf("outputs to %s: exit %d: %s", os.DevNull, r.code, r.stderr)
	}
	if fi, err := os.Stat(os.DevNull); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Fatalf("%s is no longer a character device: %v %v", os.DevNull, fi, err)
	}

	for _, flag := range []string{"--alerts", "--summary"} {
		fifo := filepath.Join(dir, strings.TrimPrefix(flag, "--")+".fifo")
		if err := syscall.Mkfifo(fifo, 0o644); err != nil {
			t.Fatal(err)
		}
		got := make(chan []byte, 1)
		go func() {
			f, err := os.Open(fifo)
			if err != nil {
				got <- nil
				return
			}
			defer f.Close()
			b, _ := io.ReadAll(f)
			got <- b
		}()
		args := []string{"--model", model, "--pcap", mixed, "-q", flag, fifo}
		if flag == "--summary" {
			args = append(args, "--alerts", os.DevNull)
		}
		r := runDetect(t, nil, args...)
		if r.code != 0 {
			t.Fatalf("%s to a named pipe: exit %d: %s", flag, r.code, r.stderr)
		}
		b := <-got
		first := bytes.SplitN(b, []byte("\n"), 2)[0] // an alert per line
		ok := bytes.HasPrefix(first, []byte(`{"timestamp":`)) && json.Valid(first)
		if flag == "--summary" {
			ok = json.Valid(b) && bytes.Contains(b, []byte(`"packets"`))
		}
		if !ok {
			t.Errorf("%s: the pipe's reader got %.120q", flag, b)
		}
		if fi, err := os.Stat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
			t.Errorf("%s: the pipe was replaced: %v %v", flag, fi, err)
		}
	}
}

// TestShowUsernames: with --show-usernames the alerts on the sample's FTP
// brute force name the user hydra tries (tshark on testdata/lab/mixed:
// every USER command is "labuser"; the passwords are 123456, Orchid-42,
// admin, letmein, password); without it no alert names a user, and no
// password appears in any output either way.
func TestShowUsernames(t *testing.T) {
	dir := t.TempDir()
	model := trainModel(t, dir)
	for _, show := range []bool{true, false} {
		alerts := filepath.Join(dir, fmt.Sprintf("alerts-%v.json", show))
		args := []string{"--model", model, "--pcap", mixed, "--alerts", alerts, "-q"}
		if show {
			args = append(args, "--show-usernames")
		}
		if r := runDetect(t, nil, args...); r.code != 0 {
			t.Fatalf("detect %v: exit %d: %s", args, r.code, r.stderr)
		}
		data, err := os.ReadFile(alerts)
		if err != nil {
			t.Fatal(err)
		}
		for _, pw := range []string{`"123456"`, "Orchid-42", "letmein", `"password"`, `"admin"`} {
			if bytes.Contains(data, []byte(pw)) {
				t.Errorf("show-usernames %v: the alerts hold the password %s", show, pw)
			}
		}
		named := 0
		for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
			var a struct {
				Dport    uint16  `json:"dest_port"`
				Username *string `json:"username"`
			}
			if err := json.Unmarshal(line, &a); err != nil {
				t.Fatal(err)
			}
			switch {
			case a.Username == nil:
			case !show:
				t.Fatalf("without --show-usernames an alert names user %q", *a.Username)
			case *a.Username != "labuser" || a.Dport != 21:
				t.Errorf("alert on port %d names user %q, want labuser on FTP", a.Dport, *a.Username)
			default:
				named++
			}
		}
		if show && named == 0 {
			t.Error("--show-usernames: no FTP alert names the user")
		}
	}
}

// TestDefaultAlertMode: detect's default writes incident events and a few
// sample flow alerts per incident; every line parses, every incident that
// starts ends, and the summary counts what was suppressed.
func TestDefaultAlertMode(t *testing.T) {
	dir := t.TempDir()
	model := trainModel(t, dir)
	alerts, sumPath := filepath.Join(dir, "a.json"), filepath.Join(dir, "s.json")
	var stderr bytes.Buffer
	e := &Env{Stdout: io.Discard, Stderr: &stderr, Getenv: func(string) string { return "" }, Dir: repo}
	if code := cli.Run(New(e), []string{"--model", model, "--pcap", mixed, "--alerts", alerts, "--summary", sumPath, "-q"}, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	data, err := os.ReadFile(alerts)
	if err != nil {
		t.Fatal(err)
	}
	open := map[string]bool{}
	var flowLines, events int
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		ev, err := incident.ParseEvent(line)
		if errors.Is(err, incident.ErrNotIncident) {
			flowLines++
			continue
		}
		if err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		events++
		switch ev.Incident.State {
		case "start":
			open[ev.Incident.ID] = true
		case "end":
			if !open[ev.Incident.ID] {
				t.Errorf("incident %s ended without a start", ev.Incident.ID)
			}
			delete(open, ev.Incident.ID)
		}
	}
	if len(open) != 0 || events == 0 {
		t.Fatalf("%d events, %d incidents never ended", events, len(open))
	}
	var sum detect.Summary
	b, _ := os.ReadFile(sumPath)
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.AlertMode != "incident" || sum.AlertsWritten != uint64(flowLines) || sum.AlertsWritten+sum.AlertsSuppressed != sum.Alerts ||
		sum.Incidents == nil || sum.Incidents.Events != uint64(events) {
		t.Fatalf("summary %+v %+v: %d flow lines, %d events", sum, sum.Incidents, flowLines, events)
	}
	if uint64(flowLines+events) > sum.Alerts/100 {
		t.Errorf("%d lines for %d flow alerts: more than 1%%", flowLines+events, sum.Alerts)
	}
}
