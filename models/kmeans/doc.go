// Package kmeans is the k-means model of vigil's models stage: it fits
// centroids to scaled baseline feature vectors and scores new vectors by
// their distance to the nearest centroid.
//
// It owns the whole algorithm, written on gonum's mat.Dense for input:
//
//   - k-means++ seeding, greedy with 2+⌊ln k⌋ candidates per centre, as
//     scikit-learn's _kmeans_plusplus;
//   - Lloyd iterations. For k ≤ 16 on a CPU with AVX2 and FMA (and |values|
//     ≤ 1e18), every row is compared with every centre in float32 on a copy
//     of the data, eight centres per AVX2 register and four rows per pass
//     (kernel_amd64.s); a rigorous bound on the float32 error rules out all
//     but the nearest centre, and the rare near ties are settled in float64,
//     so the labels are exactly the float64 argmin (ties to the lower index)
//     — see assign.go. Otherwise the step is accelerated by the triangle
//     inequality: Elkan's (2003) per-centre lower bounds while n·k ≤ 2²⁵
//     (8 bytes each), else Hamerly's (2010) single bound. On 1e6×20 uniform
//     rows with k = 8 Elkan still computes about one distance per row per
//     iteration, but its bookkeeping (k bounds read and written per row,
//     unpredictable branches) made it ~60 ns a row against ~9 ns for the
//     brute-force AVX2 step. Either way centre sums are updated
//     incrementally, in float64, from the rows that changed cluster;
//   - scikit-learn's stopping rule: labels unchanged, or the summed squared
//     centre shift ≤ Tol × the mean feature variance, or MaxIter;
//   - NInit restarts (keeping the lowest inertia), empty clusters re-seeded
//     at the rows farthest from their centres;
//   - mini-batch k-means (Config.MiniBatch) for large inputs;
//   - ChooseK, which picks k by the silhouette on a sample.
//
// # Reproducibility
//
// Work is split into fixed chunks of rows; every partial sum is kept per
// chunk and reduced in chunk order. One Config.Seed therefore gives
// bit-identical centroids whatever Config.Workers is. Restart r draws from
// its own PCG stream (Seed, r).
//
// # Score
//
// Score(x) is the Euclidean distance from x (already scaled, see
// models/scale) to the nearest centroid. With Model.Normalize it is divided
// by that cluster's Radius: the 99th-percentile distance of the cluster's
// training members to its centre (see RadiusQuantile for why not the maximum
// or the mean), so that a score of 1 means "at the edge of that cluster" and
// tight and loose clusters are judged on the same scale. Higher is more
// anomalous. Explain apportions the squared distance among the features.
//
// # Allocation
//
// Score, Nearest, NearestFrom, ScoreCluster, Dim and Inertia never
// allocate; Explain and ExplainCluster allocate only when dst is nil. They
// only read the Model, so one Model may be shared by any number of
// goroutines. A Batch (NewBatch, one per goroutine) scores rows in
// batches through the fit's float32 AVX2 filter, with results equal to
// Score's bit for bit; it allocates only to grow its scratch (a float32
// copy of the batch and K float32 distances per row). Fit allocates O(n) scratch — a label, a
// distance, an upper bound and k lower bounds per row (k+3 words; 1 + Hamerly's
// 2 words when n·k is too large for Elkan's; with the AVX2 step, 2 words and
// a float32 copy of X plus a float32 norm per row: 4(d+1) bytes a row) — plus
// O(k·d) per chunk of 4096 rows; NInit > 1 adds a label and a distance per
// row for the best restart. Apart from that float32 copy it does not copy X,
// except for mini-batch's k-means++ subsample (3 batches).
//
// # Models from files
//
// Model's exported fields are its whole state, meant for encoding/json.
// After decoding, call Validate: it bounds K and Dims (MaxK, MaxDim), checks
// the slice lengths and that every value is finite and every radius
// positive. A Model that passes cannot panic in Score and Score never
// returns NaN (non-finite input gives +Inf).
package kmeans
