// Package models holds what every model shares: the Scorer interface,
// threshold calibration, the ensemble score and explanations. The models
// themselves live in models/iforest and models/kmeans, the scaler in
// models/scale and the model file in models/bundle.
//
// Scores: every model maps a scaled feature vector to a non-negative score,
// higher meaning more anomalous (isolation forest: 2^(−E[h(x)]/c(ψ)), in
// (0, 1]; k-means: distance to the nearest centroid in scaled units,
// optionally divided by that cluster's radius). Each model's threshold
// is calibrated on held-out baseline scores for a target false-positive
// rate (Calibrate; train extrapolates the tail instead when too few
// baseline flows lie in it); a score alerts when it is at least its
// threshold. Ensemble divides each model's score by its threshold and takes
// the mean, so the models count alike whatever their units; the ensemble
// has its own threshold, calibrated the same way on Ensemble scores.
//
// Explanations: a model reports each feature's contribution to a score and
// TopN turns them into the n largest Contributions, each with its raw value
// and baseline range.
//
// Allocation: Calibrate allocates a sorted copy of its input (it runs once,
// at training). Ensemble does not allocate; TopN does not allocate when dst
// has capacity n.
package models
