package kmeans

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/mat"
)

// KReport describes one candidate k tried by ChooseK.
type KReport struct {
	K          int     `json:"k"`
	Inertia    float64 `json:"inertia"`    // on all rows
	Silhouette float64 `json:"silhouette"` // mean silhouette on the sample; NaN when undefined (k = 1, or one cluster in the sample)
	Iterations int     `json:"iterations"`
}

// Sample bounds for ChooseK's silhouette, which costs O(sample² × features)
// per k.
const (
	DefaultSilhouetteSample = 2000
	MaxSilhouetteSample     = 10000
	maxKs                   = 64
)

// ChooseK fits one model per k in ks (cfg gives the other settings) and
// reports each one's inertia and mean silhouette coefficient (Rousseeuw
// 1987) on sampleSize rows drawn without replacement with cfg.Seed
// (≤ 0 means DefaultSilhouetteSample; at most MaxSilhouetteSample; at most
// the number of rows). The same sample is used for every k.
//
// The rule: the chosen k has the highest silhouette; ties go to the smaller
// k. Inertia always falls as k grows, so it cannot choose k by itself (it is
// reported for an elbow plot); the silhouette rewards clusters that are both
// tight and apart, and is bounded in [-1, 1], so values for different k
// compare directly. k = 1 has no silhouette and is never chosen.
func ChooseK(X *mat.Dense, ks []int, cfg Config, sampleSize int) ([]KReport, int, error) {
	if len(ks) == 0 || len(ks) > maxKs {
		return nil, 0, fmt.Errorf("kmeans: %d candidate k values, want 1..%d", len(ks), maxKs)
	}
	if X == nil || X.IsEmpty() {
		return nil, 0, errors.New("kmeans: no training rows")
	}
	n, d := X.Dims()
	for _, k := range ks {
		if k < 1 || k > n || k > MaxK {
			return nil, 0, fmt.Errorf("kmeans: candidate k = %d out of range [1, min(rows=%d, %d)]", k, n, MaxK)
		}
	}
	if sampleSize <= 0 {
		sampleSize = DefaultSilhouetteSample
	}
	sampleSize = min(sampleSize, MaxSilhouetteSample, n)
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x73696c686f756574)) // "silhouet"
	idx := sampleIndices(rng, n, sampleSize)
	S := make([]float64, len(idx)*d)
	for r, i := range idx {
		mat.Row(S[r*d:(r+1)*d], i, X)
	}
	workers := cfg.Workers
	if workers <= 0 {
		cfg2, _ := Config{}.withDefaults()
		workers = cfg2.Workers
	}

	reports := make([]KReport, 0, len(ks))
	best, bestS := 0, math.Inf(-1)
	labels := make([]int32, len(idx))
	for _, k := range ks {
		c := cfg
		c.K = k
		m, err := Fit(X, c)
		if err != nil {
			return nil, 0, fmt.Errorf("k = %d: %w", k, err)
		}
		for r := range idx {
			j, _ := m.Nearest(S[r*d : (r+1)*d])
			labels[r] = int32(j)
		}
		s := silhouette(S, d, labels, k, workers)
		reports = append(reports, KReport{K: k, Inertia: m.Inertia(), Silhouette: s, Iterations: m.Iterations})
		if !math.IsNaN(s) && (s > bestS || (s == bestS && k < best)) {
			best, bestS = k, s
		}
	}
	if best == 0 {
		return reports, 0, errors.New("kmeans: no candidate k has a silhouette (need k ≥ 2 and two clusters in the sample)")
	}
	return reports, best, nil
}

// silhouette returns the mean silhouette coefficient of the s = len(labels)
// rows of S (row-major, d columns) as scikit-learn's silhouette_score: for
// row i, a = mean distance to the other members of its cluster, b = the
// lowest mean distance to the members of another cluster, s_i =
// (b−a)/max(a, b), and 0 for a row alone in its cluster. NaN when fewer than
// two clusters are present.
func silhouette(S []float64, d int, labels []int32, k, workers int) float64 {
	s := len(labels)
	size := make([]int, k)
	for _, a := range labels {
		size[a]++
	}
	present := 0
	for _, c := range size {
		if c > 0 {
			present++
		}
	}
	if present < 2 {
		return math.NaN()
	}
	coef := make([]float64, s)
	const block = 32
	nBlocks := (s + block - 1) / block
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, nBlocks) {
		wg.Go(func() {
			sum := make([]float64, k)
			for {
				bl := int(next.Add(1) - 1)
				if bl >= nBlocks {
					return
				}
				for i := bl * block; i < min(s, (bl+1)*block); i++ {
					clear(sum)
					xi := S[i*d : (i+1)*d]
					for j := range s {
						sum[labels[j]] += math.Sqrt(sqDist(xi, S[j*d:(j+1)*d]))
					}
					own := labels[i]
					if size[own] == 1 {
						coef[i] = 0
						continue
					}
					a := sum[own] / float64(size[own]-1)
					b := math.Inf(1)
					for c := range k {
						if int32(c) != own && size[c] > 0 {
							b = min(b, sum[c]/float64(size[c]))
						}
					}
					if den := max(a, b); den > 0 {
						coef[i] = (b - a) / den
					}
				}
			}
		})
	}
	wg.Wait()
	var tot float64
	for _, v := range coef {
		tot += v
	}
	return tot / float64(s)
}
