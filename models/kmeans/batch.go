package kmeans

import "math"

// Batch scores rows in batches with the float32 filter of the fast
// assignment (see assign.go for the error bound): distances to all
// centroids in float32 (AVX2, eight centroids at once), the centroids that
// the bound rules out dropped, the survivors compared in float64 by
// sqDist, and the winner's distance computed in float64. Its results equal
// Nearest's and Score's bit for bit: the same float64 argmin (ties to the
// lower index) and the same float64 distance.
//
// It pays when the model has up to 16 centroids, the CPU has AVX2 and
// FMA, and rows come at least four at a time; otherwise, and for rows with
// values the float32 filter cannot hold (non-finite, or above 1e18 in
// magnitude), it falls back to NearestFrom row by row.
//
// A Batch holds scratch buffers: one per goroutine (NewBatch). The Model
// must not change while it is in use.
type Batch struct {
	m       *Model
	ok      bool      // the filter applies to this model and CPU
	ct      []float32 // groups×d×8 transposed centroids (see fastState.ct)
	a, b, c float32   // the bound's coefficients (see fastState)
	x32     []float32
	xnorm   []float32
	out     []float32
	hint    int
}

// batchMin is the fewest rows ScoreRows sends through the float32 kernel
// (its AVX2 path takes rows four at a time).
const batchMin = 4

// NewBatch returns a Batch for m.
func (m *Model) NewBatch() *Batch {
	bt := &Batch{m: m, ok: haveAVX2FMA && m.K <= fastMaxK}
	if !bt.ok {
		return bt
	}
	d := m.Dims
	s := &fastState{ct: make([]float32, (m.K+7)/8*d*8), eps: 2 * float64(2*d+8) * 0x1p-24}
	for _, v := range m.Centroids {
		if math.Abs(v) > fastMaxAbs {
			bt.ok = false
			return bt
		}
	}
	s.setCenters(m.Centroids, m.K, d)
	bt.ct, bt.a, bt.b, bt.c = s.ct, s.a, s.b, s.c
	return bt
}

// ScoreRows writes Score(xs[i]) to scores[i] and the nearest centroid
// (Nearest's) to clusters[i] for every row. It panics if a row's length
// is not Dim() or scores or clusters is shorter than xs. It allocates only
// to grow its scratch buffers to a larger batch than before.
func (bt *Batch) ScoreRows(scores []float64, clusters []int, xs [][]float64) {
	m := bt.m
	n, d := len(xs), m.Dims
	scores, clusters = scores[:n], clusters[:n]
	for _, x := range xs {
		if len(x) != d {
			panic("kmeans: dimension mismatch")
		}
	}
	if !bt.ok || n < batchMin {
		for i, x := range xs {
			scores[i], clusters[i] = m.ScoreCluster(x, bt.hint)
			bt.hint = clusters[i]
		}
		return
	}
	groups := (m.K + 7) / 8
	if cap(bt.x32) < n*d {
		bt.x32 = make([]float32, n*d)
		bt.xnorm = make([]float32, n)
		bt.out = make([]float32, groups*n*8)
	}
	x32, xnorm, out := bt.x32[:n*d], bt.xnorm[:n], bt.out[:groups*n*8]
	usable := true
	for i, x := range xs {
		// Four sums: one would make a chain of dependent additions.
		var s0, s1, s2, s3 float64
		dst := x32[i*d : (i+1)*d]
		t := 0
		for ; t+4 <= d; t += 4 {
			v0, v1, v2, v3 := x[t], x[t+1], x[t+2], x[t+3]
			dst[t], dst[t+1], dst[t+2], dst[t+3] = float32(v0), float32(v1), float32(v2), float32(v3)
			s0 += v0 * v0
			s1 += v1 * v1
			s2 += v2 * v2
			s3 += v3 * v3
		}
		for ; t < d; t++ {
			dst[t] = float32(x[t])
			s0 += x[t] * x[t]
		}
		ss := (s0 + s1) + (s2 + s3)
		// NaN, ±Inf and values beyond the filter's range make ss NaN,
		// +Inf or above fastMaxAbs².
		if !(ss <= fastMaxAbs*fastMaxAbs) {
			usable = false
		}
		xnorm[i] = float32(math.Sqrt(ss) * (1 + 0x1p-20))
	}
	if !usable {
		// Rare (scaled vectors are finite and bounded): score the batch
		// row by row rather than track which rows are usable.
		for i, x := range xs {
			scores[i], clusters[i] = m.ScoreCluster(x, bt.hint)
			bt.hint = clusters[i]
		}
		return
	}
	for g := range groups {
		dist8(x32, bt.ct[g*d*8:(g+1)*d*8], out[g*n*8:(g+1)*n*8], n, d)
	}
	k := m.K
	var row [fastMaxK]float32
	for r, x := range xs {
		b, lim2, near := filterRow(out, n, r, k, &row, xnorm[r], bt.a, bt.b, bt.c)
		var sq float64
		if near > 1 {
			b, sq = nearestDist64(x, m.Centroids, d, k, row[:k], lim2)
		} else {
			sq = sqDist(x, m.Centroids[b*d:(b+1)*d])
		}
		dist := math.Sqrt(sq)
		if m.Normalize {
			dist /= m.Radius[b]
		}
		scores[r], clusters[r] = dist, b
	}
	bt.hint = clusters[n-1]
}

// nearestDist64 is nearest64 that also returns the winner's squared
// distance (sqDist's value, which Score takes the root of).
func nearestDist64(x, centers []float64, d, k int, out []float32, lim2 float32) (int, float64) {
	bv, b := math.Inf(1), 0
	for j := range k {
		if !(out[j] <= lim2) {
			continue
		}
		if v := sqDist(x, centers[j*d:(j+1)*d]); v < bv {
			bv, b = v, j
		}
	}
	return b, bv
}
