package kmeans_test

import (
	"fmt"

	"gonum.org/v1/gonum/mat"

	"github.com/vigil-nids/vigil/models/kmeans"
)

func Example() {
	// Two tight groups of scaled feature vectors (2 features).
	X := mat.NewDense(8, 2, []float64{
		0.0, 0.0,
		0.1, 0.0,
		0.0, 0.1,
		0.1, 0.1,
		5.0, 5.0,
		5.1, 5.0,
		5.0, 5.1,
		5.1, 5.1,
	})
	m, err := kmeans.Fit(X, kmeans.Config{K: 2, Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, x := range [][]float64{{0.05, 0.05}, {5.05, 5.05}, {0.05, 3.05}} {
		j, _ := m.Nearest(x)
		c := m.Centroid(j)
		fmt.Printf("x=%v centroid=(%.2f, %.2f) score=%.2f\n", x, c[0], c[1], m.Score(x))
	}
	fmt.Printf("shares of the squared distance: %.2f\n", m.Explain(nil, []float64{0.05, 3.05}))
	// Output:
	// x=[0.05 0.05] centroid=(0.05, 0.05) score=0.00
	// x=[5.05 5.05] centroid=(5.05, 5.05) score=0.00
	// x=[0.05 3.05] centroid=(0.05, 0.05) score=3.00
	// shares of the squared distance: [0.00 1.00]
}
