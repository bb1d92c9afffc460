// Package models holds what every model shares: the Scorer interface,
// threshold calibration and the ensemble score. The models themselves live
// in models/iforest and models/kmeans, the scaler in models/scale and the
// model file in models/bundle.
package models
