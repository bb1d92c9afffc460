package iforest

import (
	"encoding/json"
	"errors"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/mat"

	"github.com/vigil-nids/vigil/models"
)

var _ models.Scorer = (*Forest)(nil)

// Forest is a fitted isolation forest. Its exported fields are its file
// format (encoding/json); everything else is derived from them by Fit,
// Validate and UnmarshalJSON.
//
// A Forest is safe for concurrent use by Score, ScoreBatch and Explain.
// Changing the exported fields of a Forest in use is not; call Validate
// after changing them.
type Forest struct {
	// NumFeatures is the length of the vectors the forest scores.
	NumFeatures int `json:"dim"`
	// MaxSamples is ψ, the number of rows each tree was grown on
	// (scikit-learn's max_samples_). It sets the normalisation c(ψ).
	MaxSamples int `json:"max_samples"`
	// ExtensionLevel is 0 for axis-parallel splits (Feature, Threshold)
	// and ℓ > 0 for hyperplane splits with ℓ+1 coordinates per node
	// (NormalIndex, NormalValue, Intercept).
	ExtensionLevel int    `json:"extension_level"`
	Trees          []Tree `json:"trees"`

	c compiled // derived; rebuilt by Validate
}

// Tree is one isolation tree in scikit-learn's layout: node 0 is the root,
// Left[i] and Right[i] are the children of node i or both -1 for a leaf,
// and children always have larger indices than their parent.
//
// A point goes left at node i when
//
//	x[Feature[i]] <= Threshold[i]                        (ExtensionLevel == 0)
//	Σ_j NormalValue[i*k+j]*x[NormalIndex[i*k+j]] <= Intercept[i]   (k = ExtensionLevel+1)
//
// and right otherwise (also when the comparison involves NaN, as in
// scikit-learn). Size[i] is the number of training rows that reached node i;
// at leaves it gives the c(Size) term of the path length.
type Tree struct {
	Left  []int32 `json:"left"`
	Right []int32 `json:"right"`
	Size  []int32 `json:"size"`

	// Axis-parallel splits; Feature is negative at leaves.
	Feature   []int32   `json:"feature,omitempty"`
	Threshold []float64 `json:"threshold,omitempty"`

	// Hyperplane splits (extended isolation forest).
	NormalIndex []int32   `json:"normal_index,omitempty"`
	NormalValue []float64 `json:"normal_value,omitempty"`
	Intercept   []float64 `json:"intercept,omitempty"`
}

// node is one node of the compiled forest, 16 bytes. Siblings are
// adjacent: the right child is left+1. A leaf has left = itself, step 0 and
// thr +Inf, so a traversal can take a fixed number of steps (the forest's
// depth) with no data-dependent branch, and one with no NaN in x stays at
// a leaf even without the step mask (walk8). A leaf's path length term
// (depth+1) + c(size) - 1, computed as scikit-learn does, is in
// compiled.terms. For hyperplane nodes thr is the intercept and the k
// coordinates of node i are eIdx/eVal[i*k : (i+1)*k]; feat is unused.
type node struct {
	thr  float64
	left int32
	feat uint16 // MaxFeatures ≤ 1<<16
	step uint16 // 1 for a split, 0 for a leaf
}

func (n *node) leaf() bool { return n.step == 0 }

// child returns the child of an axis-parallel node that x goes to: left
// when x[feat] <= thr, right otherwise (also when x[feat] is NaN). The
// compiler turns the comparison into a flag set (UCOMISD; SETCC), not a
// branch, which a random tree would mispredict half the time. A leaf
// returns itself.
func (n *node) child(x []float64) int32 {
	var right int32
	if !(x[n.feat] <= n.thr) {
		right = 1
	}
	return n.left + right&int32(n.step)
}

// compiled is the scoring form of a Forest: every tree's nodes in one flat
// slice, breadth first, so that a traversal touches 16 bytes per level.
type compiled struct {
	nodes []node
	terms []float64 // per node: a leaf's path length term; 0 for splits
	roots []int32
	k     int // coordinates per hyperplane node; 0 for axis-parallel
	eIdx  []int32
	eVal  []float64
	sizes []int32 // training rows per node, for Explain
	depth int     // deepest leaf in the forest
	denom float64 // len(Trees) * c(ψ)
	ok    bool
}

// Dim returns the number of features the forest expects.
func (f *Forest) Dim() int { return f.NumFeatures }

// Score returns the anomaly score of x, scikit-learn's -score_samples:
//
//	s(x) = 2^(-E[h(x)] / c(ψ))
//
// in (0, 1]; higher is more anomalous. It does not allocate, is safe for
// concurrent use and never returns NaN, whatever x holds. It panics if
// len(x) != Dim() or if the forest was neither fitted nor validated.
func (f *Forest) Score(x []float64) float64 {
	c := &f.c
	if !c.ok {
		panic("iforest: Score on a forest that is not fitted or validated")
	}
	if len(x) != f.NumFeatures {
		panic("iforest: len(x) != Dim()")
	}
	var sum float64
	if c.k == 0 {
		// Four trees at a time: independent traversals overlap in the
		// CPU. The terms are added in tree order, as ScoreBatch does.
		nodes, roots, terms := c.nodes, c.roots, c.terms
		t := 0
		for ; t+4 <= len(roots); t += 4 {
			i0, i1, i2, i3 := roots[t], roots[t+1], roots[t+2], roots[t+3]
			for range c.depth {
				i0 = nodes[i0].child(x)
				i1 = nodes[i1].child(x)
				i2 = nodes[i2].child(x)
				i3 = nodes[i3].child(x)
			}
			sum += terms[i0]
			sum += terms[i1]
			sum += terms[i2]
			sum += terms[i3]
		}
		for ; t < len(roots); t++ {
			i := roots[t]
			for range c.depth {
				i = nodes[i].child(x)
			}
			sum += terms[i]
		}
	} else {
		for _, r := range c.roots {
			sum += c.pathExt(r, x)
		}
	}
	return c.finish(sum)
}

func (c *compiled) finish(sum float64) float64 {
	if c.denom == 0 {
		// ψ = 1: scikit-learn defines the ratio as 1.
		return 0.5
	}
	return math.Exp2(-(sum / c.denom))
}

// pathExt returns the leaf term of the hyperplane tree rooted at r.
func (c *compiled) pathExt(r int32, x []float64) float64 {
	i := r
	for {
		n := &c.nodes[i]
		if n.leaf() {
			return c.terms[i]
		}
		off := int(i) * c.k
		idx := c.eIdx[off : off+c.k]
		val := c.eVal[off : off+c.k]
		var dot float64
		for j, fi := range idx {
			dot += val[j] * x[fi]
		}
		i = n.left
		if !(dot <= n.thr) {
			i++
		}
	}
}

// blockRows is the number of rows ScoreBatch pushes through one tree at a
// time: one tree (≤ 8 KiB for ψ = 256) and the block stay in L1.
const blockRows = 64

// ScoreBatch scores every row of X into dst, using up to workers goroutines
// (≤ 0: GOMAXPROCS), and returns dst resized to X's row count. It allocates
// only when cap(dst) is too small, plus the goroutines. The scores are
// bit-identical to Score's. It panics if X's column count is not Dim().
func (f *Forest) ScoreBatch(dst []float64, X *mat.Dense, workers int) []float64 {
	c := &f.c
	if !c.ok {
		panic("iforest: ScoreBatch on a forest that is not fitted or validated")
	}
	rows, cols := X.Dims()
	if cols != f.NumFeatures {
		panic("iforest: X has wrong number of columns")
	}
	if cap(dst) < rows {
		dst = make([]float64, rows)
	}
	dst = dst[:rows]
	nblocks := (rows + blockRows - 1) / blockRows
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, nblocks)
	if workers <= 1 {
		for b := range nblocks {
			f.scoreBlock(dst, X, b*blockRows, min(rows, (b+1)*blockRows))
		}
		return dst
	}
	f.scoreParallel(dst, X, nblocks, workers)
	return dst
}

// scoreParallel is ScoreBatch's concurrent path, kept apart so that the
// sequential path does not move dst to the heap.
func (f *Forest) scoreParallel(dst []float64, X *mat.Dense, nblocks, workers int) {
	rows := len(dst)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				b := int(next.Add(1) - 1)
				if b >= nblocks {
					return
				}
				f.scoreBlock(dst, X, b*blockRows, min(rows, (b+1)*blockRows))
			}
		}()
	}
	wg.Wait()
}

// ScoreRows scores the vectors xs into dst (resized to len(xs); allocated
// only when its capacity is too small) and returns it: ScoreBatch for
// rows that are not in a mat.Dense, on the calling goroutine. Pushing a
// block of rows through one tree at a time lets independent traversals
// overlap, several times faster per row than Score for eight rows or
// more. The scores are bit-identical to Score's. It panics if a vector's
// length is not Dim().
func (f *Forest) ScoreRows(dst []float64, xs [][]float64) []float64 {
	c := &f.c
	if !c.ok {
		panic("iforest: ScoreRows on a forest that is not fitted or validated")
	}
	for _, x := range xs {
		if len(x) != f.NumFeatures {
			panic("iforest: len(x) != Dim()")
		}
	}
	if cap(dst) < len(xs) {
		dst = make([]float64, len(xs))
	}
	dst = dst[:len(xs)]
	for lo := 0; lo < len(xs); lo += blockRows {
		hi := min(len(xs), lo+blockRows)
		c.scoreRows(dst[lo:hi], xs[lo:hi])
	}
	return dst
}

// scoreBlock scores rows [lo, hi) of X.
func (f *Forest) scoreBlock(dst []float64, X *mat.Dense, lo, hi int) {
	var xs [blockRows][]float64
	n := hi - lo
	for j := range n {
		xs[j] = X.RawRowView(lo + j)
	}
	f.c.scoreRows(dst[lo:hi], xs[:n])
}

// scoreRows scores at most blockRows rows tree by tree, summing in tree
// order so that the result equals Score's bit for bit.
func (c *compiled) scoreRows(dst []float64, xs [][]float64) {
	var sums [blockRows]float64
	n := len(xs)
	if c.k == 0 {
		nodes, terms := c.nodes, c.terms
		steps := c.depth
		clean := !hasNaN(xs)
		for _, r := range c.roots {
			// Eight (walk8), then four rows at a time: their traversals
			// are independent, so the CPU overlaps the loads.
			j := 0
			for ; clean && j+8 <= n; j += 8 {
				walk8(nodes, terms, r, steps, (*[8][]float64)(xs[j:j+8]), (*[8]float64)(sums[j:j+8]))
			}
			for ; j+4 <= n; j += 4 {
				x0, x1, x2, x3 := xs[j], xs[j+1], xs[j+2], xs[j+3]
				i0, i1, i2, i3 := r, r, r, r
				for range steps {
					i0 = nodes[i0].child(x0)
					i1 = nodes[i1].child(x1)
					i2 = nodes[i2].child(x2)
					i3 = nodes[i3].child(x3)
				}
				sums[j] += terms[i0]
				sums[j+1] += terms[i1]
				sums[j+2] += terms[i2]
				sums[j+3] += terms[i3]
			}
			for ; j < n; j++ {
				x := xs[j]
				i := r
				for range steps {
					i = nodes[i].child(x)
				}
				sums[j] += terms[i]
			}
		}
	} else {
		for _, r := range c.roots {
			for j := range n {
				sums[j] += c.pathExt(r, xs[j])
			}
		}
	}
	for j := range n {
		dst[j] = c.finish(sums[j])
	}
}

// Explain writes into dst (resized to Dim(); allocated only when its
// capacity is too small) each feature's share in isolating x:
//
//	e[f] = (1/T) Σ_trees Σ_{splits on x's path} w_f · (n - m) / ψ
//
// where a split at a node holding n training rows sends x to a child
// holding m, so (n - m)/ψ is the fraction of the tree's sample that this
// split separated from x. w_f is 1 for an axis-parallel split on f (0 for
// the other features), or |v_f| / Σ_j |v_j| for a hyperplane with normal v.
// Early splits act on large nodes, so a feature whose splits cut x off from
// most of the sample early, in many trees, gets the most. Each tree's
// terms sum to (ψ - leaf size)/ψ, so the entries are ≥ 0 and sum to at most
// 1. Explain is safe for concurrent use and panics if len(x) != Dim().
func (f *Forest) Explain(dst []float64, x []float64) []float64 {
	c := &f.c
	if !c.ok {
		panic("iforest: Explain on a forest that is not fitted or validated")
	}
	if len(x) != f.NumFeatures {
		panic("iforest: len(x) != Dim()")
	}
	if cap(dst) < f.NumFeatures {
		dst = make([]float64, f.NumFeatures)
	}
	dst = dst[:f.NumFeatures]
	clear(dst)
	psi := float64(f.MaxSamples)
	for _, r := range c.roots {
		i := r
		for {
			n := &c.nodes[i]
			if n.leaf() {
				break
			}
			var next int32
			if c.k == 0 {
				next = n.left
				if !(x[n.feat] <= n.thr) {
					next++
				}
				dst[n.feat] += float64(c.sizes[i]-c.sizes[next]) / psi
				i = next
				continue
			}
			off := int(i) * c.k
			idx := c.eIdx[off : off+c.k]
			val := c.eVal[off : off+c.k]
			var dot, norm float64
			for j, fi := range idx {
				dot += val[j] * x[fi]
				norm += math.Abs(val[j])
			}
			next = n.left
			if !(dot <= n.thr) {
				next++
			}
			if norm > 0 && !math.IsInf(norm, 0) {
				cut := float64(c.sizes[i]-c.sizes[next]) / psi / norm
				for j, fi := range idx {
					dst[fi] += cut * math.Abs(val[j])
				}
			}
			i = next
		}
	}
	inv := 1 / float64(len(c.roots))
	for j := range dst {
		dst[j] *= inv
	}
	return dst
}

// UnmarshalJSON decodes a Forest and validates it, so that a Forest read
// from a file is either ready to score or an error.
func (f *Forest) UnmarshalJSON(b []byte) error {
	type plain Forest // no methods: no recursion
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	g := Forest(p)
	g.c = compiled{}
	if err := g.Validate(); err != nil {
		return err
	}
	*f = g
	return nil
}

// errNotFitted is returned by Validate for a nil Forest.
var errNotFitted = errors.New("iforest: nil forest")

// avgPathLength is c(n), the average path length of an unsuccessful search
// in a binary search tree of n keys, written as scikit-learn's
// _average_path_length: c(n) = 2(ln(n-1) + γ) - 2(n-1)/n, c(2) = 1,
// c(n ≤ 1) = 0.
func avgPathLength(n float64) float64 {
	switch {
	case n <= 1:
		return 0
	case n == 2:
		return 1
	}
	return 2.0*(math.Log(n-1.0)+eulerGamma) - 2.0*(n-1.0)/n
}

// eulerGamma is numpy's np.euler_gamma.
const eulerGamma = 0.5772156649015329
