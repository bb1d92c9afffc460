package detect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-nids/vigil/capture"
	"github.com/vigil-nids/vigil/features"
)

// job is one record on its way to a worker. vec points into its batch's
// vector storage.
type job struct {
	id                 features.FlowID
	community          string
	fwdPkts, bwdPkts   uint64
	fwdBytes, bwdBytes uint64
	final              bool
	reason             features.EndReason
	seq                uint32
	related            []features.FlowID // a copy of Record.Related (nil for most records)
	ja4                string            // Record.JA4 ("" for most records)
	user               string            // Record.User (Config.Extractor.Usernames)
	lazyCID            bool              // compute the alert's Community ID only if it is written
	at                 int64             // scoring moment, capture time
	hash               uint64            // FlowKeyHash
	queued             time.Time
	vec                []float64
}

// batch is a run of records for one worker, with their vectors in one
// array. Replay as fast as possible (Config.Block) sends batches of up to
// blockBatch records: a channel send and a worker wake-up per record cost
// more than scoring a short flow. Otherwise (live capture, --realtime)
// every record goes alone, at once, so an alert never waits for others.
type batch struct {
	seq  uint64 // send order (Block: the alert goroutine delivers alerts in it)
	jobs []job
	vecs []float64 // len(jobs) vectors of the schema's length, back to back
}

// blockBatch is the batch size in Block mode.
const blockBatch = 64

// batchPool is a bounded free list of batches: they cross goroutines
// (capture → worker), so they are recycled through a channel rather than
// allocated per record.
type batchPool chan *batch

func (p batchPool) get(n, dim int) *batch {
	select {
	case b := <-p:
		if cap(b.jobs) >= n && cap(b.vecs) >= n*dim {
			b.jobs, b.vecs = b.jobs[:0], b.vecs[:0]
			return b
		}
	default:
	}
	return &batch{jobs: make([]job, 0, n), vecs: make([]float64, 0, n*dim)}
}

func (p batchPool) put(b *batch) {
	select {
	case p <- b:
	default:
	}
}

// Pipeline scores flows from a capture source against a model.
type Pipeline struct {
	cfg   Config
	model Model
	th    Thresholds
	hash  string
}

// New returns a pipeline for model. cfg is copied.
func New(model Model, cfg Config) *Pipeline {
	return &Pipeline{cfg: cfg.withDefaults(), model: model, th: model.Thresholds(), hash: model.Hash()}
}

// run is the state of one Run.
type run struct {
	p      *Pipeline
	cfg    *Config
	queues []chan *batch
	open   []*batch // per queue: the batch being filled (capture goroutine)
	batchN int      // records per batch
	pool   batchPool
	alerts chan alertBatch // a worker's alerts from one batch, in order
	sent   uint64          // batches sent to the workers
	clock  atomic.Int64    // capture time, published about once a second of it
	stored int64           // the last value stored in clock
	pcap   *anomalyPcap

	now       int64 // capture time of the packet being processed
	published int64 // capture time of the last metrics publication
	block     bool  // wait for queue space (Block, or the final Flush)
	records   uint64
	finals    uint64
	drops     atomic.Uint64

	scored      atomic.Uint64
	byModel     [3]atomic.Uint64 // ensemble, iforest, kmeans
	alertsSent  uint64
	sinkErr     error
	kernMu      sync.Mutex
	kernRecv    uint64
	kernDrop    uint64
	kernStatsOK bool
}

// Run reads src until io.EOF, a read error or ctx's cancellation, scoring
// every flow record and sending alerts to sinks in order. On any of these
// it stops reading, flushes the extractor (so every open flow is scored),
// drains the queues, writes every alert and closes every sink: no alert
// is lost to a cancellation. Run closes the sinks it is given.
//
// The error is the read error (not io.EOF, and not one that follows
// cancellation), or the first sink or pcap error; the Summary is filled in
// either case. Cancellation is not an error.
func (p *Pipeline) Run(ctx context.Context, src capture.Source, sinks ...Sink) (Summary, error) {
	cfg := p.cfg
	r := &run{p: p, cfg: &cfg, block: cfg.Block}
	// The queues hold about QueueLen records each, in batches.
	qlen := cfg.QueueLen
	r.batchN = 1
	if cfg.Block {
		r.batchN, qlen = blockBatch, max(1, cfg.QueueLen/blockBatch)
	}
	r.queues = make([]chan *batch, cfg.Workers)
	for i := range r.queues {
		r.queues[i] = make(chan *batch, qlen)
	}
	r.open = make([]*batch, cfg.Workers)
	r.pool = make(batchPool, cfg.Workers*(qlen+3))
	r.alerts = make(chan alertBatch, 64)
	if cfg.AnomalyPcap != nil {
		r.pcap = newAnomalyPcap(cfg.AnomalyPcap, cfg.PcapRingBytes, cfg.PcapMaxPerFlow)
	}

	newExt := cfg.NewExtractor
	if newExt == nil {
		newExt = cfg.defaultExtractor()
	}
	ext := newExt(r.emit)

	var wg sync.WaitGroup
	for i := range r.queues {
		wg.Add(1)
		go func(q chan *batch) {
			defer wg.Done()
			r.worker(q)
		}(r.queues[i])
	}
	alertDone := make(chan struct{})
	out := r.newAlertOut(sinks)
	go func() {
		defer close(alertDone)
		r.sendAlerts(out, sinks)
	}()

	// Cancellation: snapshot the kernel counters (a closed live source
	// may not report them), then unblock a pending read.
	stopWatch := make(chan struct{})
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		select {
		case <-ctx.Done():
		case <-stopWatch:
			if ctx.Err() == nil {
				return
			}
		}
		r.pollKernel()
		if cfg.Interrupt != nil {
			cfg.Interrupt()
		}
	}()

	start := cfg.Clock.Now()
	sum, readErr := r.capture(ctx, src, ext)
	close(stopWatch)
	<-watchDone

	r.block = true
	ext.Flush()
	for i, q := range r.queues {
		r.send(i)
		close(q)
	}
	wg.Wait()
	close(r.alerts)
	<-alertDone
	r.finish(out, int64(sum.CaptureEnd))

	var pcapErr error
	if r.pcap != nil {
		pcapErr = r.pcap.close()
		sum.PcapPackets = r.pcap.written
		sum.Dropped.Pcap = r.pcap.dropped
		if pcapErr != nil {
			pcapErr = fmt.Errorf("write anomaly pcap: %w", pcapErr)
		}
	}
	var closeErr error
	for _, s := range sinks {
		if err := s.Close(); err != nil && closeErr == nil {
			closeErr = err
		}
	}
	elapsed := cfg.Clock.Now().Sub(start)

	r.pollKernel()
	fs := ext.Stats()
	sum.Malformed = fs.Malformed
	sum.Flows = r.finals
	sum.Records = r.records
	sum.Scored = r.scored.Load()
	sum.Alerts = r.alertsSent
	out.summarize(&sum)
	sum.AlertsByModel = map[string]uint64{
		"ensemble": r.byModel[0].Load(), "iforest": r.byModel[1].Load(), "kmeans": r.byModel[2].Load(),
	}
	sum.Protocols = fs.Protocols
	if sum.Protocols == nil {
		sum.Protocols = map[string]uint64{}
	}
	sum.Applications = fs.Apps
	sum.Dropped.Kernel = r.kernDrop
	sum.Dropped.Internal = r.drops.Load()
	sum.ElapsedSeconds = elapsed.Seconds()
	if sum.ElapsedSeconds > 0 {
		sum.PacketsPerSecond = float64(sum.Packets) / sum.ElapsedSeconds
	}
	cfg.Metrics.publish(sum.Packets, sum.Bytes, &fs, r.kernDrop, sum.Dropped.Internal)

	return sum, errors.Join(readErr, r.sinkErr, pcapErr, closeErr)
}

func (r *run) pollKernel() {
	if r.cfg.KernelStats == nil {
		return
	}
	r.kernMu.Lock()
	defer r.kernMu.Unlock()
	if recv, drop, err := r.cfg.KernelStats(); err == nil {
		r.kernRecv, r.kernDrop, r.kernStatsOK = recv, drop, true
	}
}

// capture is the capture goroutine's loop (it runs on Run's goroutine).
func (r *run) capture(ctx context.Context, src capture.Source, ext Extractor) (Summary, error) {
	var sum Summary
	cfg := r.cfg
	done := ctx.Done()
	var pace struct {
		on        bool
		cap0      int64
		wall0     time.Time
		nextCheck int64
	}
	for {
		select {
		case <-done:
			return sum, nil
		default:
		}
		data, ci, err := src.ReadPacket()
		if err != nil {
			if err == io.EOF || ctx.Err() != nil {
				return sum, nil
			}
			return sum, fmt.Errorf("read packet %d: %w", sum.Packets+1, err)
		}
		if sum.Packets == 0 {
			sum.CaptureStart = Time(ci.Timestamp)
		}
		if ci.Timestamp > int64(sum.CaptureEnd) {
			sum.CaptureEnd = Time(ci.Timestamp)
		}
		if cfg.Realtime {
			if !pace.on {
				pace.on, pace.cap0, pace.wall0 = true, ci.Timestamp, cfg.Clock.Now()
			} else if ci.Timestamp >= pace.nextCheck {
				ahead := time.Duration(ci.Timestamp-pace.cap0) - cfg.Clock.Now().Sub(pace.wall0)
				if ahead > time.Millisecond {
					// Canceled while waiting: the packet is still processed,
					// and the loop stops at the next check.
					_ = cfg.Clock.Sleep(ctx, ahead)
				}
				// Packets closer than 1 ms of capture time are not paced
				// one by one.
				pace.nextCheck = ci.Timestamp + int64(time.Millisecond)
			}
		}
		sum.Packets++
		sum.Bytes += uint64(ci.Length)
		if ci.Timestamp > r.now {
			r.now = ci.Timestamp
			if r.now-r.stored >= int64(time.Second) {
				r.stored = r.now
				r.clock.Store(r.now)
			}
		}
		if r.pcap != nil {
			r.pcap.packet(data, &ci)
		}
		ext.Process(data, ci)
		// Publish every publishEvery packets, and at least once a second
		// of capture time so a slow live link or a --realtime replay
		// shows moving counters (capture time: no clock read per packet).
		if cfg.Metrics != nil && (sum.Packets%publishEvery == 0 || r.now-r.published >= int64(time.Second)) {
			r.published = r.now
			r.pollKernel()
			fs := ext.Stats()
			r.kernMu.Lock()
			kd := r.kernDrop
			r.kernMu.Unlock()
			cfg.Metrics.publish(sum.Packets, sum.Bytes, &fs, kd, r.drops.Load())
		}
	}
}

// emit receives the extractor's records on the capture goroutine.
func (r *run) emit(rec *features.Record) {
	r.records++
	if rec.Final {
		r.finals++
	}
	h := features.FlowKeyHash(&rec.FlowID)
	qi := int(h % uint64(len(r.queues)))
	q := r.queues[qi]
	b := r.open[qi]
	if b == nil {
		if !r.block && len(q) == cap(q) {
			r.drops.Add(1)
			return
		}
		b = r.pool.get(r.batchN, len(rec.Vector))
		r.open[qi] = b
	}
	at := max(r.now, rec.End)
	n := len(b.vecs)
	b.vecs = append(b.vecs, rec.Vector...)
	b.jobs = append(b.jobs, job{
		id: rec.FlowID, community: rec.CommunityID,
		fwdPkts: rec.FwdPackets, bwdPkts: rec.BwdPackets, fwdBytes: rec.FwdBytes, bwdBytes: rec.BwdBytes,
		final: rec.Final, reason: rec.Reason, seq: rec.Seq, at: at, hash: h, lazyCID: r.cfg.AlertMode == AlertsIncident,
		vec: b.vecs[n:len(b.vecs):len(b.vecs)],
	})
	if len(rec.Related) > 0 {
		b.jobs[len(b.jobs)-1].related = slices.Clone(rec.Related)
	}
	if rec.JA4[0] != 0 {
		b.jobs[len(b.jobs)-1].ja4 = rec.JA4String()
	}
	if len(rec.User) > 0 {
		b.jobs[len(b.jobs)-1].user = string(rec.User)
	}
	if r.cfg.Metrics != nil {
		b.jobs[len(b.jobs)-1].queued = r.cfg.Clock.Now()
	}
	if len(b.jobs) >= r.batchN {
		r.send(qi)
	}
}

// send sends queue qi's open batch, if any: waiting for space when
// r.block, else dropping its records when the queue is full.
func (r *run) send(qi int) {
	b := r.open[qi]
	if b == nil {
		return
	}
	r.open[qi] = nil
	if len(b.jobs) == 0 {
		r.pool.put(b)
		return
	}
	q := r.queues[qi]
	b.seq = r.sent
	if r.block {
		r.sent++
		q <- b
		return
	}
	select {
	case q <- b:
		r.sent++
	default: // only this goroutine sends, but stay safe
		r.drops.Add(uint64(len(b.jobs)))
		r.pool.put(b)
	}
}

// alertBatch is a worker's alerts from one batch.
type alertBatch struct {
	seq    uint64
	alerts []*Alert
}

// sendAlerts is the one goroutine that writes alerts, so sinks see them in
// one order. In a blocking replay (Config.Block) that order is the
// batches' send order, whichever worker finishes first, so that the same
// input gives the same output lines in the same order and the same
// incidents; otherwise alerts go as they come. Outside a blocking replay
// the incident clock also moves with the capture's every liveTick.
func (r *run) sendAlerts(out *alertOut, sinks []Sink) {
	pending := map[uint64][]*Alert{}
	var next uint64
	deliver := func(as []*Alert) {
		for _, a := range as {
			r.deliver(out, a, sinks)
		}
	}
	var tick <-chan time.Time
	if out.engine != nil && !r.cfg.Block {
		t := time.NewTicker(liveTick)
		defer t.Stop()
		tick = t.C
	}
	for {
		var ab alertBatch
		var ok bool
		select {
		case ab, ok = <-r.alerts:
		case <-tick:
			if err := out.engine.Advance(r.clock.Load()); err != nil && r.sinkErr == nil {
				r.sinkErr = err
			}
			r.flushSinks(sinks)
			continue
		}
		if !ok {
			break
		}
		if !r.cfg.Block {
			deliver(ab.alerts)
		} else {
			pending[ab.seq] = ab.alerts
			for {
				as, ok := pending[next]
				if !ok {
					break
				}
				delete(pending, next)
				next++
				deliver(as)
			}
		}
		if len(r.alerts) == 0 {
			r.flushSinks(sinks)
		}
	}
	// Not reached (every batch sent is answered), but lose nothing.
	for _, seq := range slices.Sorted(maps.Keys(pending)) {
		deliver(pending[seq])
	}
}

func (r *run) flushSinks(sinks []Sink) {
	for _, s := range sinks {
		if f, ok := s.(interface{ Flush() error }); ok {
			if err := f.Flush(); err != nil && r.sinkErr == nil {
				r.sinkErr = err
			}
		}
	}
}
