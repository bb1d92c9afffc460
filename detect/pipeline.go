package detect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/bits"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-nids/vigil/capture"
	"github.com/vigil-nids/vigil/detect/incident"
	"github.com/vigil-nids/vigil/features"
	"github.com/vigil-nids/vigil/models"
)

// Config configures a Pipeline. Zero fields take the defaults shown.
type Config struct {
	// Workers is the number of scoring goroutines (default GOMAXPROCS).
	// Records are sharded across them by flow key hash, so the records of
	// one flow are scored in order.
	Workers int
	// QueueLen is each worker's queue length in records (default 1024).
	QueueLen int
	// Block makes the capture goroutine wait for queue space instead of
	// dropping the vector. Use it for offline replay as fast as possible,
	// where results must not depend on machine speed; leave it false for
	// live capture and --realtime, where falling behind must not stall the
	// capture. Records emitted by the final Flush always wait.
	Block bool

	// ScoreInterval is how often, in capture time, active flows are scored
	// before they end (default 5s; negative: only when flows end).
	ScoreInterval time.Duration
	// NewExtractor overrides the extractor (tests); nil builds a
	// features.Extractor from Extractor.
	NewExtractor NewExtractorFunc

	// Extractor configures the flow feature extractor (use the bundle's,
	// ExtractorConfig); its SnapshotInterval is set from ScoreInterval.
	Extractor features.Config

	// Realtime paces the replay at capture speed using Clock.
	Realtime bool
	// Clock measures elapsed time and scoring latency and paces Realtime
	// (default WallClock).
	Clock Clock

	// TopFeatures is the number of features named per alert (default 5).
	TopFeatures int
	// ScoreMemo is the number of recently scored vectors each worker
	// remembers, by their exact bits, to reuse their scores and
	// explanation when the same vector comes again, as the flows of a
	// flood do (default 1024, rounded up to a power of two; negative:
	// none). Results are the same either way, bit for bit. It applies to
	// Scorers with a batch path (the bundle's).
	ScoreMemo int
	// A record alerts when its ensemble score is at least the model's
	// ensemble threshold (evaluate counts a detection by the same rule;
	// calibrated thresholds lie strictly above every baseline score they
	// admit, so the tie case does not arise in practice).
	//
	// RealertMargin: once a flow record (key and Seq) has alerted with
	// ensemble score s, it alerts again only when its score exceeds
	// s*(1+RealertMargin) (default 0.1: 10% higher; negative: never
	// repeat). The final record of a flow that alerted while active is
	// therefore reported only if its score rose by that margin.
	RealertMargin float64

	// KernelStats, when set, returns the capture's kernel counters (live
	// capture); it is polled with the metrics and once at the end.
	KernelStats func() (received, dropped uint64, err error)
	// Interrupt, when set, is called once if ctx is canceled before the
	// input ends, to unblock a pending ReadPacket (cmd/detect passes the
	// live source's Close). It runs on another goroutine.
	Interrupt func()

	// Observe, when set, is called for every scored record (interim and
	// final, alerting or not) from the scoring goroutines, concurrently:
	// it must be safe for concurrent use and must not keep the pointer.
	// evaluate uses it to score flows exactly as detect does.
	Observe func(*Observation)

	// Metrics, when set, is updated as the pipeline runs.
	Metrics *Metrics

	// AnomalyPcap, when set, receives the packets of flows that raised
	// alerts as a pcap file (see the anomalyPcap doc); it is flushed, not
	// closed, at the end.
	AnomalyPcap io.Writer
	// PcapRingBytes bounds the recent-packet ring (default 32 MiB).
	PcapRingBytes int
	// PcapMaxPerFlow bounds the packets written per alerted flow (default 10000).
	PcapMaxPerFlow int

	// AlertMode says what the sinks receive (default AlertsFlow: every
	// flow alert). In the incident modes, alerts go through an incident
	// engine configured by Incidents, whose events go to the sinks that
	// are EventSinks. Every alerted flow's packets go to AnomalyPcap in
	// every mode.
	AlertMode AlertMode
	Incidents incident.Config
	// IncidentOf, when set (incident modes), is called on the alert
	// goroutine with every alert and the id of the incident it was counted
	// into; it must not keep the alert. evaluate uses it.
	IncidentOf func(a *Alert, id string)
}

const (
	defaultQueueLen      = 1024
	defaultScoreInterval = 5 * time.Second
	defaultTopFeatures   = 5
	defaultScoreMemo     = 1024
	defaultRealert       = 0.1
	defaultRingBytes     = 32 << 20
	defaultMaxPerFlow    = 10000
	publishEvery         = 1 << 14 // packets between metric publications
	maxDedupPerWorker    = 1 << 16
)

func (c Config) withDefaults() Config {
	if c.Workers <= 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	if c.QueueLen <= 0 {
		c.QueueLen = defaultQueueLen
	}
	if c.ScoreInterval == 0 {
		c.ScoreInterval = defaultScoreInterval
	}
	if c.Clock == nil {
		c.Clock = WallClock{}
	}
	if c.TopFeatures <= 0 {
		c.TopFeatures = defaultTopFeatures
	}
	if c.ScoreMemo == 0 {
		c.ScoreMemo = defaultScoreMemo
	}
	if c.ScoreMemo > 0 {
		c.ScoreMemo = 1 << bits.Len(uint(c.ScoreMemo-1))
	}
	if c.RealertMargin == 0 {
		c.RealertMargin = defaultRealert
	}
	if c.PcapRingBytes <= 0 {
		c.PcapRingBytes = defaultRingBytes
	}
	if c.PcapMaxPerFlow <= 0 {
		c.PcapMaxPerFlow = defaultMaxPerFlow
	}
	return c
}

// Observation is one scored record, as passed to Config.Observe.
type Observation struct {
	ID     features.FlowID
	Seq    uint32 // the record's Seq: a long flow split by the active timeout has several
	Final  bool   // the flow's final record (false: an interim score of an active flow)
	At     int64  // the scoring moment, capture time (Unix ns)
	Scores Scores
	// Related is the record's features.Record.Related: the earlier
	// connections of its beacon, which an alert on it names.
	Related []features.FlowID
}

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
	h := FlowKeyHash(&rec.FlowID)
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

// dedupKey identifies one flow record: the key and its Seq.
type dedupKey struct {
	src, dst     [16]byte
	sport, dport uint16
	proto        uint8
	vlan         uint16
	seq          uint32
}

type dedupEntry struct {
	score float64
	at    int64
	slot  uint32 // dedupSlot of its key
}

// worker scores the records of its shard. The records of one flow come to
// one worker in order, so the dedup state needs no lock.
func (r *run) worker(q chan *batch) {
	sc := r.p.model.NewScorer()
	w := &scoring{r: r, sc: sc, seen: newDedupSet()}
	w.fast, _ = sc.(scoredExplainer)
	w.batch, _ = sc.(batchScorer)
	for b := range q {
		w.outCap = len(b.jobs) // on an attack capture most records alert
		switch {
		case w.batch != nil && r.cfg.ScoreMemo > 0:
			w.scoreMemo(b)
			for i := range b.jobs {
				w.decide(&b.jobs[i], w.scores[i], w.rows[i], w.slotOf[i], w.gens[i])
			}
		case w.batch != nil && len(b.jobs) > 1:
			w.miss = w.miss[:0]
			for i := range b.jobs {
				w.miss = append(w.miss, b.jobs[i].vec)
			}
			w.scores = w.batch.ScoreRows(w.scores, w.miss)
			for i := range b.jobs {
				w.decide(&b.jobs[i], w.scores[i], i, nil, 0)
			}
		default:
			for i := range b.jobs {
				j := &b.jobs[i]
				w.decide(j, w.sc.Score(j.vec), -1, nil, 0)
			}
		}
		// One channel operation per batch with alerts, not per alert; a
		// blocking replay sends every batch, so that the alert goroutine
		// can deliver them in their send order.
		if len(w.out) > 0 || r.cfg.Block {
			r.alerts <- alertBatch{b.seq, w.out}
			w.out = nil
		}
		r.scored.Add(uint64(len(b.jobs)))
		r.pool.put(b)
	}
}

// scoreMemo scores batch b through the worker's memo: the vectors it
// holds take their scores from it; the others (each distinct one once)
// are scored in one ScoreRows call and stored. It sets w.scores, w.rows
// (a record's row in that call, or -1 for a memo hit), w.slotOf and w.gens
// for every record.
func (w *scoring) scoreMemo(b *batch) {
	n := len(b.jobs)
	if n == 0 {
		return
	}
	d := len(b.jobs[0].vec)
	if w.memo == nil || w.memo.dim != d {
		w.memo = newScoreMemo(w.r.cfg.ScoreMemo, d)
	}
	m := w.memo
	w.scores = resize(w.scores, n)
	w.rows = resize(w.rows, n)
	w.slotOf = resize(w.slotOf, n)
	w.gens = resize(w.gens, n)
	w.miss, w.missSlot = w.miss[:0], w.missSlot[:0]
	for i := range b.jobs {
		v := b.jobs[i].vec
		h := m.hash(v)
		e := m.lookup(h, v)
		if e == nil {
			e = m.insert(h, v, len(w.missSlot))
			w.miss = append(w.miss, v)
			w.missSlot = append(w.missSlot, e)
		}
		w.slotOf[i], w.gens[i], w.rows[i] = e, e.gen, int(e.row)
		if e.row < 0 {
			w.scores[i] = e.s
		}
	}
	if len(w.missSlot) == 0 {
		return
	}
	w.missScores = w.batch.ScoreRows(w.missScores, w.miss)
	for k, e := range w.missSlot {
		// A later vector of this batch may have taken the slot: it is
		// then stored at its own row.
		if int(e.row) == k {
			e.s, e.row = w.missScores[k], -1
		}
	}
	for i, k := range w.rows {
		if k >= 0 {
			w.scores[i] = w.missScores[k]
		}
	}
}

// box returns a zero alert box from the worker's slab, allocating a new
// slab when it is used up: one allocation per alertSlab alerts. A slab
// lives while any of its alerts does.
func (w *scoring) box() *alertBox {
	if len(w.boxes) == 0 {
		w.boxes = make([]alertBox, alertSlab)
	}
	b := &w.boxes[0]
	w.boxes = w.boxes[1:]
	return b
}

// resize returns s with length n, reallocated only when it is too short.
func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// scoring is one worker's state.
type scoring struct {
	r       *run
	sc      Scorer
	fast    scoredExplainer // sc's, when it has it
	batch   batchScorer     // sc's, when it has it
	scores  []Scores        // batch's scores
	out     []*Alert        // alerts of the batch being scored
	outCap  int             // capacity to make out with: the batch's size
	seen    *dedupSet
	contrib []models.Contribution
	boxes   []alertBox // the rest of the current slab

	// The score memo (Config.ScoreMemo) and, per record of the batch,
	// its row in the ScoreRows call (-1: a memo hit), its memo slot and
	// that slot's generation; the distinct new vectors (views of the
	// batch's), their slots and scores.
	memo       *scoreMemo
	rows       []int
	slotOf     []*memoSlot
	gens       []uint32
	miss       [][]float64
	missSlot   []*memoSlot
	missScores []Scores
}

// decide handles one scored record: metrics, dedup and its alert, if any,
// appended to w.out. row is the record's row in the last ScoreRows call
// (-1: it was scored alone by Score, or its scores came from the memo).
// e is its memo slot (nil: no memo) as of generation gen.
func (w *scoring) decide(j *job, s Scores, row int, e *memoSlot, gen uint32) {
	r := w.r
	p, m := r.p, r.cfg.Metrics
	if m != nil {
		m.scored.Inc()
		m.latency.Observe(r.cfg.Clock.Now().Sub(j.queued).Seconds())
	}
	k := dedupKey{src: j.id.Src.As16(), dst: j.id.Dst.As16(), sport: j.id.Sport, dport: j.id.Dport,
		proto: j.id.Proto, vlan: j.id.VLAN, seq: j.seq}
	if r.cfg.Observe != nil {
		r.cfg.Observe(&Observation{ID: j.id, Seq: j.seq, Final: j.final, At: j.at, Scores: s, Related: j.related})
	}
	alert := s.Ensemble >= p.th.Ensemble
	var prev dedupEntry
	found := false
	slot := dedupSlot(j.hash, j.seq)
	if alert || j.final {
		prev, found = w.seen.get(&k, slot)
	}
	if alert && found {
		alert = r.cfg.RealertMargin >= 0 && s.Ensemble > prev.score*(1+r.cfg.RealertMargin)
	}
	switch {
	case j.final:
		if found {
			w.seen.remove(&k, slot)
		}
	case alert:
		w.seen.put(&k, slot, found, dedupEntry{score: s.Ensemble, at: j.at}, j.at)
	}
	if !alert {
		return
	}
	held := e != nil && e.gen == gen // the slot still holds j's vector
	var a *Alert
	if held && e.explained {
		a = newAlertShared(w.box(), j, s, p.th, p.hash, e.top)
	} else {
		switch {
		case row >= 0:
			w.contrib = w.batch.ExplainRow(w.contrib[:0], row, j.vec, s, r.cfg.TopFeatures)
		case w.fast != nil && e == nil:
			// Score was called for this vector last.
			w.contrib = w.fast.ExplainScored(w.contrib[:0], j.vec, s, r.cfg.TopFeatures)
		default:
			w.contrib = w.sc.Explain(w.contrib[:0], j.vec, r.cfg.TopFeatures)
		}
		if held {
			e.top, e.explained = topFeatures(w.contrib), true
			a = newAlertShared(w.box(), j, s, p.th, p.hash, e.top)
		} else {
			a = newAlertIn(w.box(), j, s, p.th, p.hash, w.contrib)
		}
	}
	// A model absent from the bundle has threshold 0 and scores 0.
	byIF := p.th.IForest > 0 && s.IForest >= p.th.IForest
	byKM := p.th.KMeans > 0 && s.KMeans >= p.th.KMeans
	r.byModel[0].Add(1)
	if byIF {
		r.byModel[1].Add(1)
	}
	if byKM {
		r.byModel[2].Add(1)
	}
	if m != nil {
		m.alerts.WithLabelValues("ensemble").Inc()
		m.alertCount.Add(1)
		if byIF {
			m.alerts.WithLabelValues("iforest").Inc()
		}
		if byKM {
			m.alerts.WithLabelValues("kmeans").Inc()
		}
	}
	if w.out == nil {
		w.out = make([]*Alert, 0, w.outCap)
	}
	w.out = append(w.out, a)
}

// dedupSet is a worker's dedup state: the records (key and Seq) that
// alerted while their flow was active, with their score. Most records
// looked up are absent (every final record is looked up, to forget its
// flow), so a counting filter sits in front of the map: count[slot] is the
// number of entries whose key falls in that slot, and a zero count
// answers "absent" without hashing the 48-byte key.
type dedupSet struct {
	m     map[dedupKey]dedupEntry
	count []uint32
}

const dedupFilterBits = 14

func newDedupSet() *dedupSet {
	return &dedupSet{m: make(map[dedupKey]dedupEntry), count: make([]uint32, 1<<dedupFilterBits)}
}

// dedupSlot returns the filter slot of a record from its FlowKeyHash
// (equal for equal keys) and Seq.
func dedupSlot(hash uint64, seq uint32) uint32 {
	return uint32(((hash ^ uint64(seq)) * 0x9E3779B97F4A7C15) >> (64 - dedupFilterBits))
}

// get returns k's entry; slot is k's dedupSlot.
func (d *dedupSet) get(k *dedupKey, slot uint32) (dedupEntry, bool) {
	if d.count[slot] == 0 {
		return dedupEntry{}, false
	}
	e, ok := d.m[*k]
	return e, ok
}

// remove deletes k, which is present.
func (d *dedupSet) remove(k *dedupKey, slot uint32) {
	delete(d.m, *k)
	d.count[slot]--
}

// put stores e for k (present: whether get found it), pruning the map
// first when it is full (now: the capture time).
func (d *dedupSet) put(k *dedupKey, slot uint32, present bool, e dedupEntry, now int64) {
	if len(d.m) >= maxDedupPerWorker {
		d.prune(now)
		_, present = d.m[*k]
	}
	e.slot = slot
	d.m[*k] = e
	if !present {
		d.count[slot]++
	}
}

// prune bounds the map. Entries normally leave when the flow's final
// record is scored; one whose final record was dropped would stay, so
// when the map is full, entries not updated for 10 minutes of capture time
// go, and if none qualifies, an arbitrary quarter.
func (d *dedupSet) prune(now int64) {
	const stale = int64(10 * time.Minute)
	for k, e := range d.m {
		if now-e.at > stale {
			delete(d.m, k)
			d.count[e.slot]--
		}
	}
	if len(d.m) < maxDedupPerWorker {
		return
	}
	n := len(d.m) / 4
	for k, e := range d.m {
		if n == 0 {
			break
		}
		delete(d.m, k)
		d.count[e.slot]--
		n--
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
