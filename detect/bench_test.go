package detect

import (
	"bytes"
	"context"
	"io"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/vigil-nids/vigil/capture"
	"github.com/vigil-nids/vigil/features"
)

// memSource replays in-memory packets.
type memSource struct {
	pkts []fakePkt
	i    int
}

func (s *memSource) ReadPacket() ([]byte, capture.CaptureInfo, error) {
	if s.i >= len(s.pkts) {
		return nil, capture.CaptureInfo{}, io.EOF
	}
	p := &s.pkts[s.i]
	s.i++
	return p.data, p.ci, nil
}

func readAll(t testing.TB, path string) []fakePkt {
	src, err := capture.Open([]string{path}, capture.Options{})
	if err != nil {
		t.Skipf("sample data: %v", err)
	}
	defer src.Close()
	var out []fakePkt
	for {
		d, ci, err := src.ReadPacket()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fakePkt{data: bytes.Clone(d), ci: ci})
	}
}

// BenchmarkDetect runs the whole pipeline (decode, flows, features,
// scoring with both models, alerts to memory, anomaly pcap) over the
// sample mixed capture held in memory.
func BenchmarkDetect(b *testing.B) {
	bun := trainLab(b)
	pkts := readAll(b, labMixed)
	ecfg, _ := ExtractorConfig(bun)
	model := FromBundle(bun)
	for _, bc := range []struct {
		name string
		pcap bool
	}{{"alerts", false}, {"alerts+pcap", true}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				cfg := Config{Block: true, Extractor: ecfg}
				if bc.pcap {
					cfg.AnomalyPcap = io.Discard
				}
				var mem Memory
				sum, err := New(model, cfg).Run(context.Background(), &memSource{pkts: pkts}, &mem)
				if err != nil || sum.Packets != uint64(len(pkts)) || sum.Alerts == 0 {
					b.Fatalf("run: %v, %d packets of %d, %d alerts", err, sum.Packets, len(pkts), sum.Alerts)
				}
				n += len(pkts)
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "pkts/s")
		})
	}
}

// TestNoAllocsPerPacket: packets that emit no record cost no allocation
// on the capture goroutine (decode, flow update, ring copy, pacing,
// counters). Two runs of one flow differing by 20,000 packets must differ
// by (almost) no allocations.
func TestNoAllocsPerPacket(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation count is noisy under -short CI")
	}
	f := frame(t, "10.0.0.1", "10.0.0.2", 40000, 80, 6, 0, 100)
	mk := func(n int) []fakePkt {
		p := make([]fakePkt, n)
		for i := range p {
			p[i] = fakePkt{data: f, ci: capture.CaptureInfo{Timestamp: int64(time.Second) + int64(i)*1000,
				CaptureLength: len(f), Length: len(f), LinkType: layers.LinkTypeEthernet}}
		}
		return p
	}
	mallocs := func(n int) uint64 {
		src := &memSource{pkts: mk(n)}
		cfg := Config{Workers: 1, AnomalyPcap: io.Discard, PcapRingBytes: 1 << 20, Metrics: NewMetrics()}
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		before := ms.Mallocs
		sum, err := New(&fakeModel{}, cfg).Run(context.Background(), src, &Memory{})
		runtime.ReadMemStats(&ms)
		if err != nil || sum.Packets != uint64(n) || sum.Flows != 1 {
			t.Fatalf("run: %v %+v", err, sum)
		}
		return ms.Mallocs - before
	}
	mallocs(100) // warm up
	small, large := mallocs(1000), mallocs(21000)
	if large > small+200 {
		t.Fatalf("%d allocations for 21000 packets vs %d for 1000: %.3f per packet", large, small, float64(large-small)/20000)
	}
}

// BenchmarkScoreRowsLab scores the flow records of the sample mixed
// capture (real vectors, so the scaler's and the forest's branches see a
// realistic mix) with the bundle's batch path, 64 rows per call, as the
// workers do in replay.
func BenchmarkScoreRowsLab(b *testing.B) {
	bun := trainLab(b)
	ecfg, _ := ExtractorConfig(bun)
	var vecs [][]float64
	ext := features.NewExtractor(ecfg, func(r *features.Record) { vecs = append(vecs, slices.Clone(r.Vector)) })
	for _, p := range readAll(b, labMixed) {
		ext.Process(p.data, p.ci)
	}
	ext.Flush()
	if len(vecs) < 1000 {
		b.Fatalf("only %d records", len(vecs))
	}
	sc := FromBundle(bun).NewScorer().(batchScorer)
	var out []Scores
	var sum float64
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for i := 0; i < len(vecs); i += blockBatch {
			out = sc.ScoreRows(out, vecs[i:min(i+blockBatch, len(vecs))])
			sum += out[0].Ensemble
		}
		n += len(vecs)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
	if !(sum > 0) {
		b.Fatalf("ensemble scores sum to %v", sum)
	}
}

// BenchmarkDetectRepeats runs the whole pipeline over the sample mixed
// capture with each flow record emitted twice (the copy as the flow's
// next record, as TestScoreMemoMatchesNoMemo does): the same vector
// again, as the flows of a flood give. With the score memo the copy is
// neither scored nor explained again, and its alert's top features are
// encoded once (JSON lines to io.Discard); without it, everything is done
// twice. records/s counts both copies.
func BenchmarkDetectRepeats(b *testing.B) {
	bun := trainLab(b)
	pkts := readAll(b, labMixed)
	ecfg, _ := ExtractorConfig(bun)
	model := FromBundle(bun)
	for _, bc := range []struct {
		name string
		memo int
	}{{"memo", 0}, {"no-memo", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			records := uint64(0)
			for b.Loop() {
				cfg := Config{Block: true, ScoreMemo: bc.memo, NewExtractor: twiceExtractor(ecfg)}
				sum, err := New(model, cfg).Run(context.Background(), &memSource{pkts: pkts}, NewJSONLines(io.Discard))
				if err != nil || sum.Packets != uint64(len(pkts)) || sum.Alerts == 0 || sum.Records%2 != 0 {
					b.Fatalf("run: %v, %d packets of %d, %d records, %d alerts", err, sum.Packets, len(pkts), sum.Records, sum.Alerts)
				}
				records += sum.Records
			}
			b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
