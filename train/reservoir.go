package train

import (
	"math/rand/v2"
)

// Reservoir keeps a uniform sample of at most Cap rows out of a stream of
// any length (Vitter's algorithm R), so training memory is bounded by Cap
// whatever the size of the baseline. The sample depends only on the seed
// and the order of the rows.
type Reservoir struct {
	dim  int
	cap  int
	seen int64
	data []float64 // row-major, len = min(seen, cap) * dim
	grp  []uint64  // the group (flow) of each kept row
	rng  *rand.Rand
}

// NewReservoir returns a reservoir of rows of dim values holding at most
// capRows rows. It panics if dim or capRows is not positive.
func NewReservoir(dim, capRows int, seed uint64) *Reservoir {
	if dim <= 0 || capRows <= 0 {
		panic("train: reservoir needs positive dim and capacity")
	}
	return &Reservoir{dim: dim, cap: capRows, rng: rand.New(rand.NewPCG(seed, 0x7265736572766f69))}
}

// Add offers one row that is a group of its own; the reservoir copies it.
// It panics if len(row) != dim.
func (r *Reservoir) Add(row []float64) { r.AddGroup(row, uint64(r.seen)) }

// AddGroup offers one row of group g: rows of one group (the interim and
// final records of one flow) are held out together and their scores are
// combined as detect combines them (an alert on any of them alerts the
// flow). The reservoir copies the row. It panics if len(row) != dim.
func (r *Reservoir) AddGroup(row []float64, g uint64) {
	if len(row) != r.dim {
		panic("train: reservoir row has the wrong length")
	}
	r.seen++
	if n := len(r.data) / r.dim; n < r.cap {
		r.data = append(r.data, row...)
		r.grp = append(r.grp, g)
		return
	}
	if j := r.rng.Int64N(r.seen); j < int64(r.cap) {
		copy(r.data[int(j)*r.dim:], row)
		r.grp[j] = g
	}
}

// Groups returns the group of each kept row. The slice is the reservoir's own.
func (r *Reservoir) Groups() []uint64 { return r.grp }

// Seen returns the number of rows offered; Len the number kept.
func (r *Reservoir) Seen() int64 { return r.seen }

// Len returns the number of rows kept.
func (r *Reservoir) Len() int { return len(r.data) / r.dim }

// Dim returns the row length.
func (r *Reservoir) Dim() int { return r.dim }

// Rows returns the kept rows, row-major. The slice is the reservoir's own.
func (r *Reservoir) Rows() []float64 { return r.data }
