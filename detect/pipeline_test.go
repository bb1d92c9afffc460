package detect

import (
	"context"
	"testing"
	"time"
)

func runFake(t *testing.T, cfg Config, m *fakeModel, src *sliceSource) (Summary, []*Alert) {
	t.Helper()
	if cfg.NewExtractor == nil {
		cfg.NewExtractor = newFakeExt(0)
	}
	if cfg.Clock == nil {
		cfg.Clock = &fakeClock{}
	}
	var mem Memory
	sum, err := New(m, cfg).Run(context.Background(), src, &mem)
	if err != nil {
		t.Fatal(err)
	}
	return sum, mem.Alerts()
}

func TestQueueDrops(t *testing.T) {
	const n = 200
	mk := func() *sliceSource {
		var pk []fakePkt
		for i := range n {
			pk = append(pk, fp(byte(i), 20, 1, time.Duration(i)*time.Millisecond))
		}
		return &sliceSource{pkts: pk}
	}
	// A scorer that cannot proceed until the capture has finished: with
	// one worker and a queue of 4, at most 4 (+1 in the worker) survive.
	m := &fakeModel{gate: make(chan struct{})}
	src := mk()
	src.onRead = func(i int) {
		if i == n { // end of input: let the scorer go
			close(m.gate)
		}
	}
	sum, alerts := runFake(t, Config{Workers: 1, QueueLen: 4}, m, src)
	if sum.Records != n {
		t.Fatalf("records = %d, want %d", sum.Records, n)
	}
	if sum.Dropped.Internal < n-6 || sum.Scored+sum.Dropped.Internal != n {
		t.Fatalf("scored %d + dropped %d, want about %d dropped and a sum of %d", sum.Scored, sum.Dropped.Internal, n-5, n)
	}
	if uint64(len(alerts)) != sum.Scored {
		t.Fatalf("%d alerts for %d scored high-score records", len(alerts), sum.Scored)
	}

	// Block: nothing dropped.
	m = &fakeModel{}
	sum, _ = runFake(t, Config{Workers: 1, QueueLen: 1, Block: true}, m, mk())
	if sum.Dropped.Internal != 0 || sum.Scored != n {
		t.Fatalf("Block: scored %d dropped %d", sum.Scored, sum.Dropped.Internal)
	}
}

func TestCancelScoresEveryOpenFlow(t *testing.T) {
	// 50 flows, none ends by itself; cancel after 120 packets. Every flow
	// seen so far must be scored (by Flush) and alert, even with a queue
	// of 1 and no Block, and the source must not be read further.
	const flows, cancelAt = 50, 120
	var pk []fakePkt
	for i := range 400 {
		pk = append(pk, fp(byte(i%flows), 20, 0, time.Duration(i)*time.Millisecond))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	interrupted := 0
	src := &sliceSource{pkts: pk}
	src.onRead = func(i int) {
		if i == cancelAt {
			cancel()
		}
	}
	m := &fakeModel{}
	var mem Memory
	cfg := Config{NewExtractor: newFakeExt(0), Workers: 2, QueueLen: 1, Clock: &fakeClock{},
		Interrupt: func() { interrupted++ }}
	sum, err := New(m, cfg).Run(ctx, src, &mem)
	if err != nil {
		t.Fatal(err)
	}
	if src.i > cancelAt+1 {
		t.Fatalf("read %d packets after cancel at %d", src.i, cancelAt)
	}
	if sum.Flows != flows || sum.Scored != flows || sum.Dropped.Internal != 0 {
		t.Fatalf("flows %d scored %d dropped %d, want %d scored and 0 dropped", sum.Flows, sum.Scored, sum.Dropped.Internal, flows)
	}
	ports := map[uint16]bool{}
	for _, a := range mem.Alerts() {
		if !a.Final || a.Flow.Reason != "end-of-input" {
			t.Fatalf("alert %+v: want a final end-of-input record", a)
		}
		ports[*a.SrcPort] = true
	}
	if len(ports) != flows {
		t.Fatalf("alerts for %d flows, want %d", len(ports), flows)
	}
	if interrupted != 1 {
		t.Fatalf("Interrupt called %d times, want 1", interrupted)
	}
}

func TestRealtimePacing(t *testing.T) {
	// Packets at 0, 1.5 s, 1.5005 s (within 1 ms: not paced) and 4 s;
	// the fake clock only moves when slept on, so the pipeline must sleep
	// 4 s in all.
	pk := []fakePkt{fp(1, 1, 0, 0), fp(1, 1, 0, 1500*time.Millisecond), fp(1, 1, 0, 1500500*time.Microsecond), fp(1, 1, 0, 4*time.Second)}
	for i := range pk {
		pk[i].ci.Timestamp += int64(time.Hour) // capture time is not wall time
	}
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	sum, _ := runFake(t, Config{Realtime: true, Clock: clk}, &fakeModel{}, &sliceSource{pkts: pk})
	if clk.slept != 4*time.Second {
		t.Fatalf("slept %v, want 4s", clk.slept)
	}
	if sum.ElapsedSeconds != 4 || sum.PacketsPerSecond != 1 {
		t.Fatalf("elapsed %v s, %v pkts/s; want 4 and 1", sum.ElapsedSeconds, sum.PacketsPerSecond)
	}

	clk = &fakeClock{}
	runFake(t, Config{Clock: clk}, &fakeModel{}, &sliceSource{pkts: pk})
	if clk.slept != 0 {
		t.Fatalf("slept %v without Realtime", clk.slept)
	}
}

func TestSummaryCounts(t *testing.T) {
	pk := []fakePkt{fp(1, 1, 0, time.Second), fp(2, 1, 0, 2*time.Second), fp(1, 1, 1, 3*time.Second)}
	cfg := Config{KernelStats: func() (uint64, uint64, error) { return 10, 7, nil }}
	sum, alerts := runFake(t, cfg, &fakeModel{}, &sliceSource{pkts: pk})
	if sum.Packets != 3 || sum.Bytes != 180 || sum.Flows != 2 || sum.Alerts != 0 || len(alerts) != 0 ||
		sum.Dropped.Kernel != 7 || sum.Protocols["tcp"] != 3 ||
		sum.CaptureStart != Time(time.Second) || sum.CaptureEnd != Time(3*time.Second) {
		t.Fatalf("summary = %+v", sum)
	}
}
