package train

import (
	"math"
	"sort"

	"github.com/vigil-nids/vigil/models"
	"github.com/vigil-nids/vigil/models/bundle"
)

// calibrateThresholds sets b's thresholds from the held-out scores: each
// model's, then the ensemble's, whose scores are the models' scores
// relative to their thresholds.
func (f *fitter) calibrateThresholds(b *bundle.Bundle, h *heldOut, flows int) {
	fpr := f.cfg.TargetFPR
	if b.Forest != nil {
		b.Thresholds.IForest = positive(calibrate(f.flowMax(h, func(i int) float64 { return h.forest[i] }), flows, fpr))
	}
	if b.KMeans != nil {
		b.Thresholds.KMeans = positive(calibrate(f.flowMax(h, func(i int) float64 { return h.kmeans[i] }), flows, fpr))
	}
	var sc, th []float64
	if b.Forest != nil {
		th = append(th, b.Thresholds.IForest)
	}
	if b.KMeans != nil {
		th = append(th, b.Thresholds.KMeans)
	}
	b.Thresholds.Ensemble = positive(calibrate(f.flowMax(h, func(i int) float64 {
		sc = sc[:0]
		if b.Forest != nil {
			sc = append(sc, h.forest[i])
		}
		if b.KMeans != nil {
			sc = append(sc, h.kmeans[i])
		}
		return models.Ensemble(sc, th)
	}), flows, fpr))
}

// flowMax returns each held-out flow's highest score (per cross-fitting
// repeat): thresholds are calibrated on these, as detect alerts on a flow
// when any of its records (interim or final) reaches the threshold.
func (f *fitter) flowMax(h *heldOut, score func(slot int) float64) []float64 {
	type flowRun struct {
		group  uint64
		repeat int
	}
	best := map[flowRun]float64{}
	for _, slot := range h.slots {
		s := score(slot)
		key := flowRun{f.groups[slot%f.n], slot / f.n}
		if v, ok := best[key]; !ok || s > v {
			best[key] = s
		}
	}
	out := make([]float64, 0, len(best))
	for _, v := range best {
		out = append(out, v)
	}
	return out
}

// calibrate returns the alert threshold for held-out baseline flow scores.
// scores may hold several scores per flow (repeated cross-fitting); flows
// is the number of distinct flows, which is what decides whether the tail
// holds enough of them to be read directly.
// With enough flows in the tail (at least 5 expected above the threshold)
// it is models.Calibrate: the empirical (1 − fpr) quantile plus a margin.
// With fewer — a small baseline, where that quantile is the maximum and one
// odd baseline flow decides it — the quantile is extrapolated from the
// tail instead (peaks over threshold, Pickands–Balkema–de Haan with an
// exponential excess distribution, as netspot's SPOT does): u is the score
// with K = max(10, n/20) flows above it, the excesses over u are taken as
// exponential with scale β, and the threshold is u + β·ln(K / (n·fpr)).
// β is estimated from the lower 90 % of the excesses (their mean, divided
// by what it is for an exponential), so a few extreme baseline flows
// (k-means distances are unbounded) cannot drag the threshold to their own
// height, and, using all of them rather than one order statistic (a
// median), moves less with the seed. The price: a few genuinely odd
// baseline flows may lie above the threshold, which is what a rate of fpr
// on new data means anyway.
//
// trimmedExpMean is the mean of an exponential variable with scale 1 below
// its 90th percentile (ln 10).
var trimmedExpMean = (1 - 0.1*(1+math.Ln10)) / 0.9

func calibrate(scores []float64, flows int, fpr float64) float64 {
	n := len(scores)
	if float64(flows)*fpr >= 5 || n < 40 {
		return models.Calibrate(scores, fpr)
	}
	s := append([]float64(nil), scores...)
	sort.Float64s(s)
	k := max(10, n/20)
	u := s[n-1-k]
	ex := make([]float64, 0, k)
	for _, v := range s[n-k:] {
		ex = append(ex, v-u)
	}
	// β from the lower 90 % of the excesses: their mean is
	// β·(1 − 0.1·(1 + ln 10))/0.9 for exponential excesses, so dividing by
	// that factor estimates β while the top tenth (k-means distances are
	// unbounded) has no say.
	m := len(ex) * 9 / 10
	var sum float64
	for _, v := range ex[:m] {
		sum += v
	}
	beta := sum / float64(m) / trimmedExpMean
	t := u + beta*math.Log(float64(k)/(float64(n)*fpr))
	if !(t > u) { // all top scores tie: fall back to the order statistic
		return models.Calibrate(scores, fpr)
	}
	return t
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
