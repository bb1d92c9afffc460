package bundle

import (
	"github.com/vigil-nids/vigil/models"
	"github.com/vigil-nids/vigil/models/kmeans"
	"github.com/vigil-nids/vigil/models/scale"
)

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

	// ScoreBatch's state: the scaled rows (kept for ExplainRow), views of
	// them, the forest's scores and each row's nearest centroid.
	raw     [][]float64 // ScoreBatch's views of its input
	rows    []float64
	views   [][]float64
	forest  []float64
	kmeans  []float64
	cluster []int
	batch   *kmeans.Batch // nil without a k-means model
}

// NewScorer returns a Scorer for b, which must have been loaded (or passed
// Save's checks): scoring an unvalidated bundle may panic.
func (b *Bundle) NewScorer() *Scorer {
	d := b.Schema.Len()
	s := &Scorer{
		b:      b,
		names:  b.Schema.Names(),
		scaled: make([]float64, d),
		clean:  make([]float64, d),
		expl:   make([]float64, d),
	}
	if b.KMeans != nil {
		s.batch = b.KMeans.NewBatch()
	}
	return s
}

// Score scales raw (see scale.Scaler.TransformTo: non-finite values are
// replaced and counted), scores it with each model present and combines
// them. Every score is finite. It does not allocate, and panics if
// len(raw) != the schema length.
func (s *Scorer) Score(raw []float64) Scores {
	x := s.b.Scaler.TransformTo(s.scaled, raw)
	return s.score(x)
}

// ScoreBatch scores the vectors stored back to back in raw (len(raw)/Dim
// of them, raw's length a multiple of the schema length) into dst, resized
// to their number, and returns it. Each element equals what Score returns
// for that vector, bit for bit, but the batch is faster: the forest walks
// its trees for eight rows at a time, and k-means measures all centroids
// in float32 first and only the candidates in float64 (kmeans.Batch).
// The scaled rows are kept for ExplainRow until the next ScoreBatch or
// ScoreRows. It allocates only to grow its buffers to a larger batch than
// before (and dst when its capacity is too small).
func (s *Scorer) ScoreBatch(dst []Scores, raw []float64) []Scores {
	d := len(s.scaled)
	if len(raw)%d != 0 {
		panic("bundle: ScoreBatch input length is not a multiple of the schema length")
	}
	n := len(raw) / d
	if cap(s.raw) < n {
		s.raw = make([][]float64, n)
	}
	s.raw = s.raw[:n]
	for i := range n {
		s.raw[i] = raw[i*d : (i+1)*d : (i+1)*d]
	}
	return s.ScoreRows(dst, s.raw)
}

// ScoreRows is ScoreBatch for vectors that are not stored back to back:
// one slice each, of the schema's length (it panics otherwise). A caller
// scoring some of the vectors it holds need not copy them together.
func (s *Scorer) ScoreRows(dst []Scores, raw [][]float64) []Scores {
	d := len(s.scaled)
	n := len(raw)
	if cap(dst) < n {
		dst = make([]Scores, n)
	}
	dst = dst[:n]
	if cap(s.views) < n {
		s.rows = make([]float64, n*d)
		s.views = make([][]float64, n)
		s.forest = make([]float64, n)
		s.kmeans = make([]float64, n)
		s.cluster = make([]int, n)
	}
	s.rows, s.views, s.forest, s.kmeans, s.cluster = s.rows[:n*d], s.views[:n], s.forest[:n], s.kmeans[:n], s.cluster[:n]
	b := s.b
	for i, x := range raw {
		if len(x) != d {
			panic("bundle: ScoreRows row length differs from the schema")
		}
		v := s.rows[i*d : (i+1)*d : (i+1)*d]
		b.Scaler.TransformTo(v, x)
		s.views[i] = v
	}
	if b.Forest != nil {
		b.Forest.ScoreRows(s.forest, s.views)
	}
	if b.KMeans != nil {
		s.batch.ScoreRows(s.kmeans, s.cluster, s.views)
	}
	for i := range s.views {
		var out Scores
		k := 0
		if b.Forest != nil {
			out.IForest = s.forest[i]
			s.sc[k], s.th[k] = out.IForest, b.Thresholds.IForest
			k++
		}
		if b.KMeans != nil {
			out.KMeans = s.kmeans[i]
			s.sc[k], s.th[k] = out.KMeans, b.Thresholds.KMeans
			k++
		}
		out.Ensemble = models.Ensemble(s.sc[:k], s.th[:k])
		dst[i] = out
	}
	return dst
}

// ExplainRow is ExplainScored for row i of the last ScoreBatch (or
// ScoreRows) call: raw
// is that row's raw vector, unchanged, and sc its Scores. It neither
// scales nor scores again, nor searches for the nearest centroid. The
// result equals Explain(dst, raw, n). It does not allocate when cap(dst) ≥
// n, and panics if i is not a row of the last batch.
func (s *Scorer) ExplainRow(dst []models.Contribution, i int, raw []float64, sc Scores, n int) []models.Contribution {
	if len(raw) != len(s.scaled) {
		panic("bundle: ExplainRow input length differs from the schema")
	}
	x := s.views[i]
	b := s.b
	if s.useForest(sc) {
		return s.top(dst, b.Forest.Explain(s.expl, x), raw, n)
	}
	shares, total := b.KMeans.ExplainClusterSum(s.expl, x, s.cluster[i])
	sca := b.Scaler
	clean := raw
	if !scale.Finite(raw) {
		clean = sca.SanitizeTo(s.clean, raw)
	}
	return models.TopNSum(dst, shares, total, s.names, clean, sca.Lo, sca.Hi, n)
}

// top ranks shares with models.TopN, showing raw values with non-finite
// ones replaced (copying raw only when it holds one).
func (s *Scorer) top(dst []models.Contribution, shares, raw []float64, n int) []models.Contribution {
	sc := s.b.Scaler
	clean := raw
	if !scale.Finite(raw) {
		clean = sc.SanitizeTo(s.clean, raw)
	}
	return models.TopN(dst, shares, s.names, clean, sc.Lo, sc.Hi, n)
}

// useForest reports whether an explanation of scores sc uses the forest:
// the model most anomalous relative to its threshold, the forest on a tie.
func (s *Scorer) useForest(sc Scores) bool {
	b := s.b
	return b.Forest != nil &&
		(b.KMeans == nil || sc.IForest/b.Thresholds.IForest >= sc.KMeans/b.Thresholds.KMeans)
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
// schema length.
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
	if s.useForest(sc) {
		shares = b.Forest.Explain(s.expl, x)
	} else {
		shares = b.KMeans.Explain(s.expl, x)
	}
	return s.top(dst, shares, raw, n)
}
