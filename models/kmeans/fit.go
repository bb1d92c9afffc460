package kmeans

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/mat"
)

// Config configures Fit. Zero fields take the defaults shown.
type Config struct {
	K       int     // clusters; default 8
	NInit   int     // restarts from independent k-means++ seeds, the lowest inertia kept; default 1 (scikit-learn's "auto" for k-means++)
	MaxIter int     // Lloyd iterations per restart (mini-batch: passes over the data); default 300
	Tol     float64 // default 1e-4; stop when the summed squared centre shift ≤ Tol × mean feature variance (scikit-learn's rule); < 0 means 0
	Seed    uint64  // one seed gives bit-identical centroids whatever Workers is
	Workers int     // goroutines; 0 = GOMAXPROCS

	// MiniBatch > 0 selects mini-batch k-means (Sculley 2010, as
	// scikit-learn's MiniBatchKMeans) with batches of that many rows.
	MiniBatch int

	// Normalize is copied into the Model: Score divides by the cluster radius.
	Normalize bool
}

func (c Config) withDefaults() (Config, error) {
	if c.K == 0 {
		c.K = 8
	}
	if c.NInit == 0 {
		c.NInit = 1
	}
	if c.MaxIter == 0 {
		c.MaxIter = 300
	}
	if c.Tol == 0 {
		c.Tol = 1e-4
	} else if c.Tol < 0 {
		c.Tol = 0
	}
	if c.Workers <= 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	switch {
	case c.K < 1 || c.K > MaxK:
		return c, fmt.Errorf("kmeans: k = %d out of range [1, %d]", c.K, MaxK)
	case c.NInit < 0 || c.NInit > 1000:
		return c, fmt.Errorf("kmeans: n_init = %d out of range [1, 1000]", c.NInit)
	case c.MaxIter < 0:
		return c, fmt.Errorf("kmeans: max_iter = %d is negative", c.MaxIter)
	case c.MiniBatch < 0:
		return c, fmt.Errorf("kmeans: mini-batch size %d is negative", c.MiniBatch)
	case math.IsNaN(c.Tol) || math.IsInf(c.Tol, 0):
		return c, errors.New("kmeans: tol is not finite")
	}
	return c, nil
}

// chunkRows is the unit of parallel work. Partial sums are kept per chunk
// and reduced in chunk order, so results do not depend on the number of
// workers.
const chunkRows = 4096

// fitter holds the data view and the scratch space shared by the restarts.
type fitter struct {
	data    []float64
	n, d    int
	stride  int
	k       int
	workers int
	nChunks int

	fastData *fastState // float32 copy for the fast assignment, made once per Fit

	sums   []float64 // nChunks*k*d partial centre sums
	counts []int     // nChunks*k partial cluster sizes
	part   []float64 // nChunks*partWidth misc partial sums
	ipart  []int     // nChunks changed-label counts
}

const partWidth = 16 // ≥ the number of k-means++ candidates for k ≤ MaxK (2+ln 4096 ≈ 10.3)

func newFitter(X *mat.Dense, k, workers int) *fitter {
	raw := X.RawMatrix()
	f := &fitter{
		data: raw.Data, n: raw.Rows, d: raw.Cols, stride: raw.Stride,
		k: k, workers: workers,
	}
	f.nChunks = (f.n + chunkRows - 1) / chunkRows
	f.sums = make([]float64, f.nChunks*k*f.d)
	f.counts = make([]int, f.nChunks*k)
	f.part = make([]float64, f.nChunks*partWidth)
	f.ipart = make([]int, f.nChunks)
	return f
}

func (f *fitter) row(i int) []float64 {
	o := i * f.stride
	return f.data[o : o+f.d : o+f.d]
}

// run calls fn for every chunk, on up to f.workers goroutines.
func (f *fitter) run(fn func(c, lo, hi int)) {
	f.runN(f.nChunks, f.n, fn)
}

func (f *fitter) runN(nChunks, n int, fn func(c, lo, hi int)) {
	w := min(f.workers, nChunks)
	if w <= 1 {
		for c := range nChunks {
			fn(c, c*chunkRows, min(n, (c+1)*chunkRows))
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range w {
		wg.Go(func() {
			for {
				c := int(next.Add(1) - 1)
				if c >= nChunks {
					return
				}
				fn(c, c*chunkRows, min(n, (c+1)*chunkRows))
			}
		})
	}
	wg.Wait()
}

// fast returns the float32 copy of the data for the fast assignment,
// making it on first use, or nil if the data do not suit it.
func (f *fitter) fast() *fastState {
	if f.fastData == nil {
		f.fastData = f.newFastState()
		if f.fastData == nil {
			f.fastData = &fastState{} // unsuitable; remembered
		}
	}
	if f.fastData.x32 == nil {
		return nil
	}
	return f.fastData
}

// sumPart reduces column j of f.part in chunk order.
func (f *fitter) sumPart(j int) float64 {
	var s float64
	for c := range f.nChunks {
		s += f.part[c*partWidth+j]
	}
	return s
}

// Fit clusters the rows of X (samples × features) and returns the model with
// the lowest inertia over cfg.NInit restarts. X must hold only finite values
// and have at least K rows; X is not modified or retained.
func Fit(X *mat.Dense, cfg Config) (*Model, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if X == nil || X.IsEmpty() {
		return nil, errors.New("kmeans: no training rows")
	}
	n, d := X.Dims()
	if d > MaxDim || cfg.K*d > maxValues {
		return nil, fmt.Errorf("kmeans: %d features with k = %d exceeds the model size bound", d, cfg.K)
	}
	if n < cfg.K {
		return nil, fmt.Errorf("kmeans: %d rows are fewer than k = %d", n, cfg.K)
	}
	f := newFitter(X, cfg.K, cfg.Workers)
	if err := f.checkFinite(); err != nil {
		return nil, err
	}
	tol := cfg.Tol * f.meanVariance()

	var (
		best       *run
		bestLabels []int32
		bestDist   []float64
	)
	labels := make([]int32, n)
	dist := make([]float64, n) // kept for the best restart: member distances for the radii
	for r := range cfg.NInit {
		rng := rand.New(rand.NewPCG(cfg.Seed, 0x6b6d65616e73^uint64(r))) // "kmeans"
		var res *run
		if cfg.MiniBatch > 0 {
			res = f.miniBatch(rng, cfg, labels, dist)
		} else {
			res = f.lloyd(rng, cfg.MaxIter, tol, labels, dist)
		}
		if best == nil || res.inertia < best.inertia {
			best = res
			if bestLabels == nil {
				bestLabels, bestDist = make([]int32, n), make([]float64, n)
			}
			labels, bestLabels = bestLabels, labels
			dist, bestDist = bestDist, dist
		}
	}
	m := &Model{
		K:          cfg.K,
		Dims:       d,
		Centroids:  best.centers,
		Normalize:  cfg.Normalize,
		SSE:        best.inertia,
		Iterations: best.iter,
		Rows:       n,
	}
	m.Sizes, m.Radius = radii(bestLabels, bestDist, cfg.K, best.inertia)
	return m, nil
}

type run struct {
	centers []float64
	inertia float64
	iter    int
}

func (f *fitter) checkFinite() error {
	f.run(func(c, lo, hi int) {
		bad := 0
		for i := lo; i < hi; i++ {
			for _, v := range f.row(i) {
				if !finite(v) {
					bad++
				}
			}
		}
		f.ipart[c] = bad
	})
	for c := range f.nChunks {
		if f.ipart[c] != 0 {
			return fmt.Errorf("kmeans: training rows %d..%d hold NaN or Inf", c*chunkRows, min(f.n, (c+1)*chunkRows)-1)
		}
	}
	return nil
}

// meanVariance returns the mean over features of the population variance,
// computed in two passes (mean, then squared deviations).
func (f *fitter) meanVariance() float64 {
	d := f.d
	mean := make([]float64, d)
	f.run(func(c, lo, hi int) {
		s := f.sums[c*f.k*d : c*f.k*d+d]
		clear(s)
		for i := lo; i < hi; i++ {
			for j, v := range f.row(i) {
				s[j] += v
			}
		}
	})
	for c := range f.nChunks {
		for j := range d {
			mean[j] += f.sums[c*f.k*d+j]
		}
	}
	for j := range mean {
		mean[j] /= float64(f.n)
	}
	f.run(func(c, lo, hi int) {
		var s float64
		for i := lo; i < hi; i++ {
			s += sqDist(f.row(i), mean)
		}
		f.part[c*partWidth] = s
	})
	return f.sumPart(0) / float64(f.n) / float64(d)
}

// initPP chooses k centres by greedy k-means++ as scikit-learn's
// _kmeans_plusplus: the first uniformly at random, each next one the best
// (lowest resulting potential) of 2+⌊ln k⌋ candidates drawn with probability
// proportional to the squared distance to the nearest centre so far.
// closest and cum are n-long scratch slices.
func (f *fitter) initPP(rng *rand.Rand, centers, closest, cum []float64) {
	n, d, k := f.n, f.d, f.k
	first := rng.IntN(n)
	copy(centers[:d], f.row(first))
	c0 := centers[:d]
	f.run(func(c, lo, hi int) {
		var s float64
		for i := lo; i < hi; i++ {
			v := sqDist(f.row(i), c0)
			closest[i] = v
			s += v
		}
		f.part[c*partWidth] = s
	})
	pot := f.sumPart(0)
	nLocal := 2 + int(math.Log(float64(k)))
	cand := make([]int, nLocal)
	for ci := 1; ci < k; ci++ {
		var acc float64
		for i, v := range closest[:n] {
			acc += v
			cum[i] = acc
		}
		for t := range cand {
			id := sort.SearchFloat64s(cum[:n], rng.Float64()*pot)
			cand[t] = min(id, n-1)
		}
		f.run(func(c, lo, hi int) {
			p := f.part[c*partWidth : c*partWidth+nLocal]
			clear(p)
			for i := lo; i < hi; i++ {
				x := f.row(i)
				cl := closest[i]
				for t, id := range cand {
					p[t] += min(cl, sqDist(x, f.row(id)))
				}
			}
		})
		bt := 0
		pot = f.sumPart(0)
		for t := 1; t < nLocal; t++ {
			if s := f.sumPart(t); s < pot {
				pot, bt = s, t
			}
		}
		cb := f.row(cand[bt])
		copy(centers[ci*d:(ci+1)*d], cb)
		f.run(func(c, lo, hi int) {
			for i := lo; i < hi; i++ {
				closest[i] = min(closest[i], sqDist(f.row(i), cb))
			}
		})
	}
}

// elkanMaxBounds caps the memory of Elkan's per-row, per-centre lower bounds
// (8 bytes each): above it, lloyd falls back to Hamerly's single bound.
var elkanMaxBounds = 1 << 25 // 256 MiB; a variable so tests can force Hamerly

// lloyd runs k-means++ then Lloyd iterations accelerated by the triangle
// inequality. Every row keeps an upper bound on the distance to its own
// centre and lower bounds on the distance to the others: one per centre
// (Elkan 2003) when n·k ≤ elkanMaxBounds, else one for all of them (Hamerly
// 2010). After centres move by shift[j], the bounds are loosened by those
// shifts; a row is compared with a centre only when the bounds cannot rule
// it out. Centre sums are updated incrementally from the rows that changed
// cluster, through per-chunk deltas reduced in chunk order. On return labels
// and dist hold each row's final cluster and Euclidean distance to it.
func (f *fitter) lloyd(rng *rand.Rand, maxIter int, tol float64, labels []int32, dist []float64) *run {
	n, d, k := f.n, f.d, f.k
	var fast *fastState
	if fastAssign && k <= fastMaxK {
		fast = f.fast()
	}
	elkan := fast == nil && k > 1 && n*k <= elkanMaxBounds
	nb := 1
	if elkan {
		nb = k
	}
	upper := make([]float64, n)
	lower := make([]float64, n*nb)
	centers := make([]float64, k*d)
	f.initPP(rng, centers, upper, lower[:n]) // upper and lower double as k-means++ scratch
	for i := range n {
		upper[i] = math.Inf(1)
		labels[i] = 0
	}
	clear(lower)
	newCenters := make([]float64, k*d)
	half := make([]float64, k)      // half the distance to the nearest other centre
	cc := make([]float64, k*k)      // half the distance between centres a and b
	shift := make([]float64, k)     // how far each centre moved in the last update
	runSums := make([]float64, k*d) // Σ x per cluster, kept up to date by deltas
	totals := make([]int, k)
	var maxShift, maxShift2 float64 // largest and second-largest shift (Hamerly)
	maxIdx := -1

	iter := 0
	relocated := false
	var inertia float64
	for final := false; ; {
		first := iter == 0 && !final
		if fast != nil {
			fast.setCenters(centers, k, d)
		} else {
			f.halfDistances(centers, half, cc)
		}
		f.run(func(c, lo, hi int) {
			sums := f.sums[c*k*d : (c+1)*k*d]
			cnt := f.counts[c*k : (c+1)*k]
			clear(sums)
			clear(cnt)
			changed := 0
			var sse float64
			if fast != nil {
				var near [fastBlock]int32
				for bl := lo; bl < hi; bl += fastBlock {
					bh := min(hi, bl+fastBlock)
					f.assign(fast, centers, bl, bh, near[:bh-bl])
					for i := bl; i < bh; i++ {
						a := int(near[i-bl])
						if old := int(labels[i]); first || a != old {
							changed++
							moveRow(sums, cnt, f.row(i), old, a, first)
							labels[i] = int32(a)
						}
						if final {
							s2 := sqDist(f.row(i), centers[a*d:(a+1)*d])
							dist[i] = math.Sqrt(s2)
							sse += s2
						}
					}
				}
				f.ipart[c] = changed
				f.part[c*partWidth] = sse
				return
			}
			for i := lo; i < hi; i++ {
				x := f.row(i)
				a := int(labels[i])
				u := upper[i] + shift[a]
				if elkan {
					lb := lower[i*k : (i+1)*k : (i+1)*k]
					switch {
					case first:
						u = math.Inf(1)
						for j := range k {
							v := math.Sqrt(sqDist(x, centers[j*d:(j+1)*d]))
							lb[j] = v
							if v < u {
								u, a = v, j
							}
						}
					case u <= half[a]:
						for j, s := range shift {
							lb[j] -= s
						}
					default:
						// Loosen each bound by its centre's shift and test
						// it in the same pass.
						a0, tight := a, false
						lb = lb[:len(shift)]
						ccA := cc[a*k : (a+1)*k : (a+1)*k]
						ccA = ccA[:len(shift)]
						for j, s := range shift {
							l := lb[j] - s
							lb[j] = l
							if j == a || u <= l || u <= ccA[j] {
								continue
							}
							if !tight {
								u = math.Sqrt(sqDist(x, centers[a*d:(a+1)*d]))
								tight = true
								if u <= l || u <= ccA[j] {
									continue
								}
							}
							v := math.Sqrt(sqDist(x, centers[j*d:(j+1)*d]))
							lb[j] = v
							if v < u {
								u, a = v, j
								ccA = cc[a*k : (a+1)*k : (a+1)*k]
								ccA = ccA[:len(shift)]
							}
						}
						if tight && a == a0 {
							lb[a0] = u // exact; written after the loop has shifted it
						}
					}
				} else {
					l := lower[i] - maxShift
					if a == maxIdx {
						l = lower[i] - maxShift2
					}
					if m := max(half[a], l); first || u > m {
						u = math.Sqrt(sqDist(x, centers[a*d:(a+1)*d]))
						if first || u > m {
							b1, b2, bj := math.Inf(1), math.Inf(1), 0
							for j := range k {
								v := sqDistBound(x, centers[j*d:(j+1)*d], b2)
								if v < b1 {
									b1, b2, bj = v, b1, j
								} else if v < b2 {
									b2 = v
								}
							}
							a = bj
							u, l = math.Sqrt(b1), math.Sqrt(b2)
						}
					}
					lower[i] = l
				}
				upper[i] = u
				if old := int(labels[i]); first || a != old {
					changed++
					moveRow(sums, cnt, x, old, a, first)
					labels[i] = int32(a)
				}
				if final {
					s2 := sqDist(x, centers[a*d:(a+1)*d])
					dist[i] = math.Sqrt(s2)
					sse += s2
				}
			}
			f.ipart[c] = changed
			f.part[c*partWidth] = sse
		})
		if final {
			inertia = f.sumPart(0)
			break
		}
		iter++
		changed := 0
		for c := range f.nChunks {
			changed += f.ipart[c]
		}
		f.addDeltas(runSums, totals)
		if iter > 1 && changed == 0 && !relocated {
			// Same labels, so the same sums: the centres cannot move.
			clear(shift)
			maxShift, maxShift2, maxIdx = 0, 0, -1
			final = true
			continue
		}
		relocated = f.relocateEmpty(centers, runSums, totals, labels, dist, upper, lower, nb)
		copy(newCenters, runSums)
		var tot float64
		maxShift, maxShift2, maxIdx = 0, 0, -1
		for j := range k {
			nc := newCenters[j*d : (j+1)*d]
			if totals[j] > 0 {
				inv := 1 / float64(totals[j])
				for t := range nc {
					nc[t] *= inv
				}
			} else {
				copy(nc, centers[j*d:(j+1)*d])
			}
			s2 := sqDist(nc, centers[j*d:(j+1)*d])
			tot += s2
			shift[j] = math.Sqrt(s2)
			if shift[j] > maxShift {
				maxShift2, maxShift, maxIdx = maxShift, shift[j], j
			} else if shift[j] > maxShift2 {
				maxShift2 = shift[j]
			}
		}
		centers, newCenters = newCenters, centers
		// The last pass re-assigns the rows to the moved centres, as
		// scikit-learn's final E-step, and measures the distances.
		final = tot <= tol || iter >= maxIter
	}
	return &run{centers: centers, inertia: inertia, iter: iter}
}

// moveRow moves row x from cluster old (unless first) to cluster a in the
// partial sums and counts.
func moveRow(sums []float64, cnt []int, x []float64, old, a int, first bool) {
	d := len(x)
	if !first {
		s := sums[old*d : (old+1)*d]
		s = s[:len(x)]
		for j, v := range x {
			s[j] -= v
		}
		cnt[old]--
	}
	s := sums[a*d : (a+1)*d]
	s = s[:len(x)]
	for j, v := range x {
		s[j] += v
	}
	cnt[a]++
}

// halfDistances sets cc[a*k+b] to half the distance between centres a and b
// and half[a] to the smallest of those over b ≠ a (+Inf when k == 1).
func (f *fitter) halfDistances(centers, half, cc []float64) {
	d, k := f.d, f.k
	for j := range half {
		half[j] = math.Inf(1)
	}
	for a := range k {
		cc[a*k+a] = 0
		for b := a + 1; b < k; b++ {
			h := 0.5 * math.Sqrt(sqDist(centers[a*d:(a+1)*d], centers[b*d:(b+1)*d]))
			cc[a*k+b], cc[b*k+a] = h, h
			half[a] = min(half[a], h)
			half[b] = min(half[b], h)
		}
	}
}

// addDeltas adds the per-chunk centre sums and counts to sums and totals,
// in chunk order.
func (f *fitter) addDeltas(sums []float64, totals []int) {
	kd := f.k * f.d
	for c := range f.nChunks {
		for j, v := range f.sums[c*kd : (c+1)*kd] {
			sums[j] += v
		}
		for j, v := range f.counts[c*f.k : (c+1)*f.k] {
			totals[j] += v
		}
	}
}

// relocateEmpty re-seeds each empty cluster with one of the rows farthest
// from their current centre (as scikit-learn does), moving that row from its
// donor cluster (label, sum and count). Donors with a single member are
// skipped. The moved row's bounds are reset so that the next assignment
// searches all centres for it. dist is scratch.
func (f *fitter) relocateEmpty(centers, sums []float64, totals []int, labels []int32, dist, upper, lower []float64, nb int) (moved bool) {
	empty := 0
	for _, t := range totals {
		if t == 0 {
			empty++
		}
	}
	if empty == 0 {
		return false
	}
	d := f.d
	f.run(func(c, lo, hi int) {
		for i := lo; i < hi; i++ {
			a := int(labels[i])
			dist[i] = sqDist(f.row(i), centers[a*d:(a+1)*d])
		}
	})
	// The farthest `empty` rows, by distance then index: a small sorted list.
	far := make([]int, 0, empty)
	for i, v := range dist[:f.n] {
		if v <= 0 || (len(far) == empty && v <= dist[far[empty-1]]) {
			continue
		}
		p := sort.Search(len(far), func(q int) bool { return dist[far[q]] < v })
		if len(far) < empty {
			far = append(far, 0)
		}
		copy(far[p+1:], far[p:len(far)-1])
		far[p] = i
	}
	fi := 0
	for j, t := range totals {
		if t != 0 {
			continue
		}
		for fi < len(far) && totals[labels[far[fi]]] <= 1 {
			fi++
		}
		if fi == len(far) {
			return moved
		}
		i := far[fi]
		fi++
		a := int(labels[i])
		x := f.row(i)
		for t, v := range x {
			sums[a*d+t] -= v
		}
		totals[a]--
		copy(sums[j*d:(j+1)*d], x)
		totals[j] = 1
		labels[i] = int32(j)
		upper[i] = math.Inf(1) // with zero lower bounds, forces a full search next time
		clear(lower[i*nb : (i+1)*nb])
		moved = true
	}
	return moved
}

// RadiusQuantile is the member-distance quantile used as a cluster's radius.
//
// The 99th percentile rather than the maximum, because the maximum is set by
// the single most extreme training row — baseline traffic is never perfectly
// clean, so that row is often an anomaly itself — and would make one noisy
// cluster swallow real outliers. Not the mean or median, because those
// describe the core of the cluster, and a detector tuned for a false-positive
// rate around 0.1% cares about its edge. With Normalize, a score of 1 means
// "as far out as the 1% outermost members of that cluster".
const RadiusQuantile = 0.99

// RadiusFloor returns the smallest radius a model may hold for training
// inertia sse over n rows: 1e-3 of the root-mean-square member distance (and
// at least 1e-12), so a cluster of identical rows does not divide by zero.
func RadiusFloor(sse float64, n int) float64 {
	if n <= 0 {
		return 1e-12
	}
	return max(1e-12, 1e-3*math.Sqrt(sse/float64(n)))
}

// radii returns the cluster sizes and the RadiusQuantile member distance of
// each cluster (nearest rank), floored by RadiusFloor. It reorders dist.
func radii(labels []int32, dist []float64, k int, sse float64) ([]int, []float64) {
	sizes := make([]int, k)
	for _, a := range labels {
		sizes[a]++
	}
	start := make([]int, k+1)
	for j := range k {
		start[j+1] = start[j] + sizes[j]
	}
	grouped := make([]float64, len(dist))
	pos := append([]int(nil), start[:k]...)
	for i, a := range labels {
		grouped[pos[a]] = dist[i]
		pos[a]++
	}
	floor := RadiusFloor(sse, len(labels))
	r := make([]float64, k)
	for j := range k {
		seg := grouped[start[j]:start[j+1]]
		if len(seg) == 0 {
			r[j] = floor
			continue
		}
		rank := int(math.Ceil(RadiusQuantile*float64(len(seg)))) - 1
		r[j] = max(floor, selectK(seg, max(rank, 0)))
	}
	return sizes, r
}

// selectK returns the element that would be at index q if a were sorted,
// reordering a (Hoare's quickselect with a median-of-three pivot).
func selectK(a []float64, q int) float64 {
	lo, hi := 0, len(a)-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		if a[mid] < a[lo] {
			a[mid], a[lo] = a[lo], a[mid]
		}
		if a[hi] < a[lo] {
			a[hi], a[lo] = a[lo], a[hi]
		}
		if a[hi] < a[mid] {
			a[hi], a[mid] = a[mid], a[hi]
		}
		p := a[mid]
		i, j := lo, hi
		for i <= j {
			for a[i] < p {
				i++
			}
			for a[j] > p {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i++
				j--
			}
		}
		switch {
		case q <= j:
			hi = j
		case q >= i:
			lo = i
		default:
			return a[q]
		}
	}
	return a[q]
}
