package models

// Scorer returns an anomaly score for one scaled feature vector; higher is
// more anomalous. Score must not allocate and must be safe for concurrent
// use. It panics if len(x) != Dim().
type Scorer interface {
	Score(x []float64) float64
	Dim() int
}
