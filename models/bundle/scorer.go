package bundle

import "github.com/vigil-nids/vigil/models"

// Scores are one vector's scores. A model absent from the bundle scores 0.
type Scores struct {
	IForest  float64 `json:"iforest"`
	KMeans   float64 `json:"kmeans"`
	Ensemble float64 `json:"ensemble"` // models.Ensemble of the present models
}

// Scorer scores raw feature vectors with a bundle. It owns scratch buffers,
// so it is for one goroutine at a time; make one per goroutine with
// NewScorer (the bundle itself is shared and read-only).
type Scorer struct {
	b      *Bundle
	names  []string
	scaled []float64
	clean  []float64
	expl   []float64
	sc, th [2]float64
}

// NewScorer returns a Scorer for b, which must have been loaded (or passed
// Save's checks): scoring an unvalidated bundle may panic.
func (b *Bundle) NewScorer() *Scorer {
	d := b.Schema.Len()
	return &Scorer{
		b:      b,
		names:  b.Schema.Names(),
		scaled: make([]float64, d),
		clean:  make([]float64, d),
		expl:   make([]float64, d),
	}
}

// Score scales raw (see scale.Scaler.TransformTo: non-finite values are
// replaced and counted), scores it with each model present and combines
// them. Every score is finite. It does not allocate, and panics if
// len(raw) != the schema length.
func (s *Scorer) Score(raw []float64) Scores {
	x := s.b.Scaler.TransformTo(s.scaled, raw)
	return s.score(x)
}

func (s *Scorer) score(x []float64) Scores {
	var out Scores
	n := 0
	if f := s.b.Forest; f != nil {
		out.IForest = f.Score(x)
		s.sc[n], s.th[n] = out.IForest, s.b.Thresholds.IForest
		n++
	}
	if k := s.b.KMeans; k != nil {
		out.KMeans = k.Score(x)
		s.sc[n], s.th[n] = out.KMeans, s.b.Thresholds.KMeans
		n++
	}
	out.Ensemble = models.Ensemble(s.sc[:n], s.th[:n])
	return out
}

// Explain writes into dst the n features that contributed most to raw's
// score under the model that is most anomalous relative to its threshold
// (score / threshold; the forest on a tie), with their raw values
// (non-finite ones shown as replaced) and baseline ranges, and returns it.
// It does not allocate when cap(dst) ≥ n, and panics if len(raw) != the
// schema length. Non-finite inputs are counted again in the scaler's
// Clamped (once per Score and once per Explain).
func (s *Scorer) Explain(dst []models.Contribution, raw []float64, n int) []models.Contribution {
	x := s.b.Scaler.TransformTo(s.scaled, raw)
	return s.explain(dst, raw, x, s.score(x), n)
}

// ExplainScored is Explain for the vector most recently passed to Score,
// with the Scores that call returned: it reuses the scaled vector the
// Scorer kept, so it neither scales nor scores again (detect explains
// every alert, and the repeated scoring was most of Explain's cost). The
// result equals Explain(dst, raw, n) when raw is that vector, unchanged,
// and sc is what Score returned for it; calling it otherwise explains the
// wrong vector. It does not count non-finite inputs again. It does not
// allocate when cap(dst) ≥ n.
func (s *Scorer) ExplainScored(dst []models.Contribution, raw []float64, sc Scores, n int) []models.Contribution {
	if len(raw) != len(s.scaled) {
		panic("bundle: ExplainScored input length differs from the schema")
	}
	return s.explain(dst, raw, s.scaled, sc, n)
}

// explain explains scaled vector x (of raw) with its scores sc.
func (s *Scorer) explain(dst []models.Contribution, raw, x []float64, sc Scores, n int) []models.Contribution {
	b := s.b
	var shares []float64
	useForest := b.Forest != nil &&
		(b.KMeans == nil || sc.IForest/b.Thresholds.IForest >= sc.KMeans/b.Thresholds.KMeans)
	if useForest {
		shares = b.Forest.Explain(s.expl, x)
	} else {
		shares = b.KMeans.Explain(s.expl, x)
	}
	clean := b.Scaler.SanitizeTo(s.clean, raw)
	return models.TopN(dst, shares, s.names, clean, b.Scaler.Lo, b.Scaler.Hi, n)
}
