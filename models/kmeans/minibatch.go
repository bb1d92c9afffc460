package kmeans

import (
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/mat"
)

// maxNoImprovement is scikit-learn's MiniBatchKMeans default: stop after
// this many consecutive batches without a new minimum of the smoothed batch
// inertia.
const maxNoImprovement = 10

// miniBatch runs mini-batch k-means (Sculley 2010) as scikit-learn's
// MiniBatchKMeans: k-means++ on a subsample of 3 batches, then batches drawn
// uniformly with replacement, each centre moving towards its batch members
// with a per-centre learning rate 1/(members seen so far). It stops after
// cfg.MaxIter passes' worth of batches or when the exponentially weighted
// batch inertia has not improved for maxNoImprovement batches (Tol is not
// used). A centre that has received no row after the first
// maxNoImprovement batches is re-seeded at the batch row farthest from its
// centre. A final full pass assigns every row; labels and dist receive the
// result.
func (f *fitter) miniBatch(rng *rand.Rand, cfg Config, labels []int32, dist []float64) *run {
	n, d, k := f.n, f.d, f.k
	b := min(cfg.MiniBatch, n)

	// Seed the centres by k-means++ on a subsample drawn without replacement.
	initIdx := sampleIndices(rng, n, min(n, max(3*b, 3*k)))
	S := mat.NewDense(len(initIdx), d, nil)
	for r, i := range initIdx {
		S.SetRow(r, f.row(i))
	}
	sub := newFitter(S, k, f.workers)
	centers := make([]float64, k*d)
	sub.initPP(rng, centers, make([]float64, len(initIdx)), make([]float64, len(initIdx)))

	weight := make([]float64, k)
	batch := make([]int, b)
	bDist := make([]float64, b)
	bChunks := (b + chunkRows - 1) / chunkRows
	sums := make([]float64, k*d)
	totals := make([]int, k)
	alpha := min(1, float64(b)*2/float64(n+1))
	ewa, ewaMin := 0.0, math.Inf(1)
	noImp := 0
	steps := cfg.MaxIter * ((n + b - 1) / b)
	step := 0
	for step < steps {
		for t := range batch {
			batch[t] = rng.IntN(n)
		}
		f.runN(bChunks, b, func(c, lo, hi int) {
			s := f.sums[c*k*d : (c+1)*k*d]
			cnt := f.counts[c*k : (c+1)*k]
			clear(s)
			clear(cnt)
			var sse float64
			for t := lo; t < hi; t++ {
				x := f.row(batch[t])
				best, a := math.Inf(1), 0
				for j := range k {
					if v := sqDist(x, centers[j*d:(j+1)*d]); v < best {
						best, a = v, j
					}
				}
				bDist[t] = best
				sse += best
				cs := s[a*d : (a+1)*d]
				for q, v := range x {
					cs[q] += v
				}
				cnt[a]++
			}
			f.part[c*partWidth] = sse
		})
		clear(sums)
		clear(totals)
		var sse float64
		for c := range bChunks {
			for q, v := range f.sums[c*k*d : (c+1)*k*d] {
				sums[q] += v
			}
			for j, v := range f.counts[c*k : (c+1)*k] {
				totals[j] += v
			}
			sse += f.part[c*partWidth]
		}
		for j := range k {
			if totals[j] == 0 {
				continue
			}
			w := weight[j] + float64(totals[j])
			cj := centers[j*d : (j+1)*d]
			for q := range cj {
				cj[q] = (cj[q]*weight[j] + sums[j*d+q]) / w
			}
			weight[j] = w
		}
		step++
		if step >= maxNoImprovement {
			f.reseedStarved(centers, weight, batch, bDist)
		}

		batchInertia := sse / float64(b)
		if step == 1 {
			ewa = batchInertia
		} else {
			ewa = ewa*(1-alpha) + batchInertia*alpha
		}
		if ewa < ewaMin {
			ewaMin, noImp = ewa, 0
		} else if noImp++; noImp >= maxNoImprovement {
			break
		}
	}

	// Final full assignment.
	f.run(func(c, lo, hi int) {
		var sse float64
		for i := lo; i < hi; i++ {
			x := f.row(i)
			best, a := math.Inf(1), 0
			for j := range k {
				if v := sqDist(x, centers[j*d:(j+1)*d]); v < best {
					best, a = v, j
				}
			}
			labels[i] = int32(a)
			dist[i] = math.Sqrt(best)
			sse += best
		}
		f.part[c*partWidth] = sse
	})
	return &run{centers: centers, inertia: f.sumPart(0), iter: step}
}

// reseedStarved moves every centre that no row has reached yet to one of the
// batch rows farthest from their nearest centre (by squared distance bDist,
// ties to the earlier batch position), each row used at most once.
func (f *fitter) reseedStarved(centers, weight []float64, batch []int, bDist []float64) {
	d := f.d
	var order []int
	for j, w := range weight {
		if w != 0 {
			continue
		}
		if order == nil {
			order = make([]int, len(batch))
			for t := range order {
				order[t] = t
			}
			slices.SortStableFunc(order, func(p, q int) int {
				switch {
				case bDist[p] > bDist[q]:
					return -1
				case bDist[p] < bDist[q]:
					return 1
				}
				return 0
			})
		}
		if len(order) == 0 || bDist[order[0]] <= 0 {
			return
		}
		copy(centers[j*d:(j+1)*d], f.row(batch[order[0]]))
		weight[j] = 1
		order = order[1:]
	}
}

// sampleIndices returns s distinct indices in [0, n), in increasing order,
// drawn by Floyd's algorithm (O(s) memory).
func sampleIndices(rng *rand.Rand, n, s int) []int {
	seen := make(map[int]struct{}, s)
	out := make([]int, 0, s)
	for j := n - s; j < n; j++ {
		t := rng.IntN(j + 1)
		if _, ok := seen[t]; ok {
			t = j
		}
		seen[t] = struct{}{}
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}
