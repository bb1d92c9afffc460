package train

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/vigil-nids/vigil/features"
	"github.com/vigil-nids/vigil/models"
	"github.com/vigil-nids/vigil/models/kmeans"
)

// TestCalibrateTailUnbiased: on pure exponential scores the tail rule's
// extrapolated quantile is close to the true one (the trimmed mean of the
// excesses is corrected for the trimming; without the correction it falls
// a quarter short of β), and the top tenth of the tail has no say in it.
func TestCalibrateTailUnbiased(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	const beta, fpr = 3.0, 1e-4
	var sum float64
	const runs = 20
	for range runs {
		s := make([]float64, 4000)
		for i := range s {
			s[i] = beta * rng.ExpFloat64()
		}
		sum += calibrate(s, len(s), fpr)
	}
	want := beta * math.Log(1/fpr)
	if got := sum / runs; math.Abs(got-want) > 0.05*want {
		t.Errorf("mean threshold over %d samples %.3f, want %.3f (β·ln(1/fpr)) within 5%%", runs, got, want)
	}
	s := make([]float64, 4000)
	for i := range s {
		s[i] = beta * rng.ExpFloat64()
	}
	th := calibrate(s, len(s), fpr)
	slices.Sort(s)
	for i := range 15 { // K = 200 excesses: the top 15 become absurd
		s[len(s)-1-i] *= 1e6
	}
	if th2 := calibrate(s, len(s), fpr); th2 != th {
		t.Errorf("the 15 highest scores grown a million-fold moved the threshold from %.3f to %.3f", th, th2)
	}
}

func TestCalibrateTail(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	// Exponential(1) scores: the true 0.999 quantile is ln(1000) ≈ 6.91.
	small := make([]float64, 700)
	for i := range small {
		small[i] = rng.ExpFloat64()
	}
	th := calibrate(small, len(small), 0.001)
	if th < 4.5 || th > 10 {
		t.Fatalf("small exponential sample: threshold %.3f, want near ln(1000) = 6.91", th)
	}
	// One absurd baseline flow must not drag the threshold to its height.
	withOutlier := append(append([]float64(nil), small...), 1e4)
	if th2 := calibrate(withOutlier, len(withOutlier), 0.001); th2 > 2*th {
		t.Fatalf("one outlier moved the threshold from %.3f to %.3f", th, th2)
	}
	// With enough tail samples it is the documented order statistic.
	big := make([]float64, 20000)
	for i := range big {
		big[i] = rng.ExpFloat64()
	}
	if got, want := calibrate(big, len(big), 0.001), models.Calibrate(big, 0.001); got != want {
		t.Fatalf("large sample: %v, want models.Calibrate's %v", got, want)
	}
	// Measured exceedance on fresh data from the same distribution.
	fresh := 0
	for i := 0; i < 200000; i++ {
		if rng.ExpFloat64() >= th {
			fresh++
		}
	}
	if r := float64(fresh) / 200000; r > 0.01 {
		t.Fatalf("fresh exceedance %.4f, want around 0.001", r)
	}
}

// TestFitCrossFitted checks that a small baseline is cross-fitted (every
// row scored out of fold) and that the thresholds hold on fresh data.
func TestFitCrossFitted(t *testing.T) {
	schema := &features.Schema{Name: "t", Version: 1, Features: []features.Feature{{Name: "a"}, {Name: "b"}}}
	rng := rand.New(rand.NewPCG(3, 4))
	res := NewReservoir(2, 10000, 1)
	for g := 0; g < 400; g++ {
		res.AddGroup([]float64{rng.NormFloat64(), rng.NormFloat64()}, uint64(g))
	}
	b, rep, err := Fit(res, schema, Config{Seed: 5, KMeans: kmeansK(3)})
	if err != nil {
		t.Fatal(err)
	}
	if rep.HeldOut != 400 || rep.Rows != 400 {
		t.Fatalf("small baseline should be cross-fitted: rows %d held out %d", rep.Rows, rep.HeldOut)
	}
	// Fresh points from the same distribution rarely alert; a far point does.
	s := b.NewScorer()
	alerts := 0
	for i := 0; i < 5000; i++ {
		if s.Score([]float64{rng.NormFloat64(), rng.NormFloat64()}).Ensemble >= b.Thresholds.Ensemble {
			alerts++
		}
	}
	if r := float64(alerts) / 5000; r > 0.01 {
		t.Fatalf("fresh baseline alert rate %.4f", r)
	}
	if s.Score([]float64{8, -8}).Ensemble < b.Thresholds.Ensemble {
		t.Fatal("a point 8 sigma away does not alert")
	}
}

func kmeansK(k int) kmeans.Config { return kmeans.Config{K: k} }

func TestCrossFitRepeats(t *testing.T) {
	for _, tc := range []struct {
		flows int
		fpr   float64
		want  int
	}{
		{726, 0.001, 7}, // the lab baseline: 5/0.726 → 7 splits
		{400, 0.001, 8}, // capped
		{5000, 0.001, 1},
		{2000, 0.01, 1},
	} {
		if got := crossFitRepeats(tc.flows, tc.fpr); got != tc.want {
			t.Errorf("crossFitRepeats(%d, %v) = %d, want %d", tc.flows, tc.fpr, got, tc.want)
		}
	}
}

// TestCrossFitRepeatsSteadierThresholds: on a small baseline, pooling the
// held-out scores of several fold splits moves the calibrated k-means
// threshold less from seed to seed than a single split does.
func TestCrossFitRepeatsSteadierThresholds(t *testing.T) {
	schema := &features.Schema{Name: "t", Version: 1, Features: []features.Feature{{Name: "a"}, {Name: "b"}, {Name: "c"}}}
	rng := rand.New(rand.NewPCG(9, 10))
	res := NewReservoir(3, 10000, 1)
	for g := 0; g < 600; g++ {
		res.AddGroup([]float64{rng.NormFloat64(), rng.ExpFloat64(), rng.NormFloat64() * 3}, uint64(g))
	}
	cv := func(repeats int) float64 {
		var sum, sq float64
		const seeds = 8
		for seed := range uint64(seeds) {
			_, rep, err := Fit(res, schema, Config{Seed: seed + 1, KMeans: kmeansK(4), NoForest: true, CrossFitRepeats: repeats})
			if err != nil {
				t.Fatal(err)
			}
			if rep.CrossFitRepeats != repeats {
				t.Fatalf("report says %d repeats, asked for %d", rep.CrossFitRepeats, repeats)
			}
			th := rep.Thresholds.KMeans
			sum += th
			sq += th * th
		}
		mean := sum / seeds
		return math.Sqrt(max(0, sq/seeds-mean*mean)) / mean
	}
	one, eight := cv(1), cv(8)
	t.Logf("k-means threshold CV over seeds: one split %.4f, eight splits %.4f", one, eight)
	if !(eight < one) {
		t.Errorf("eight splits CV %.4f, one split %.4f: averaging did not steady the threshold", eight, one)
	}
}
