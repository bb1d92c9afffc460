package scale_test

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/vigil-nids/vigil/models/scale"
)

func Example() {
	// Two features: a packet count (log1p'd) and a ratio.
	X := mat.NewDense(4, 2, []float64{
		0, 0.2,
		1, 0.4,
		3, 0.6,
		7, 0.8,
	})
	s, err := scale.Fit(X, scale.Config{Method: scale.Robust, Log1p: []bool{true, false}})
	if err != nil {
		panic(err)
	}
	dst := make([]float64, s.Dim())
	fmt.Printf("%.3f\n", s.TransformTo(dst, []float64{3, 0.5}))
	fmt.Printf("%.3f\n", s.TransformTo(dst, []float64{math.NaN(), math.Inf(1)}))
	// Feature 0 in log1p space is ln(1, 2, 4, 8) = (0, 1, 2, 3)·ln 2: median
	// 1.5 ln 2, IQR 1.5 ln 2, so 3 → (2 − 1.5)/1.5 = 1/3, and NaN → the raw
	// median 2 → (log2(3) − 1.5)/1.5 ≈ 0.057. Feature 1: median 0.5, IQR
	// 0.3, so 0.5 → 0 and +Inf → the baseline max 0.8 → 1.

	// Output:
	// [0.333 0.000]
	// [0.057 1.000]
}
