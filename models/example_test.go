package models_test

import (
	"fmt"

	"github.com/vigil-nids/vigil/models"
)

func ExampleCalibrate() {
	// 1000 held-out baseline scores 0.001, 0.002, …, 1.000.
	scores := make([]float64, 1000)
	for i := range scores {
		scores[i] = float64(i+1) / 1000
	}
	// Target FPR 0.01: m = 10 scores may lie above q, the 11th largest
	// (0.990); the margin is the gap to the next lower score (0.001).
	fmt.Printf("%.3f\n", models.Calibrate(scores, 0.01))
	// Fewer scores than 1/FPR: the max plus the gap between the top two.
	fmt.Printf("%.1f\n", models.Calibrate([]float64{0.2, 0.5, 0.4}, 0.001))
	// Output:
	// 0.991
	// 0.6
}

func ExampleEnsemble() {
	thresholds := []float64{0.62, 3.5} // isolation forest, k-means
	fmt.Printf("%.2f\n", models.Ensemble([]float64{0.31, 1.75}, thresholds))
	fmt.Printf("%.2f\n", models.Ensemble([]float64{0.31, 7.0}, thresholds))
	// Output:
	// 0.50
	// 1.25
}
