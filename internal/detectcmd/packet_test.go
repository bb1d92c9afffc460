package detectcmd

import (
	"bufio"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/vigil-nids/vigil/capture"
	"github.com/vigil-nids/vigil/datasets"
	"github.com/vigil-nids/vigil/detect"
	"github.com/vigil-nids/vigil/features"
	"github.com/vigil-nids/vigil/features/afterimage"
	"github.com/vigil-nids/vigil/models/bundle"
)

// packetTuples reads path with the test's own frame parser (IPv4 only, as
// the sample is) and returns every 5-tuple's label, matched with
// labels.csv over the span of its packets, and the number of IPv4 frames.
func packetTuples(t *testing.T, path string) (map[tuple]string, uint64) {
	t.Helper()
	labels, err := datasets.LoadLabelsFile(labelsFile)
	if err != nil {
		t.Fatal(err)
	}
	span := map[tuple][2]int64{}
	var ip uint64
	eachPacket(t, path, func(data []byte, ci capture.CaptureInfo) {
		tu, ok := frameTuple(data)
		if !ok {
			return
		}
		ip++
		s, seen := span[tu]
		if !seen {
			s[0] = ci.Timestamp
		}
		s[1] = ci.Timestamp
		span[tu] = s
	})
	out := make(map[tuple]string, len(span))
	for tu, s := range span {
		l, _ := labels.Match(features.FlowID{Start: s[0], End: s[1], Src: tu.a, Dst: tu.b, Sport: tu.aPort, Dport: tu.bPort, Proto: tu.proto})
		out[tu] = l
	}
	return out, ip
}

func TestPacketFeatures(t *testing.T) {
	dir := t.TempDir()
	model := trainModel(t, dir, "--features", "packet")
	b, err := bundle.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	if detect.FeatureSet(b) != detect.PacketFeatures || b.CheckSchema(afterimage.Schema()) != nil {
		t.Fatalf("packet model has schema %s v%d (%d features)", b.Schema.Name, b.Schema.Version, b.Schema.Len())
	}
	if pc, err := detect.PacketConfig(b); err != nil || pc.MaxKeys != 1_000_000 {
		t.Fatalf("packet extractor settings %+v, %v; want MaxKeys = --max-flows' default", pc, err)
	}
	tuples, ipFrames := packetTuples(t, mixed)

	alerts := filepath.Join(dir, "alerts.json")
	sumPath := filepath.Join(dir, "summary.json")
	pcapPath := filepath.Join(dir, "anomalies.pcap")
	// --features packet agrees with the model: accepted.
	r := runDetect(t, nil, "--model", model, "--pcap", mixed, "--features", "packet",
		"--alerts", alerts, "--summary", sumPath, "--write-pcap", pcapPath, "-q")
	if r.code != 0 {
		t.Fatalf("detect: exit %d: %s", r.code, r.stderr)
	}
	s := readSummary(t, sumPath)
	if n := countPackets(t, mixed); *s.Packets != n {
		t.Errorf("summary: %d packets, the capture has %d", *s.Packets, n)
	}
	var sj struct {
		Records uint64 `json:"records"`
		Scored  uint64 `json:"scored"`
	}
	raw, _ := os.ReadFile(sumPath)
	json.Unmarshal(raw, &sj)
	if sj.Records != ipFrames || sj.Scored != ipFrames || s.Protocols["ipv4"] != ipFrames {
		t.Errorf("summary: %d records, %d scored, ipv4 %d; want one per IPv4 frame (%d)", sj.Records, sj.Scored, s.Protocols["ipv4"], ipFrames)
	}

	// Every alert is one packet of a known 5-tuple, at or above the threshold.
	f, err := os.Open(alerts)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	alerted := map[tuple]bool{}
	var lines uint64
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines++
		var a struct {
			Src   string  `json:"src_ip"`
			Dst   string  `json:"dest_ip"`
			Sport uint16  `json:"src_port"`
			Dport uint16  `json:"dest_port"`
			Proto string  `json:"proto"`
			Score float64 `json:"score"`
			Flow  struct {
				Pkts       uint64 `json:"pkts_toserver"`
				PktsBack   uint64 `json:"pkts_toclient"`
				Start, End string
			} `json:"flow"`
			Top []struct{ Name string } `json:"top_features"`
		}
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatalf("alert %d: %v", lines, err)
		}
		if a.Flow.Pkts != 1 || a.Flow.PktsBack != 0 || a.Flow.Start != a.Flow.End || a.Score < b.Thresholds.Ensemble || len(a.Top) == 0 {
			t.Fatalf("alert %d is not one scored packet: %s", lines, sc.Bytes())
		}
		tu := canon(netip.MustParseAddr(a.Src), a.Sport, netip.MustParseAddr(a.Dst), a.Dport, protoNums[a.Proto])
		if _, ok := tuples[tu]; !ok {
			t.Fatalf("alert %d: 5-tuple %+v is not in the capture", lines, tu)
		}
		alerted[tu] = true
	}
	if lines != *s.Alerts || lines == 0 {
		t.Fatalf("%d alert lines, summary says %d", lines, *s.Alerts)
	}

	// Attack 5-tuples alert; benign ones mostly do not.
	total, hit := map[string]int{}, map[string]int{}
	for tu, l := range tuples {
		total[l]++
		if alerted[tu] {
			hit[l]++
		}
	}
	// Every attack type alerts, and most attack 5-tuples do. (Per label
	// the share hangs on where the threshold calibrated on this 60 s
	// baseline falls: the port scan's single-SYN 5-tuples score close to
	// it: 295 of 1000 alert with the trimmed-mean tail rule of train, at
	// least 500 did with the median rule it replaced, which let 2 of the
	// 170 benign 5-tuples alert where this one lets none.)
	var attacks, attackHits int
	for _, l := range attackLabels {
		if total[l] == 0 {
			t.Fatalf("no %s 5-tuples in the sample", l)
		}
		if hit[l] == 0 {
			t.Errorf("%s: none of %d 5-tuples alerted", l, total[l])
		}
		attacks += total[l]
		attackHits += hit[l]
	}
	if float64(attackHits) < 0.5*float64(attacks) {
		t.Errorf("%d of %d attack 5-tuples alerted, want at least half", attackHits, attacks)
	}
	if got := float64(hit[datasets.Benign]) / float64(total[datasets.Benign]); got > 0.1 {
		t.Errorf("benign: %d of %d 5-tuples alerted, want <= 10%%", hit[datasets.Benign], total[datasets.Benign])
	}
	t.Logf("5-tuples alerted: %v of %v", hit, total)

	// The anomaly pcap holds packets of alerted 5-tuples only.
	if s.PcapPackets == 0 {
		t.Fatal("no packets written to the anomaly pcap")
	}
	var n uint64
	eachPacket(t, pcapPath, func(data []byte, _ capture.CaptureInfo) {
		n++
		if tu, ok := frameTuple(data); !ok || !alerted[tu] {
			t.Fatalf("anomaly pcap packet %d (%+v) belongs to no alerted 5-tuple", n, tu)
		}
	})
	if n != s.PcapPackets {
		t.Errorf("anomaly pcap has %d packets, the summary says %d", n, s.PcapPackets)
	}
}

// TestFeaturesMismatch: detect scores what the model was trained on; a
// --features asking for the other set is one clear line and exit 2.
func TestFeaturesMismatch(t *testing.T) {
	dir := t.TempDir()
	flowModel := trainModel(t, filepath.Join(dir), "--trees", "10")
	pdir := filepath.Join(dir, "p")
	os.Mkdir(pdir, 0o755)
	packetModel := trainModel(t, pdir, "--features", "packet", "--trees", "10")
	for _, tc := range []struct {
		model, flag, want string
		extra             []string
	}{
		{flowModel, "packet", "trained on flow features", nil},
		{packetModel, "flow", "trained on packet features", nil},
		{flowModel, "bytes", "want flow or packet", nil},
		{packetModel, "packet", "--show-usernames", []string{"--show-usernames"}},
	} {
		args := append([]string{"--model", tc.model, "--pcap", mixed, "--features", tc.flag, "--alerts", filepath.Join(dir, "a.json")}, tc.extra...)
		r := runDetect(t, nil, args...)
		if r.code != 2 {
			t.Fatalf("--features %s: exit %d, want 2: %s", tc.flag, r.code, r.stderr)
		}
		oneLine(t, r.stderr, tc.want)
		if _, err := os.Stat(filepath.Join(dir, "a.json")); err == nil {
			t.Fatalf("--features %s: a refused run left an alerts file", tc.flag)
		}
	}
}
