package train

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/vigil-nids/vigil/features"
	"github.com/vigil-nids/vigil/models/kmeans"
)

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
