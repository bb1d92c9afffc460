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
// FromSklearn, Validate and UnmarshalJSON.
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

// node is one node of the compiled forest. Children are adjacent: the right
// child is left+1. For leaves feat is -1 and thr holds the tree's path
// length term (depth+1) + c(size) - 1, computed as scikit-learn does.
// For hyperplane nodes feat is the offset of the node's k coordinates in
// compiled.eIdx/eVal and thr is the intercept.
type node struct {
	thr  float64
	feat int32
	left int32
}

// compiled is the scoring form of a Forest: every tree's nodes in one flat
// slice, breadth first, so that a traversal touches 16 bytes per level.
type compiled struct {
	nodes []node
	roots []int32
	k     int // coordinates per hyperplane node; 0 for axis-parallel
	eIdx  []int32
	eVal  []float64
	sizes []int32 // training rows per node, for Explain
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
		nodes := c.nodes
		for _, r := range c.roots {
			i := r
			for {
				n := nodes[i]
				if n.feat < 0 {
					sum += n.thr
					break
				}
				i = n.left
				if !(x[n.feat] <= n.thr) {
					i++
				}
			}
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
		n := c.nodes[i]
		if n.feat < 0 {
			return n.thr
		}
		off := int(n.feat)
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

// scoreBlock scores rows [lo, hi) tree by tree, summing in tree order so
// that the result equals Score's bit for bit.
func (f *Forest) scoreBlock(dst []float64, X *mat.Dense, lo, hi int) {
	c := &f.c
	var sums [blockRows]float64
	var xs [blockRows][]float64
	n := hi - lo
	for j := range n {
		xs[j] = X.RawRowView(lo + j)
	}
	if c.k == 0 {
		nodes := c.nodes
		for _, r := range c.roots {
			// Two rows at a time: independent traversals overlap in the
			// CPU's pipeline.
			j := 0
			for ; j+1 < n; j += 2 {
				x0, x1 := xs[j], xs[j+1]
				i0, i1 := r, r
				n0, n1 := nodes[i0], nodes[i1]
				for n0.feat >= 0 || n1.feat >= 0 {
					if n0.feat >= 0 {
						i0 = n0.left
						if !(x0[n0.feat] <= n0.thr) {
							i0++
						}
						n0 = nodes[i0]
					}
					if n1.feat >= 0 {
						i1 = n1.left
						if !(x1[n1.feat] <= n1.thr) {
							i1++
						}
						n1 = nodes[i1]
					}
				}
				sums[j] += n0.thr
				sums[j+1] += n1.thr
			}
			for ; j < n; j++ {
				x := xs[j]
				i := r
				for {
					nd := nodes[i]
					if nd.feat < 0 {
						sums[j] += nd.thr
						break
					}
					i = nd.left
					if !(x[nd.feat] <= nd.thr) {
						i++
					}
				}
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
		dst[lo+j] = c.finish(sums[j])
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
			n := c.nodes[i]
			if n.feat < 0 {
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
			off := int(n.feat)
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
