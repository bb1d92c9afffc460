package train

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/vigil-nids/vigil/models"
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
