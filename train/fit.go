package train

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/vigil-nids/vigil/features"
	"github.com/vigil-nids/vigil/models"
	"github.com/vigil-nids/vigil/models/bundle"
	"github.com/vigil-nids/vigil/models/iforest"
	"github.com/vigil-nids/vigil/models/kmeans"
	"github.com/vigil-nids/vigil/models/scale"
)

// Config configures Fit. Zero fields take the defaults shown.
type Config struct {
	// MinRows is the fewest rows Fit accepts; default 100.
	MinRows int
	// HoldOut is the fraction of rows kept out of fitting to calibrate the
	// thresholds on; default 0.25 (at least 1 row, at most n - MinRows/2).
	HoldOut float64
	// TargetFPR is the false-positive rate the thresholds aim for on
	// baseline data; default models.DefaultTargetFPR.
	TargetFPR float64
	Seed      uint64
	// Scale selects the scaler; log1p is applied to the schema's count
	// features unless NoLog1p.
	Scale   scale.Method
	NoLog1p bool
	Forest  iforest.Config // Seed is derived from Seed
	KMeans  kmeans.Config  // K 0 means choose k among KRange (auto)
	KRange  []int          // default 2..12
	// NoForest and NoKMeans leave a model out.
	NoForest, NoKMeans bool
	// Clock times the stages for the bundle's metadata; nil records no timings.
	Clock func() time.Time
}

// ErrTooFew is returned when there are too few rows to fit.
var ErrTooFew = errors.New("too few baseline rows")

// Report tells what Fit did.
type Report struct {
	Rows, HeldOut int
	K             int
	KReports      []kmeans.KReport // when k was chosen automatically
	Thresholds    bundle.Thresholds
	Timings       []bundle.Timing
}

// Fit fits a bundle on the rows of res, whose columns follow schema. The
// returned bundle has Schema, Scaler, models, Thresholds, TargetFPR and
// Meta.Rows/HeldOut/Seed/Timings set; the caller adds the rest of Meta
// (inputs, counts, created time, version) and the extractor settings.
func Fit(res *Reservoir, schema *features.Schema, cfg Config) (*bundle.Bundle, Report, error) {
	var rep Report
	if cfg.MinRows <= 0 {
		cfg.MinRows = 100
	}
	if cfg.HoldOut <= 0 || cfg.HoldOut >= 1 {
		cfg.HoldOut = 0.25
	}
	if cfg.TargetFPR <= 0 {
		cfg.TargetFPR = models.DefaultTargetFPR
	}
	if cfg.NoForest && cfg.NoKMeans {
		return nil, rep, errors.New("train: no model selected")
	}
	d := schema.Len()
	if res.Dim() != d {
		return nil, rep, fmt.Errorf("train: rows have %d columns, schema %q has %d", res.Dim(), schema.Name, d)
	}
	n := res.Len()
	if n < cfg.MinRows {
		return nil, rep, fmt.Errorf("%w: found %d, need at least %d", ErrTooFew, n, cfg.MinRows)
	}
	stage := newStager(cfg.Clock)

	// Split: a seeded permutation; the first nHold rows are held out.
	nHold := int(math.Ceil(cfg.HoldOut * float64(n)))
	nHold = max(1, min(nHold, n-cfg.MinRows/2))
	perm := rand.New(rand.NewPCG(cfg.Seed, 0x73706c6974)).Perm(n)
	rows := res.Rows()
	fitData := make([]float64, 0, (n-nHold)*d)
	for _, i := range perm[nHold:] {
		fitData = append(fitData, rows[i*d:(i+1)*d]...)
	}
	X := mat.NewDense(n-nHold, d, fitData)
	rep.Rows, rep.HeldOut = n-nHold, nHold

	var log1p []bool
	if !cfg.NoLog1p {
		log1p = make([]bool, d)
		for j, f := range schema.Features {
			log1p[j] = f.Count
		}
	}
	sc, err := scale.Fit(X, scale.Config{Method: cfg.Scale, Log1p: log1p})
	if err != nil {
		return nil, rep, fmt.Errorf("train: scaler: %w", err)
	}
	for i := 0; i < X.RawMatrix().Rows; i++ {
		r := fitData[i*d : (i+1)*d]
		sc.TransformTo(r, r) // in place: the raw copy is no longer needed
	}
	stage.done("scale")

	b := &bundle.Bundle{Schema: *schema, Scaler: sc, TargetFPR: cfg.TargetFPR}
	if !cfg.NoForest {
		fc := cfg.Forest
		fc.Seed = cfg.Seed ^ 0x666f72657374
		f, err := iforest.Fit(X, fc)
		if err != nil {
			return nil, rep, fmt.Errorf("train: isolation forest: %w", err)
		}
		b.Forest = f
		stage.done("iforest")
	}
	if !cfg.NoKMeans {
		kc := cfg.KMeans
		kc.Seed = cfg.Seed ^ 0x6b6d65616e73
		if kc.K <= 0 {
			ks := cfg.KRange
			if len(ks) == 0 {
				for k := 2; k <= 12; k++ {
					ks = append(ks, k)
				}
			}
			ks = clampKs(ks, X.RawMatrix().Rows)
			reports, k, err := kmeans.ChooseK(X, ks, kc, 0)
			if err != nil {
				return nil, rep, fmt.Errorf("train: choosing k: %w", err)
			}
			rep.KReports, kc.K = reports, k
			stage.done("choose-k")
		}
		kc.K = min(kc.K, X.RawMatrix().Rows)
		m, err := kmeans.Fit(X, kc)
		if err != nil {
			return nil, rep, fmt.Errorf("train: k-means: %w", err)
		}
		b.KMeans = m
		rep.K = kc.K
		stage.done("kmeans")
	}

	// Calibrate on the held-out rows, scored exactly as detect scores them.
	x := make([]float64, d)
	var fs, ks []float64
	for _, i := range perm[:nHold] {
		sc.TransformTo(x, rows[i*d:(i+1)*d])
		if b.Forest != nil {
			fs = append(fs, b.Forest.Score(x))
		}
		if b.KMeans != nil {
			ks = append(ks, b.KMeans.Score(x))
		}
	}
	if b.Forest != nil {
		b.Thresholds.IForest = positive(models.Calibrate(fs, cfg.TargetFPR))
	}
	if b.KMeans != nil {
		b.Thresholds.KMeans = positive(models.Calibrate(ks, cfg.TargetFPR))
	}
	s := b.NewScorer()
	es := make([]float64, 0, nHold)
	for _, i := range perm[:nHold] {
		es = append(es, s.Score(rows[i*d:(i+1)*d]).Ensemble)
	}
	b.Thresholds.Ensemble = positive(models.Calibrate(es, cfg.TargetFPR))
	stage.done("calibrate")

	rep.Thresholds = b.Thresholds
	rep.Timings = stage.timings
	b.Meta.Rows, b.Meta.HeldOut, b.Meta.Seed = int64(rep.Rows), int64(rep.HeldOut), cfg.Seed
	b.Meta.Timings = stage.timings
	return b, rep, nil
}

// positive keeps a threshold usable as a divisor: a model whose held-out
// scores are all zero (k-means on a baseline of identical rows) would
// otherwise calibrate to a tiny or zero threshold.
func positive(t float64) float64 {
	if !(t > 1e-12) {
		return 1e-12
	}
	return t
}

func clampKs(ks []int, n int) []int {
	var out []int
	for _, k := range ks {
		if k >= 2 && k < n {
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		out = []int{min(2, n)}
	}
	return out
}

type stager struct {
	clock   func() time.Time
	last    time.Time
	timings []bundle.Timing
}

func newStager(clock func() time.Time) *stager {
	s := &stager{clock: clock}
	if clock != nil {
		s.last = clock()
	}
	return s
}

func (s *stager) done(stage string) {
	if s.clock == nil {
		return
	}
	now := s.clock()
	s.timings = append(s.timings, bundle.Timing{Stage: stage, Seconds: now.Sub(s.last).Seconds()})
	s.last = now
}
