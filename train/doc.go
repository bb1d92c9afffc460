// Package train turns baseline feature rows into a model bundle: it keeps a
// bounded uniform sample of the rows (Reservoir), splits off a held-out
// part, fits the scaler, the isolation forest and k-means on the rest, and
// calibrates each model's alert threshold, and the ensemble's, on the
// held-out scores for a target false-positive rate.
//
// The rows come from the caller (flow records of baseline captures, or the
// benign rows of a labeled table, or with CaptureConfig.Packet one
// AfterImage vector per IP packet, ExtractPackets, grouped by bidirectional
// 5-tuple); train reads no files and no clock. One seed gives a
// bit-identical bundle.
package train
