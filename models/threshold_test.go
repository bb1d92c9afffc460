package models

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestCalibrate(t *testing.T) {
	seq := func(n int) []float64 {
		s := make([]float64, n)
		for i := range s {
			s[n-1-i] = float64(i + 1) // descending: Calibrate must sort
		}
		return s
	}
	nan := math.NaN()
	tests := []struct {
		name   string
		scores []float64
		fpr    float64
		want   float64
	}{
		// n = 1000, m = 1: q is the 2nd largest (999), gap 999 − 998.
		{"1..1000 fpr 0.001", seq(1000), 0.001, 1000},
		// m = 10: q = 990, the 11th largest; gap 1.
		{"1..1000 fpr 0.01", seq(1000), 0.01, 991},
		// n·fpr < 1: the max plus the gap between the two largest.
		{"tiny", []float64{0.1, 0.5, 0.3}, 0.001, 0.7},
		{"fpr 0 is max plus gap", []float64{0.1, 0.5, 0.3}, 0, 0.7},
		{"one score", []float64{2}, 0.001, 2 + 2e-9},
		{"ties", []float64{1, 1, 1}, 0.001, 1 + 1e-9},
		{"zeros", []float64{0, 0, 0, 0}, 0.1, 1e-9},
		{"NaN ignored", []float64{nan, 0.1, nan, 0.5, 0.3}, 0.001, 0.7},
		{"empty", nil, 0.001, math.Inf(1)},
		{"all NaN", []float64{nan}, 0.001, math.Inf(1)},
	}
	for _, tt := range tests {
		got := Calibrate(tt.scores, tt.fpr)
		if math.Abs(got-tt.want) > 1e-12*math.Max(1, math.Abs(tt.want)) && got != tt.want {
			t.Errorf("%s: Calibrate = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestCalibrateHeldOut checks the purpose: on fresh samples from the
// baseline distribution, the exceedance rate is close to (and not above by
// much) the target, and on the calibration sample it never exceeds it.
func TestCalibrateHeldOut(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, fpr := range []float64{0.01, 0.001} {
		const n = 200000
		cal := make([]float64, n)
		for i := range cal {
			cal[i] = rng.ExpFloat64()
		}
		th := Calibrate(cal, fpr)
		above := func(s []float64) float64 {
			c := 0
			for _, v := range s {
				if v > th {
					c++
				}
			}
			return float64(c) / float64(len(s))
		}
		if r := above(cal); r > fpr {
			t.Errorf("fpr %v: %v of the calibration scores above the threshold", fpr, r)
		}
		fresh := make([]float64, n)
		for i := range fresh {
			fresh[i] = rng.ExpFloat64()
		}
		// Exact tail of Exp(1): P(X > th) = e^−th.
		if p := math.Exp(-th); p > 1.3*fpr || p < 0.6*fpr {
			t.Errorf("fpr %v: threshold %v has true exceedance %v", fpr, th, p)
		}
		if r := above(fresh); r > 1.5*fpr {
			t.Errorf("fpr %v: %v of fresh scores above the threshold", fpr, r)
		}
	}
}

func TestCalibratePanics(t *testing.T) {
	for _, fpr := range []float64{1, -0.1, math.NaN(), 2} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Calibrate(…, %v) did not panic", fpr)
				}
			}()
			Calibrate([]float64{1}, fpr)
		}()
	}
}

func TestEnsemble(t *testing.T) {
	tests := []struct {
		scores, th []float64
		want       float64
	}{
		{[]float64{0.6, 2}, []float64{0.5, 4}, 0.85},
		{[]float64{1.5, 0}, []float64{0.5, 4}, 1.5},
		{[]float64{0.25, 2}, []float64{0.5, 4}, 0.5},
		{[]float64{math.NaN(), 3}, []float64{0.5, 4}, 0.75},
		{[]float64{0.3}, []float64{0.6}, 0.5},
		{nil, nil, 0},
	}
	for _, tt := range tests {
		if got := Ensemble(tt.scores, tt.th); math.Abs(got-tt.want) > 1e-15 {
			t.Errorf("Ensemble(%v, %v) = %v, want %v", tt.scores, tt.th, got, tt.want)
		}
	}
	s, th := []float64{1, 2}, []float64{3, 4}
	if n := testing.AllocsPerRun(100, func() { Ensemble(s, th) }); n != 0 {
		t.Errorf("Ensemble allocates %v times", n)
	}
	for _, c := range [][2][]float64{{{1}, {0}}, {{1}, {-1}}, {{1, 2}, {1}}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Ensemble(%v, %v) did not panic", c[0], c[1])
				}
			}()
			Ensemble(c[0], c[1])
		}()
	}
}
