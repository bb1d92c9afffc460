package detect

import (
	"github.com/vigil-nids/vigil/capture"
	"github.com/vigil-nids/vigil/features"
	"github.com/vigil-nids/vigil/models"
)

// Scores are one vector's anomaly scores; higher is more anomalous.
// Ensemble is the mean over models of score/threshold (models.Ensemble),
// compared with its own calibrated threshold (Thresholds.Ensemble).
type Scores struct {
	IForest, KMeans, Ensemble float64
}

// Thresholds are a model's calibrated alert thresholds.
type Thresholds struct {
	IForest, KMeans, Ensemble float64
}

// Scorer scores raw (unscaled) feature vectors. One Scorer is used by one
// goroutine at a time; Score must not retain raw.
type Scorer interface {
	Score(raw []float64) Scores
	// Explain appends to dst[:0] the n features that contributed most to
	// raw's score.
	Explain(dst []models.Contribution, raw []float64, n int) []models.Contribution
}

// scoredExplainer is implemented by Scorers that can explain the vector
// of their last Score call without scoring it again (the bundle's): the
// worker explains right after scoring, so it uses it when present.
type scoredExplainer interface {
	ExplainScored(dst []models.Contribution, raw []float64, sc Scores, n int) []models.Contribution
}

// batchScorer is implemented by Scorers that score a batch of vectors at
// once (the bundle's), faster than one Score call each, with results
// equal to Score's. ScoreRows scores the vectors of raw into dst
// (resized); ExplainRow explains row i of the last batch, as
// ExplainScored does. The worker uses it for batches of several records.
type batchScorer interface {
	ScoreRows(dst []Scores, raw [][]float64) []Scores
	ExplainRow(dst []models.Contribution, i int, raw []float64, sc Scores, n int) []models.Contribution
}

// Model is what the pipeline needs of a trained bundle: an identity, the
// thresholds, and a Scorer per worker. FromBundle adapts *bundle.Bundle.
type Model interface {
	Hash() string
	Thresholds() Thresholds
	NewScorer() Scorer
}

// Extractor is what the pipeline needs of a flow feature extractor
// (features.Extractor, adapted by NewFeaturesExtractor). Records are passed
// to the emit function the Extractor was built with, from inside Process
// and Flush.
type Extractor interface {
	Process(data []byte, ci capture.CaptureInfo)
	// Flush emits a final record for every open flow.
	Flush()
	Stats() FlowStats
}

// FlowStats is a snapshot of an Extractor's counters.
type FlowStats struct {
	Packets   uint64 // frames seen
	Bytes     uint64 // wire bytes seen
	Malformed uint64 // frames that failed to decode
	Flows     uint64 // final flow records emitted
	Active    int    // flows in the table now
	MaxFlows  int    // table capacity (0: unknown)
	Expired   uint64 // flows ended by timeout or TCP close
	Evicted   uint64 // flows expired early because the table was full
	// Protocols counts packets per protocol name ("tcp", "udp", ...).
	// It may be nil.
	Protocols map[string]uint64
	// Apps counts final flow records, their packets and bytes per
	// application protocol ("dns", "http", "other_tcp", ...; see
	// features.AppProto). It may be nil.
	Apps map[string]features.AppCount
}

// NewExtractorFunc builds an Extractor that passes its records to emit.
type NewExtractorFunc func(emit func(*features.Record)) Extractor
