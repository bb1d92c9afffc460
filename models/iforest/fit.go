package iforest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/mat"
)

// Config configures Fit. Zero fields take the defaults shown.
type Config struct {
	NEstimators int // number of trees; default 100
	// MaxSamples is the number of rows drawn (without replacement) for
	// each tree; default 256. ψ = min(MaxSamples, rows).
	MaxSamples int
	// ExtensionLevel 0 grows axis-parallel trees (Liu, Ting & Zhou);
	// ℓ in [1, Dim-1] grows extended trees (Hariri et al.) whose splits
	// are hyperplanes through ℓ+1 random coordinates.
	ExtensionLevel int
	Seed           uint64 // the same seed gives bit-identical trees
	Workers        int    // goroutines growing trees; default GOMAXPROCS
}

// constantRange is scikit-learn's FEATURE_THRESHOLD: a feature whose range
// within a node is at most this is treated as constant there.
const constantRange = 1e-7

// maxSampleValues bounds ψ×Dim, the values each Fit goroutine copies out
// (8 bytes each).
const maxSampleValues = 1 << 26

// Fit grows an isolation forest on the rows of X, which must be finite.
//
// Each tree t draws ψ = min(MaxSamples, rows) distinct rows with its own
// generator, PCG seeded from splitmix64(Seed, t), so the forest depends only
// on X and cfg, never on Workers. Trees are grown to depth ⌈log2 ψ⌉ or until
// a node holds fewer than two rows. An axis-parallel node picks a feature
// uniformly among those that are not constant within the node (as
// scikit-learn's random splitter does: it redraws after a constant one,
// with the same 1e-7 tolerance) and becomes a leaf when all are constant;
// the threshold is uniform in [min, max) of that feature in the node, and
// rows with x <= threshold go left. An extended node draws its ℓ+1
// coordinates among the non-constant features (fewer when fewer are left),
// a standard normal weight for each, and an intercept point uniform in the
// node's bounding box; either side may be empty.
func Fit(X *mat.Dense, cfg Config) (*Forest, error) {
	if X == nil {
		return nil, errors.New("iforest: nil data")
	}
	if X.IsEmpty() {
		return nil, errors.New("iforest: no rows")
	}
	rows, dim := X.Dims()
	if cfg.NEstimators == 0 {
		cfg.NEstimators = 100
	}
	if cfg.MaxSamples == 0 {
		cfg.MaxSamples = 256
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	switch {
	case cfg.NEstimators < 1 || cfg.NEstimators > MaxTrees:
		return nil, fmt.Errorf("iforest: NEstimators %d out of range [1, %d]", cfg.NEstimators, MaxTrees)
	case cfg.MaxSamples < 1 || cfg.MaxSamples > MaxSamplesLimit:
		return nil, fmt.Errorf("iforest: MaxSamples %d out of range [1, %d]", cfg.MaxSamples, MaxSamplesLimit)
	case dim > MaxFeatures:
		return nil, fmt.Errorf("iforest: %d features, more than %d", dim, MaxFeatures)
	case cfg.ExtensionLevel < 0 || cfg.ExtensionLevel >= dim:
		return nil, fmt.Errorf("iforest: ExtensionLevel %d out of range [0, %d]", cfg.ExtensionLevel, dim-1)
	}
	for i := range rows {
		for _, v := range X.RawRowView(i) {
			if !finite(v) {
				return nil, fmt.Errorf("iforest: row %d: non-finite value", i)
			}
		}
	}
	psi := min(cfg.MaxSamples, rows)
	if psi*dim > maxSampleValues {
		return nil, fmt.Errorf("iforest: ψ×dim = %d×%d values per tree, more than %d", psi, dim, maxSampleValues)
	}
	f := &Forest{
		NumFeatures:    dim,
		MaxSamples:     psi,
		ExtensionLevel: cfg.ExtensionLevel,
		Trees:          make([]Tree, cfg.NEstimators),
	}
	k := 0
	if cfg.ExtensionLevel > 0 {
		k = cfg.ExtensionLevel + 1
	}
	workers := min(cfg.Workers, cfg.NEstimators)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := newBuilder(dim, psi, k)
			for {
				t := int(next.Add(1) - 1)
				if t >= cfg.NEstimators {
					return
				}
				f.Trees[t] = b.grow(X, cfg.Seed, uint64(t))
			}
		}()
	}
	wg.Wait()
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("iforest: internal error: grown forest invalid: %w", err)
	}
	return f, nil
}

// splitmix64 is the finaliser of SplitMix64, used to derive per-tree seeds.
func splitmix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// builder holds one goroutine's scratch space for growing trees.
type builder struct {
	dim, psi, k int
	maxDepth    int
	cols        []float64 // column-major sample: cols[f*psi+r]
	idx         []int32   // row permutation, partitioned in place
	cand        []int32   // candidate features
	lo, hi      []float64 // per-feature node range (extended)
	dots        []float64 // per-row projections (extended)
	rng         *rand.Rand
	t           Tree
}

func newBuilder(dim, psi, k int) *builder {
	b := &builder{
		dim: dim, psi: psi, k: k,
		maxDepth: depthLimit(psi),
		cols:     make([]float64, dim*psi),
		idx:      make([]int32, psi),
		cand:     make([]int32, dim),
	}
	if k > 0 {
		b.lo = make([]float64, dim)
		b.hi = make([]float64, dim)
		b.dots = make([]float64, psi)
	}
	return b
}

// grow grows tree number t.
func (b *builder) grow(X *mat.Dense, seed, t uint64) Tree {
	s1 := splitmix64(seed ^ splitmix64(t))
	s2 := splitmix64(s1 ^ 0x6a09e667f3bcc909)
	b.rng = rand.New(rand.NewPCG(s1, s2))
	rows, _ := X.Dims()
	b.sample(X, rows)
	for r := range b.idx {
		b.idx[r] = int32(r)
	}
	b.t = Tree{}
	b.build(0, b.psi, 0)
	// Trim spare capacity: the tree lives as long as the model.
	t2 := b.t
	t2.Left = clip(t2.Left)
	t2.Right = clip(t2.Right)
	t2.Size = clip(t2.Size)
	t2.Feature = clip(t2.Feature)
	t2.Threshold = clip(t2.Threshold)
	t2.NormalIndex = clip(t2.NormalIndex)
	t2.NormalValue = clip(t2.NormalValue)
	t2.Intercept = clip(t2.Intercept)
	return t2
}

func clip[T any](s []T) []T {
	if s == nil {
		return nil
	}
	return append(make([]T, 0, len(s)), s...)
}

// sample draws psi distinct rows (Floyd's algorithm) into b.cols.
func (b *builder) sample(X *mat.Dense, rows int) {
	put := func(r, row int) {
		for f, v := range X.RawRowView(row) {
			b.cols[f*b.psi+r] = v
		}
	}
	if b.psi == rows {
		for r := range rows {
			put(r, r)
		}
		return
	}
	seen := make(map[int]struct{}, b.psi)
	r := 0
	for j := rows - b.psi; j < rows; j++ {
		v := b.rng.IntN(j + 1)
		if _, dup := seen[v]; dup {
			v = j
		}
		seen[v] = struct{}{}
		put(r, v)
		r++
	}
}

// build grows the subtree over b.idx[lo:hi] in pre-order (scikit-learn's
// depth-first layout) and returns its root's index.
func (b *builder) build(lo, hi, depth int) int32 {
	id := int32(len(b.t.Left))
	b.t.Left = append(b.t.Left, -1)
	b.t.Right = append(b.t.Right, -1)
	b.t.Size = append(b.t.Size, int32(hi-lo))
	if b.k == 0 {
		b.t.Feature = append(b.t.Feature, -1)
		b.t.Threshold = append(b.t.Threshold, 0)
	} else {
		for range b.k {
			b.t.NormalIndex = append(b.t.NormalIndex, 0)
			b.t.NormalValue = append(b.t.NormalValue, 0)
		}
		b.t.Intercept = append(b.t.Intercept, 0)
	}
	if depth >= b.maxDepth || hi-lo < 2 {
		return id
	}
	var mid int
	if b.k == 0 {
		f, thr, ok := b.pickAxis(lo, hi)
		if !ok {
			return id
		}
		b.t.Feature[id] = f
		b.t.Threshold[id] = thr
		col := b.cols[int(f)*b.psi : int(f+1)*b.psi]
		mid = partition(b.idx[lo:hi], func(r int32) bool { return col[r] <= thr }) + lo
	} else {
		if !b.pickPlane(id, lo, hi) {
			return id
		}
		thr := b.t.Intercept[id]
		mid = partition(b.idx[lo:hi], func(r int32) bool { return b.dots[r] <= thr }) + lo
	}
	l := b.build(lo, mid, depth+1)
	r := b.build(mid, hi, depth+1)
	b.t.Left[id] = l
	b.t.Right[id] = r
	return id
}

// partition moves the rows satisfying left to the front and returns their
// count.
func partition(idx []int32, left func(int32) bool) int {
	i, j := 0, len(idx)
	for i < j {
		if left(idx[i]) {
			i++
		} else {
			j--
			idx[i], idx[j] = idx[j], idx[i]
		}
	}
	return i
}

func (b *builder) colRange(f int32, lo, hi int) (mn, mx float64) {
	col := b.cols[int(f)*b.psi : int(f+1)*b.psi]
	mn, mx = col[b.idx[lo]], col[b.idx[lo]]
	for _, r := range b.idx[lo+1 : hi] {
		v := col[r]
		mn = min(mn, v)
		mx = max(mx, v)
	}
	return mn, mx
}

// pickAxis draws a feature uniformly among the non-constant ones and a
// threshold uniform in [min, max).
func (b *builder) pickAxis(lo, hi int) (int32, float64, bool) {
	for f := range b.cand {
		b.cand[f] = int32(f)
	}
	for n := b.dim; n > 0; n-- {
		j := b.rng.IntN(n)
		f := b.cand[j]
		mn, mx := b.colRange(f, lo, hi)
		if mx <= mn+constantRange {
			b.cand[j] = b.cand[n-1]
			continue
		}
		thr := (mx-mn)*b.rng.Float64() + mn
		if thr >= mx { // rounding: keep both sides non-empty
			thr = mn
		}
		return f, thr, true
	}
	return 0, 0, false
}

// pickPlane draws a hyperplane for node id and fills b.dots for its rows.
func (b *builder) pickPlane(id int32, lo, hi int) bool {
	n := 0
	for f := range b.dim {
		mn, mx := b.colRange(int32(f), lo, hi)
		b.lo[f], b.hi[f] = mn, mx
		if mx > mn+constantRange {
			b.cand[n] = int32(f)
			n++
		}
	}
	if n == 0 {
		return false
	}
	m := min(b.k, n)
	off := int(id) * b.k
	var icpt float64
	for j := range m {
		s := j + b.rng.IntN(n-j)
		b.cand[j], b.cand[s] = b.cand[s], b.cand[j]
		f := b.cand[j]
		w := b.rng.NormFloat64()
		p := (b.hi[f]-b.lo[f])*b.rng.Float64() + b.lo[f]
		b.t.NormalIndex[off+j] = f
		b.t.NormalValue[off+j] = w
		icpt += w * p
	}
	b.t.Intercept[id] = icpt
	idx := b.t.NormalIndex[off : off+m]
	val := b.t.NormalValue[off : off+m]
	for _, r := range b.idx[lo:hi] {
		var dot float64
		for j, f := range idx {
			dot += val[j] * b.cols[int(f)*b.psi+int(r)]
		}
		b.dots[r] = dot
	}
	return true
}
