package iforest_test

import (
	"fmt"

	"gonum.org/v1/gonum/mat"

	"github.com/vigil-nids/vigil/models/iforest"
)

func Example() {
	// A 20×20 grid of inliers on [0, 1]², and one point far away.
	var data []float64
	for i := range 20 {
		for j := range 20 {
			data = append(data, float64(i)/19, float64(j)/19)
		}
	}
	X := mat.NewDense(400, 2, data)
	f, err := iforest.Fit(X, iforest.Config{Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	outlier := []float64{4, 4}
	fmt.Println("outlier above 0.6:", f.Score(outlier) > 0.6)
	fmt.Println("centre below 0.5:", f.Score([]float64{0.5, 0.5}) < 0.5)
	e := f.Explain(nil, []float64{0.5, 6})
	fmt.Println("(0.5, 6) explained mostly by feature 1:", e[1] > e[0])
	// Output:
	// outlier above 0.6: true
	// centre below 0.5: true
	// (0.5, 6) explained mostly by feature 1: true
}
