package models

import (
	"math"
	"slices"
)

// DefaultTargetFPR is the false-positive rate thresholds are calibrated
// for unless configured otherwise.
const DefaultTargetFPR = 0.001

// Calibrate returns an alert threshold for a model from its scores on
// held-out baseline data: a score alerts when it is at least the
// threshold. It allocates a sorted copy of scores; NaN scores are ignored.
//
// The threshold is q + Δ. q is the (1 − targetFPR) quantile taken as an
// order statistic: with n scores sorted ascending and m = ⌊targetFPR·n⌋, q
// is the (m+1)-th largest, so at most m baseline scores (a fraction ≤
// targetFPR) are above it. Δ is the spacing between q and the next lower
// score, the local width of the tail.
//
// Why that margin: the empirical quantile of n samples undershoots the true
// one on new data, the more so the fewer samples lie beyond it. For a tail
// that is roughly exponential with scale β, the spacing between the j-th and
// (j+1)-th largest of n samples has expectation β/j, so Δ ≈ β/(m+1) and
// moving the threshold up by Δ lowers the exceedance rate by a factor
// e^(−1/(m+1)): a large correction when the estimate rests on a handful of
// tail samples and a vanishing one when it rests on many, where the
// quantile is already accurate (its relative error is about 1/√m).
//
// Tiny samples: when n·targetFPR < 1, m = 0 and q is the maximum baseline
// score; the maximum of n samples is exceeded by a new baseline score with
// probability about 1/(n+1), more than the target, and the margin (the gap
// between the two largest scores) is the only guard. Calibrate on at least
// 1/targetFPR held-out scores (1000 for the default) to honour the target.
//
// Δ is at least 1e-9·max(1, |q|), so the threshold is strictly above q even
// when the top scores tie (or n = 1) and a positive q keeps a positive
// threshold. With no scores at all (empty or all NaN) Calibrate
// returns +Inf: nothing alerts.
//
// Calibrate panics if targetFPR is NaN or outside [0, 1); 0 means the
// maximum plus margin.
func Calibrate(scores []float64, targetFPR float64) float64 {
	if !(targetFPR >= 0 && targetFPR < 1) {
		panic("models: target FPR outside [0, 1)")
	}
	s := make([]float64, 0, len(scores))
	for _, v := range scores {
		if !math.IsNaN(v) {
			s = append(s, v)
		}
	}
	n := len(s)
	if n == 0 {
		return math.Inf(1)
	}
	slices.Sort(s)
	m := int(math.Floor(targetFPR * float64(n)))
	if m > n-1 {
		m = n - 1
	}
	k := n - 1 - m
	q := s[k]
	if math.IsInf(q, 0) {
		return q
	}
	var gap float64
	if k > 0 && !math.IsInf(s[k-1], 0) {
		gap = q - s[k-1]
	}
	if eps := 1e-9 * math.Max(1, math.Abs(q)); !(gap >= eps) {
		gap = eps
	}
	return q + gap
}

// Ensemble combines model scores into one: the mean of score_i /
// threshold_i. Each ratio is 1 at its model's threshold, so the models
// count alike whatever their units, and the ensemble gets its own
// threshold, calibrated with Calibrate on Ensemble scores of held-out
// baseline data. The mean rather than the maximum: a flow that both models
// find odd is a better bet than one that only one finds odd, and the mean
// ranked flows better than the maximum on every data set measured (see
// CHANGELOG.md). Scores are non-negative for every vigil model;
// NaN scores are left out of the mean and the result is at least 0. It
// does not allocate.
//
// It panics if the lengths differ or a threshold is not positive (bundles
// are validated so that neither can happen).
func Ensemble(scores, thresholds []float64) float64 {
	if len(scores) != len(thresholds) {
		panic("models: scores and thresholds lengths differ")
	}
	var sum float64
	n := 0
	for i, s := range scores {
		t := thresholds[i]
		if !(t > 0) {
			panic("models: non-positive threshold")
		}
		if math.IsNaN(s) {
			continue
		}
		n++
		if r := s / t; r > 0 {
			sum += r
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}
