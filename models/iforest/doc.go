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
// same trees: the tests build a Forest from scikit-learn's tree arrays
// (testdata/gen_sklearn.py) and check agreement to 1e-12 (the per-tree terms are summed in the
// same order, so agreement is usually exact). With ExtensionLevel > 0 the
// trees split on random hyperplanes (Hariri, Carrasco Kind & Brunner,
// "Extended Isolation Forest", 2018); the score is defined the same way.
//
// # Reproducibility
//
// Tree t is grown with its own PCG generator seeded from (Seed, t), so a
// seed gives bit-identical trees whatever Config.Workers is.
//
// # Allocation and layout
//
// Score does not allocate and is safe for concurrent use. ScoreBatch,
// ScoreRows and Explain write into dst and allocate only when its capacity
// is too small (ScoreBatch with more than one worker also starts
// goroutines). Fit,
// Validate and UnmarshalJSON allocate the trees and the compiled scoring
// form: all trees' nodes in one flat slice of 16-byte nodes (no pointers),
// each tree breadth first with siblings adjacent, leaves looping to
// themselves (threshold +Inf), with the precomputed path length terms in a
// parallel slice. Scoring a tree is then a fixed number of steps (the
// forest's depth, ≤ ⌈log2 ψ⌉) with the child chosen by a flag set instead
// of a branch; Score runs four trees at a time, and ScoreBatch and
// ScoreRows eight rows at a time through one tree (walk8: no bounds checks,
// no step mask for NaN-free rows), so independent traversals overlap in
// the CPU. All three give the same scores bit for bit. The compiled form
// takes about 12 KiB per tree for ψ = 256.
//
// # Files
//
// The exported fields of Forest and Tree are the file form, in
// scikit-learn's layout (children indices, -1 at leaves). UnmarshalJSON
// runs Validate, so a Forest decoded from JSON is either ready to score or
// an error; Validate bounds every count, so a forest that passes it cannot
// panic, loop or return NaN.
package iforest
