package kmeans

import (
	"errors"
	"fmt"
	"math"

	"github.com/vigil-nids/vigil/models"
)

// Bounds that Validate enforces on a Model read from a file, so that a
// corrupt or hostile file cannot make Score loop over gigabytes.
const (
	MaxK      = 1 << 12 // clusters
	MaxDim    = 1 << 12 // features
	maxValues = 1 << 22 // K*Dims
)

var _ models.Scorer = (*Model)(nil)

// Model is a fitted k-means model. Its exported fields are its complete
// state: encoding/json round-trips it, and Validate must be called on one
// decoded from untrusted bytes before it is used.
//
// A Model is read-only once fitted; all methods are safe for concurrent use.
type Model struct {
	K    int `json:"k"`   // number of clusters
	Dims int `json:"dim"` // features per vector

	// Centroids holds the K centres row-major: centre j is
	// Centroids[j*Dims : (j+1)*Dims].
	Centroids []float64 `json:"centroids"`

	// Radius[j] is the 99th-percentile (nearest-rank) Euclidean distance of
	// cluster j's training members to its centre, floored at RadiusFloor.
	// It is what Score divides by when Normalize is set.
	Radius []float64 `json:"radius"`

	// Sizes[j] is the number of training rows assigned to cluster j.
	Sizes []int `json:"sizes"`

	// Normalize makes Score divide the distance by the nearest cluster's Radius.
	Normalize bool `json:"normalize"`

	SSE        float64 `json:"inertia"`    // training inertia: sum of squared distances to the nearest centre
	Iterations int     `json:"iterations"` // Lloyd iterations (or mini-batch steps) of the kept restart
	Rows       int     `json:"rows"`       // training rows
}

// Dim returns the number of features the model expects.
func (m *Model) Dim() int { return m.Dims }

// Inertia returns the training inertia: the sum over the training rows of
// the squared Euclidean distance to the nearest centroid.
func (m *Model) Inertia() float64 { return m.SSE }

// Centroid returns centre j as a slice of the model's storage; callers must
// not modify it.
func (m *Model) Centroid(j int) []float64 {
	return m.Centroids[j*m.Dims : (j+1)*m.Dims : (j+1)*m.Dims]
}

// Nearest returns the index of the centroid nearest to x and the Euclidean
// distance to it. Ties go to the lower index. If x holds NaN or the distance
// overflows, dist is +Inf (never NaN). It does not allocate. It panics if
// len(x) != Dim().
func (m *Model) Nearest(x []float64) (cluster int, dist float64) {
	if len(x) != m.Dims {
		panic("kmeans: dimension mismatch")
	}
	best := math.Inf(1)
	d := m.Dims
	c := m.Centroids[:m.K*d]
	for j := 0; j < m.K; j++ {
		if v := sqDist(x, c[j*d:(j+1)*d]); v < best {
			best, cluster = v, j
		}
	}
	return cluster, math.Sqrt(best)
}

// NearestFrom is Nearest, with centroid hint (any index; out of range is
// ignored) measured first: a good guess, such as the previous vector's
// cluster in a stream of similar flows, lets the distance to every other
// centroid stop as soon as it exceeds the best so far. The result is
// identical to Nearest's, bit for bit, whatever the hint.
func (m *Model) NearestFrom(x []float64, hint int) (cluster int, dist float64) {
	if len(x) != m.Dims {
		panic("kmeans: dimension mismatch")
	}
	if hint < 0 || hint >= m.K {
		return m.Nearest(x)
	}
	d := m.Dims
	c := m.Centroids[:m.K*d]
	best := sqDist(x, c[hint*d:(hint+1)*d])
	if !(best < math.Inf(1)) { // NaN or overflow: Nearest's rules
		return m.Nearest(x)
	}
	cluster = hint
	for j := 0; j < m.K; j++ {
		if j == hint {
			continue
		}
		// sqDistBound returns early only with a partial sum above best,
		// and the full sum is at least the partial one, so such a centroid
		// could not have won. Ties go to the lower index, as in Nearest.
		if v := sqDistBound(x, c[j*d:(j+1)*d], best); v < best || (v == best && j < cluster) {
			best, cluster = v, j
		}
	}
	return cluster, math.Sqrt(best)
}

// ScoreCluster is Score, also returning the nearest centroid (for
// ExplainCluster) and taking NearestFrom's hint. The score equals Score's
// bit for bit.
func (m *Model) ScoreCluster(x []float64, hint int) (score float64, cluster int) {
	j, dist := m.NearestFrom(x, hint)
	if m.Normalize {
		return dist / m.Radius[j], j
	}
	return dist, j
}

// Score returns the anomaly score of the scaled vector x: the Euclidean
// distance to the nearest centroid, divided by that cluster's Radius when
// Normalize is set. Higher is more anomalous. For a Model that passed
// Validate (or came from Fit) the score is never NaN; it is +Inf for
// non-finite input. Score does not allocate and panics if len(x) != Dim().
func (m *Model) Score(x []float64) float64 {
	j, dist := m.Nearest(x)
	if m.Normalize {
		return dist / m.Radius[j]
	}
	return dist
}

// Explain writes into dst each feature's share of the squared distance from
// x to its nearest centroid: dst[i] = (x[i]-c[i])² / Σ(x-c)², so the shares
// sum to 1. When x sits exactly on the centroid, or the distance is not
// finite, there is nothing to apportion and every share is 0. If dst is nil
// a new slice is allocated; otherwise it must have length Dim(). Explain
// panics if len(x) != Dim() or dst has the wrong length.
func (m *Model) Explain(dst []float64, x []float64) []float64 {
	j, _ := m.Nearest(x)
	return m.ExplainCluster(dst, x, j)
}

// ExplainCluster is Explain with x's nearest centroid already known (from
// ScoreCluster or Nearest), so that it is not searched for again. Given
// another cluster it apportions the distance to that one. It panics if
// cluster is out of range, len(x) != Dim() or dst has the wrong length.
func (m *Model) ExplainCluster(dst []float64, x []float64, cluster int) []float64 {
	dst, _ = m.ExplainClusterSum(dst, x, cluster)
	return dst
}

// ExplainClusterSum is ExplainCluster, also returning the sum of the
// positive shares added in index order (models.TopNSum's total), computed
// as the shares are written.
func (m *Model) ExplainClusterSum(dst []float64, x []float64, cluster int) ([]float64, float64) {
	j := cluster
	if len(x) != m.Dims {
		panic("kmeans: dimension mismatch")
	}
	if dst == nil {
		dst = make([]float64, m.Dims)
	}
	if len(dst) != m.Dims {
		panic("kmeans: bad dst length")
	}
	c := m.Centroid(j)
	// Scale by the largest difference first so that the squares cannot
	// overflow for large but finite inputs.
	// Plain comparisons, not math.Max (a call on amd64): a NaN difference
	// is remembered apart, as math.Max would have made big NaN.
	var big float64
	nan := false
	x, c = x[:len(dst)], c[:len(dst)]
	for i := range dst {
		v := x[i] - c[i]
		dst[i] = v
		if a := math.Abs(v); a > big {
			big = a
		} else if a != a {
			nan = true
		}
	}
	if big == 0 || math.IsInf(big, 0) || nan {
		clear(dst)
		return dst, 0
	}
	var sum float64
	for i, v := range dst {
		v /= big
		dst[i] = v * v
		sum += dst[i]
	}
	var total float64
	for i := range dst {
		v := dst[i] / sum
		dst[i] = v
		if v > 0 {
			total += v
		}
	}
	return dst, total
}

// Validate checks a Model decoded from a file: K and Dims within bounds and
// consistent with the slice lengths, every centroid and radius finite, radii
// positive, sizes non-negative, inertia finite. A Model that passes cannot
// panic in Score, Nearest or Explain (given len(x) == Dim()) and Score never
// returns NaN.
func (m *Model) Validate() error {
	switch {
	case m == nil:
		return errors.New("kmeans: nil model")
	case m.K < 1 || m.K > MaxK:
		return fmt.Errorf("kmeans: k = %d out of range [1, %d]", m.K, MaxK)
	case m.Dims < 1 || m.Dims > MaxDim:
		return fmt.Errorf("kmeans: dim = %d out of range [1, %d]", m.Dims, MaxDim)
	case m.K*m.Dims > maxValues:
		return fmt.Errorf("kmeans: k*dim = %d exceeds %d", m.K*m.Dims, maxValues)
	case len(m.Centroids) != m.K*m.Dims:
		return fmt.Errorf("kmeans: %d centroid values, want k*dim = %d", len(m.Centroids), m.K*m.Dims)
	case len(m.Radius) != m.K:
		return fmt.Errorf("kmeans: %d radii, want k = %d", len(m.Radius), m.K)
	case len(m.Sizes) != 0 && len(m.Sizes) != m.K:
		return fmt.Errorf("kmeans: %d sizes, want 0 or k = %d", len(m.Sizes), m.K)
	case !finite(m.SSE) || m.SSE < 0:
		return fmt.Errorf("kmeans: inertia %v is not a finite non-negative number", m.SSE)
	case m.Iterations < 0 || m.Rows < 0:
		return errors.New("kmeans: negative iteration or row count")
	}
	for i, v := range m.Centroids {
		if !finite(v) {
			return fmt.Errorf("kmeans: centroid %d feature %d is %v", i/m.Dims, i%m.Dims, v)
		}
	}
	for j, r := range m.Radius {
		if !finite(r) || r <= 0 {
			return fmt.Errorf("kmeans: radius of cluster %d is %v, want finite > 0", j, r)
		}
	}
	for j, s := range m.Sizes {
		if s < 0 {
			return fmt.Errorf("kmeans: size of cluster %d is negative", j)
		}
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// sqDist returns the squared Euclidean distance between a and b[:len(a)],
// summed in four interleaved partial sums (a fixed order, so results are
// reproducible).
func sqDist(a, b []float64) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(a); i += 4 {
		d0 := a[i] - b[i]
		d1 := a[i+1] - b[i+1]
		d2 := a[i+2] - b[i+2]
		d3 := a[i+3] - b[i+3]
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < len(a); i++ {
		d := a[i] - b[i]
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

// sqDistBound is sqDist, except that it may stop early and return a partial
// sum once that exceeds bound (the caller only needs to know it is larger).
func sqDistBound(a, b []float64, bound float64) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(a); i += 4 {
		d0 := a[i] - b[i]
		d1 := a[i+1] - b[i+1]
		d2 := a[i+2] - b[i+2]
		d3 := a[i+3] - b[i+3]
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
		if i&7 == 4 && (s0+s1)+(s2+s3) > bound {
			return (s0 + s1) + (s2 + s3)
		}
	}
	for ; i < len(a); i++ {
		d := a[i] - b[i]
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}
