package detect

import (
	"io"
	"math/bits"
	"runtime"
	"time"

	"github.com/vigil-nids/vigil/detect/incident"
	"github.com/vigil-nids/vigil/features"
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
