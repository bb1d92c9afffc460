// Package iforest is vigil's isolation forest: the model stage of the
// pipeline that turns a scaled feature vector into an anomaly score. It owns
// training (Fit), the model's file form (the exported fields of Forest,
// encoded with encoding/json by models/bundle and checked with Validate),
// scoring (Score, ScoreBatch) and per-feature explanations (Explain).
//
// # Score
//
// Liu, Ting & Zhou (2008): each of T trees is grown on ψ = min(MaxSamples,
// n) rows drawn without replacement, to depth ⌈log2 ψ⌉, splitting on a
// feature and value drawn uniformly at random. The path length of x in a
// tree is the number of edges to its leaf plus c(size), size being the
// number of training rows in that leaf, and
//
//	s(x) = 2^(-E[h(x)] / c(ψ)),   c(n) = 2(ln(n-1) + γ) - 2(n-1)/n, c(2) = 1, c(≤1) = 0.
//
// s is in (0, 1]; about 0.5 and below is ordinary, near 1 is anomalous. These
// are the numbers of scikit-learn's -IsolationForest.score_samples for the
// same trees: FromSklearn builds a Forest from scikit-learn's tree arrays and
// the tests check agreement to 1e-12 (the per-tree terms are summed in the
// same order, so agreement is usually exact). With ExtensionLevel > 0 the
// trees split on random hyperplanes (Hariri, Carrasco Kind & Brunner,
// "Extended Isolation Forest", 2018); the score is defined the same way.
//
// # Reproducibility
//
// Tree t is grown with its own PCG generator seeded from (Seed, t), so a
// seed gives bit-identical trees whatever Config.Workers is.
//
// # Allocation
//
// Score does not allocate and is safe for concurrent use. ScoreBatch and
// Explain write into dst and allocate only when its capacity is too small
// (ScoreBatch also starts its goroutines). Fit, Validate and UnmarshalJSON
// allocate the trees and the compiled scoring form: all trees' nodes in one
// flat slice of 16-byte nodes, breadth first with siblings adjacent and the
// path length term precomputed at the leaves, about 16 KiB per tree for
// ψ = 256. There are no pointers between nodes.
package iforest
