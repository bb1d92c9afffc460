package detect

import (
	"context"
	"io"
	"math"
	"os"
	"sync"
	"testing"

	"github.com/vigil-nids/vigil/capture"
	"github.com/vigil-nids/vigil/features"
	"github.com/vigil-nids/vigil/features/afterimage"
	"github.com/vigil-nids/vigil/models"
	"github.com/vigil-nids/vigil/models/bundle"
	"github.com/vigil-nids/vigil/models/kmeans"
	"github.com/vigil-nids/vigil/train"
)

// packetSample is 600 frames of the lab sample (see
// features/afterimage/testdata/README.md).
const packetSample = "../features/afterimage/testdata/lab-mixed-600.pcap.gz"

func readSample(t testing.TB, path string) *sliceSource {
	t.Helper()
	src, err := capture.Open([]string{path}, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	s := &sliceSource{}
	for {
		data, ci, err := src.ReadPacket()
		if err == io.EOF {
			return s
		}
		if err != nil {
			t.Fatal(err)
		}
		s.pkts = append(s.pkts, fakePkt{data: append([]byte(nil), data...), ci: ci})
	}
}

// TestPacketExtractor: the adapter emits one record per IP packet whose
// vector is afterimage's for that packet and whose identity is the
// packet's; its stats add up.
func TestPacketExtractor(t *testing.T) {
	src := readSample(t, packetSample)
	ref := afterimage.New(afterimage.Config{MaxKeys: 50})
	type want struct {
		id  afterimage.PacketID
		vec []float64
	}
	var wants []want
	var bytes uint64
	for _, p := range src.pkts {
		bytes += uint64(p.ci.Length)
		if v, ok := ref.Process(p.data, p.ci, nil); ok {
			wants = append(wants, want{ref.Last(), v})
		}
	}
	if len(wants) < 500 {
		t.Fatalf("only %d IP packets in the sample", len(wants))
	}
	var got int
	x := NewPacketExtractor(afterimage.Config{MaxKeys: 50})(func(r *features.Record) {
		if got >= len(wants) {
			t.Fatalf("record %d: more records than IP packets", got)
		}
		w := wants[got]
		got++
		id := features.FlowID{Start: w.id.Timestamp, End: w.id.Timestamp, Src: w.id.Src, Dst: w.id.Dst,
			Sport: w.id.SrcPort, Dport: w.id.DstPort, Proto: w.id.Proto}
		if r.FlowID != id || r.FwdPackets != 1 || r.BwdPackets != 0 || r.BwdBytes != 0 || r.Final || r.Seq != 0 {
			t.Fatalf("record %d: %+v, want identity %+v, one forward packet, not final", got, r, id)
		}
		if r.FwdBytes < 42 || r.FwdBytes > 65535 {
			t.Fatalf("record %d: FwdBytes %d", got, r.FwdBytes)
		}
		if len(r.Vector) != afterimage.NumFeatures {
			t.Fatalf("record %d: %d features", got, len(r.Vector))
		}
		for i, v := range r.Vector {
			if math.Float64bits(v) != math.Float64bits(w.vec[i]) {
				t.Fatalf("record %d feature %d: %v, afterimage gives %v", got, i, v, w.vec[i])
			}
		}
	})
	for _, p := range src.pkts {
		x.Process(p.data, p.ci)
	}
	x.Flush()
	if got != len(wants) {
		t.Fatalf("%d records, want one per IP packet (%d)", got, len(wants))
	}
	st := x.Stats()
	ps := ref.Stats()
	pr := st.Protocols
	if st.Packets != uint64(len(src.pkts)) || st.Bytes != bytes || st.Flows != 0 || st.MaxFlows != 50 ||
		st.Active != ps.Keys[3] || st.Active == 0 || st.Active > 50 || st.Evicted != ps.Evicted {
		t.Errorf("stats %+v; afterimage's %+v", st, ps)
	}
	if pr["ipv4"]+pr["ipv6"] != uint64(len(wants)) || pr["ipv4"]+pr["ipv6"]+pr["non_ip"] != st.Packets ||
		pr["tcp"]+pr["udp"]+pr["icmp"]+pr["icmpv6"]+pr["other_ip"] != uint64(len(wants)) || pr["tcp"] == 0 {
		t.Errorf("protocol counts %v do not add up to %d IP of %d packets", pr, len(wants), st.Packets)
	}
}

// constModel scores every vector 2 (threshold 1): every record alerts.
type constModel struct{}

func (constModel) Hash() string           { return "const" }
func (constModel) Thresholds() Thresholds { return Thresholds{IForest: 1, KMeans: 1, Ensemble: 1} }
func (constModel) NewScorer() Scorer      { return constScorer{} }

type constScorer struct{}

func (constScorer) Score([]float64) Scores { return Scores{IForest: 2, KMeans: 2, Ensemble: 2} }
func (constScorer) Explain(dst []models.Contribution, raw []float64, n int) []models.Contribution {
	return append(dst[:0], models.Contribution{Name: "f0", Value: raw[0]})
}

// collectSink keeps the alerts it is sent (the pipeline's one alert
// goroutine calls Send).
type collectSink struct{ alerts []*Alert }

func (s *collectSink) Send(a *Alert) error { s.alerts = append(s.alerts, a); return nil }
func (s *collectSink) Close() error        { return nil }

// TestPacketPipeline: in packet mode every IP packet is scored once, and
// the dedup keeps one alert per direction of a 5-tuple when scores do not
// rise.
func TestPacketPipeline(t *testing.T) {
	src := readSample(t, packetSample)
	ref := afterimage.New(afterimage.Config{})
	keys := map[features.FlowID]bool{}
	ip := 0
	for _, p := range src.pkts {
		if _, ok := ref.Process(p.data, p.ci, nil); ok {
			id := ref.Last()
			keys[features.FlowID{Src: id.Src, Dst: id.Dst, Sport: id.SrcPort, Dport: id.DstPort, Proto: id.Proto}] = true
			ip++
		}
	}
	var mu sync.Mutex
	observed := 0
	sink := &collectSink{}
	sum, err := New(constModel{}, Config{
		Workers: 2, Block: true, NewExtractor: NewPacketExtractor(afterimage.Config{}),
		Observe: func(*Observation) { mu.Lock(); observed++; mu.Unlock() },
	}).Run(context.Background(), src, sink)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Packets != uint64(len(src.pkts)) || sum.Records != uint64(ip) || sum.Scored != uint64(ip) || sum.Flows != 0 || observed != ip {
		t.Fatalf("summary %+v, observed %d; want %d packets, %d records scored and observed, 0 flows", sum, observed, len(src.pkts), ip)
	}
	if int(sum.Alerts) != len(keys) || len(sink.alerts) != len(keys) {
		t.Fatalf("%d alerts (%d sent), want one per directed 5-tuple (%d)", sum.Alerts, len(sink.alerts), len(keys))
	}
	for _, a := range sink.alerts {
		k := features.FlowID{Src: a.SrcIP, Dst: a.DestIP}
		for p := range 256 {
			if features.ProtoName(uint8(p)) == a.Proto {
				k.Proto = uint8(p)
				break
			}
		}
		if a.SrcPort != nil {
			k.Sport, k.Dport = *a.SrcPort, *a.DestPort
		}
		if !keys[k] {
			t.Errorf("alert on %+v: not a 5-tuple of the sample", k)
		}
		delete(keys, k)
	}
}

func TestPacketConfig(t *testing.T) {
	for _, tc := range []struct {
		ext  string
		want int
		ok   bool
	}{{"", 0, true}, {`{"MaxKeys":5}`, 5, true}, {`{"MaxKeys":-1}`, 0, false}, {`{"MaxKeys":"x"}`, 0, false}} {
		b := &bundle.Bundle{Schema: *afterimage.Schema(), Extractor: []byte(tc.ext)}
		c, err := PacketConfig(b)
		if (err == nil) != tc.ok || tc.ok && c.MaxKeys != tc.want {
			t.Errorf("Extractor %q: %+v, %v", tc.ext, c, err)
		}
		if FeatureSet(b) != PacketFeatures {
			t.Errorf("FeatureSet = %q", FeatureSet(b))
		}
	}
}

// BenchmarkDetectPackets runs packet mode (AfterImage per IP packet,
// scoring every packet with both models, alerts to memory) over the
// sample mixed capture held in memory.
func BenchmarkDetectPackets(b *testing.B) {
	if _, err := os.Stat(labBaseline); err != nil {
		b.Skipf("sample lab data absent: %v", err)
	}
	pc := afterimage.Config{}
	bun, _, err := train.FromCaptures(train.CaptureConfig{Paths: []string{labBaseline}, Packet: &pc, MaxRows: 20000,
		Fit: train.Config{Seed: 7, KMeans: kmeans.Config{K: 8}}})
	if err != nil {
		b.Fatal(err)
	}
	pkts := readAll(b, labMixed)
	model := FromBundle(bun)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		var mem Memory
		sum, err := New(model, Config{Block: true, NewExtractor: NewPacketExtractor(pc)}).Run(context.Background(), &memSource{pkts: pkts}, &mem)
		if err != nil || sum.Packets != uint64(len(pkts)) || sum.Records == 0 || sum.Scored != sum.Records || sum.Alerts == 0 {
			b.Fatalf("run: %v, %d packets of %d, %d records, %d scored, %d alerts", err, sum.Packets, len(pkts), sum.Records, sum.Scored, sum.Alerts)
		}
		n += len(pkts)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "pkts/s")
}
