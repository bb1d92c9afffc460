// Package features turns frames into flow feature vectors: it decodes
// packets into preallocated layers, keeps a bounded bidirectional flow
// table driven by capture timestamps, and computes each flow's features in
// the order of a versioned Schema.
package features
