// Package scale is the first step of the models stage: it maps raw feature
// vectors to the scaled vectors every model sees.
//
// It owns the Scaler: per-feature centre and scale fitted on baseline data
// (Standard: mean and population standard deviation; Robust: median and
// interquartile range), an optional sign-preserving log1p for count-like
// features, and each feature's raw baseline statistics (median, min, max,
// 1st and 99th percentiles) used to repair non-finite inputs and to show
// baseline ranges in explanations.
//
// Scaled value: z = (t(v) − centre) / scale, clipped to ±Bound, where t is
// sign(v)·log1p(|v|) for log1p features and the identity otherwise. A
// feature with zero spread on the baseline has scale 1. NaN and ±Inf never
// reach a model: NaN becomes the baseline median, +Inf the baseline max,
// −Inf the baseline min.
//
// Allocation: Fit allocates; TransformTo and SanitizeTo do not allocate
// when dst has capacity Dim(). A Scaler is immutable after Fit or decoding
// and is safe for concurrent use; its only shared mutable state is the
// atomic clamp counter.
//
// A Scaler serialises through its exported fields (encoding/json); call
// Validate after decoding one.
package scale
