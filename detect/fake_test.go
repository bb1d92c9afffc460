package detect

import (
	"context"
	"io"
	"net/netip"
	"sync"
	"time"

	"github.com/vigil-nids/vigil/capture"
	"github.com/vigil-nids/vigil/features"
	"github.com/vigil-nids/vigil/models"
)

// Test doubles. A fake packet is [port, score, fin]: the flow key is
// 10.0.0.1:port → 10.0.0.2:80/TCP, the flow's vector is [score], and fin=1
// ends the flow. The fake extractor emits an interim record every
// snapshotEvery packets of a flow and a final one at fin or Flush.

type fakePkt struct {
	data []byte
	ci   capture.CaptureInfo
}

type sliceSource struct {
	pkts []fakePkt
	i    int
	// onRead, when set, is called before packet i is returned.
	onRead func(i int)
}

func (s *sliceSource) ReadPacket() ([]byte, capture.CaptureInfo, error) {
	if s.onRead != nil {
		s.onRead(s.i)
	}
	if s.i >= len(s.pkts) {
		return nil, capture.CaptureInfo{}, io.EOF
	}
	p := s.pkts[s.i]
	s.i++
	return p.data, p.ci, nil
}

func fp(port, score, fin byte, ts time.Duration) fakePkt {
	return fakePkt{data: []byte{port, score, fin}, ci: capture.CaptureInfo{Timestamp: int64(ts), CaptureLength: 3, Length: 60}}
}

type fakeExt struct {
	emit          func(*features.Record)
	snapshotEvery int
	open          map[byte]*features.Record
	order         []byte
	pkts          uint64
	finals        uint64
}

func newFakeExt(every int) NewExtractorFunc {
	return func(emit func(*features.Record)) Extractor {
		return &fakeExt{emit: emit, snapshotEvery: every, open: map[byte]*features.Record{}}
	}
}

func (e *fakeExt) Process(data []byte, ci capture.CaptureInfo) {
	e.pkts++
	port := data[0]
	r := e.open[port]
	if r == nil {
		r = &features.Record{FlowID: features.FlowID{Start: ci.Timestamp,
			Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"),
			Sport: uint16(port) + 1000, Dport: 80, Proto: 6}, Vector: make([]float64, 1)}
		e.open[port] = r
		e.order = append(e.order, port)
	}
	r.End = ci.Timestamp
	r.FwdPackets++
	r.FwdBytes += uint64(ci.Length)
	r.Vector[0] = float64(data[1]) / 10
	if data[2] == 1 {
		e.finish(port, features.EndFIN)
		return
	}
	if e.snapshotEvery > 0 && r.FwdPackets%uint64(e.snapshotEvery) == 0 {
		r.Final, r.Reason = false, features.EndNone
		e.emit(r)
	}
}

func (e *fakeExt) finish(port byte, why features.EndReason) {
	r := e.open[port]
	r.Final, r.Reason = true, why
	e.emit(r)
	r.Vector[0] = -1 // the record is the extractor's: a kept reference would see this
	delete(e.open, port)
	e.finals++
}

func (e *fakeExt) Flush() {
	for _, p := range e.order {
		if e.open[p] != nil {
			e.finish(p, features.EndFlush)
		}
	}
	e.order = nil
}

func (e *fakeExt) Stats() FlowStats {
	return FlowStats{Packets: e.pkts, Flows: e.finals, Active: len(e.open), MaxFlows: 100,
		Protocols: map[string]uint64{"tcp": e.pkts}}
}

// fakeModel scores a vector [v] as ensemble v, iforest v, kmeans v/2, with
// all thresholds 1. gate, when set, blocks every Score until it can receive.
type fakeModel struct {
	gate   chan struct{}
	mu     sync.Mutex
	scored []float64
}

func (m *fakeModel) Hash() string           { return "fakehash" }
func (m *fakeModel) Thresholds() Thresholds { return Thresholds{IForest: 1, KMeans: 1, Ensemble: 1} }
func (m *fakeModel) NewScorer() Scorer      { return fakeScorer{m} }

type fakeScorer struct{ m *fakeModel }

func (s fakeScorer) Score(raw []float64) Scores {
	if s.m.gate != nil {
		<-s.m.gate
	}
	s.m.mu.Lock()
	s.m.scored = append(s.m.scored, raw[0])
	s.m.mu.Unlock()
	return Scores{IForest: raw[0], KMeans: raw[0] / 2, Ensemble: raw[0]}
}

func (s fakeScorer) Explain(dst []models.Contribution, raw []float64, n int) []models.Contribution {
	return append(dst[:0], models.Contribution{Name: "f0", Value: raw[0], Lo: 0, Hi: 0.5, Share: 1})
}

// fakeClock advances only when slept on.
type fakeClock struct {
	mu    sync.Mutex
	t     time.Time
	slept time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.slept += d
	c.mu.Unlock()
	return ctx.Err()
}
