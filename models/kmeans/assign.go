package kmeans

import (
	"math"
)

// The fast assignment step (used by lloyd when fastAssign is set, k ≤
// fastMaxK and the data are small enough for float32): every row is
// compared with every centre, in float32 on a copy of the data, eight
// centres at a time (one AVX2 register), and the float32 distances are used
// only as a filter. A centre whose float32 distance is, by a rigorous error
// bound, farther than the best centre's can be ruled out; the rare rows
// where two or more centres survive are settled by float64 distances. The
// labels are therefore exactly the float64 argmin (ties to the lower index)
// that a plain float64 Lloyd step would give.
//
// Error bound. With u = 2⁻²⁴, x̃ and c̃ the float32 roundings of a row and a
// centre, ‖x̃−c̃‖ is within u(‖x‖+‖c‖) of ‖x−c‖, and the float32 sum of
// squared differences (one rounding per subtraction and per fused or
// unfused multiply-add, all terms positive) is within (2d+4)u relative
// error of ‖x̃−c̃‖². For the distances r = √D we use, twice over,
//
//	|r_j − √D̃_j| ≤ ε√D̃_j + η,  ε = 2(2d+8)u,  η = 2u(‖x‖ + max_j ‖c_j‖) + 1e-18,
//
// which also covers float64's own rounding (relative d·2⁻⁵³). Centre j is
// ruled out when √D̃_j(1−ε) − η > √D̃_b(1+ε) + η for the float32 best b.

const (
	fastMaxK   = 16   // beyond this Elkan's bounds win: BenchmarkKMeansFitK, k = 32 took twice as long brute force
	fastBlock  = 128  // rows per kernel call; fastBlock*fastMaxK float32 live on the stack
	fastMaxAbs = 1e18 // larger |values| could overflow float32 squares
)

// fastAssign selects the brute-force float32-filtered assignment when the
// CPU has AVX2 and FMA; a variable so that tests can compare both paths.
var fastAssign = haveAVX2FMA

// fastState is the float32 copy of the data and the per-iteration centres.
type fastState struct {
	x32   []float32 // n×d row-major
	xnorm []float32 // ‖x_i‖, rounded up
	ct    []float32 // groups×d×8: centre g*8+l's feature j at ct[(g*d+j)*8+l]
	eps   float64   // the relative error bound ε

	// The tie bound's coefficients for the current centres: a row whose
	// float32 minimum is m rules out the centres farther than
	// (√m·a + ‖x‖·b + c)² (see the error bound above).
	a, b, c float32
}

// newFastState converts the data to float32, or returns nil if a value is
// too large for the float32 filter to be safe.
func (f *fitter) newFastState() *fastState {
	n, d := f.n, f.d
	s := &fastState{
		x32:   make([]float32, n*d),
		xnorm: make([]float32, n),
		ct:    make([]float32, (f.k+7)/8*d*8),
		eps:   2 * float64(2*d+8) * 0x1p-24,
	}
	f.run(func(c, lo, hi int) {
		big := 0
		for i := lo; i < hi; i++ {
			var ss float64
			dst := s.x32[i*d : (i+1)*d]
			for j, v := range f.row(i) {
				if math.Abs(v) > fastMaxAbs {
					big++
				}
				dst[j] = float32(v)
				ss += v * v
			}
			s.xnorm[i] = float32(math.Sqrt(ss) * (1 + 0x1p-20))
		}
		f.ipart[c] = big
	})
	for c := range f.nChunks {
		if f.ipart[c] != 0 {
			return nil
		}
	}
	return s
}

// setCenters stores centers (k×d, float64) transposed in float32 groups of
// eight and their largest norm.
func (s *fastState) setCenters(centers []float64, k, d int) {
	for i := range s.ct {
		s.ct[i] = float32(math.Inf(1)) // lanes beyond k: never nearest
	}
	var cmax float64
	for j := range k {
		g, l := j/8, j%8
		var ss float64
		for t, v := range centers[j*d : (j+1)*d] {
			s.ct[(g*d+t)*8+l] = float32(v)
			ss += v * v
		}
		cmax = max(cmax, math.Sqrt(ss))
	}
	// 2η = 2⁻²²(‖x‖ + cmax) + 2e-18; everything over (1−ε) and rounded up
	// by 2⁻¹⁸ (64 float32 ulps), far more than the float32 arithmetic that
	// evaluates the bound can lose.
	up := (1 + 0x1p-18) / (1 - s.eps)
	s.a = float32((1 + s.eps) * up)
	s.b = float32(0x1p-22 * up)
	s.c = float32((0x1p-22*cmax*(1+0x1p-20) + 2e-18) * up)
}

// assign writes to dst[i-lo] the index of the centre nearest (in float64,
// by sqDist, ties to the lower index) to row i, for lo ≤ i < hi, with
// hi-lo ≤ fastBlock. It does not allocate.
func (f *fitter) assign(s *fastState, centers []float64, lo, hi int, dst []int32) {
	d, k := f.d, f.k
	done := 0
	if k <= 8 {
		done = assign8(s.x32[lo*d:hi*d], s.ct, s.xnorm[lo:hi], dst, hi-lo, d, s.a, s.b, s.c)
		for r, b := range dst[:done] {
			if b < 0 { // a near tie: settle it in float64
				dst[r] = int32(nearest64(f.row(lo+r), centers, d, k, nil, 0))
			}
		}
	}
	if lo+done < hi {
		f.assignGo(s, centers, lo+done, hi, dst[done:])
	}
}

// nearest64 returns the index of the centre nearest x by sqDist (ties to
// the lower index) among those j < k with out[j] ≤ lim2, or all when out is
// nil.
func nearest64(x, centers []float64, d, k int, out []float32, lim2 float32) int {
	bv, b := math.Inf(1), 0
	for j := range k {
		if out != nil && !(out[j] <= lim2) {
			continue
		}
		if v := sqDist(x, centers[j*d:(j+1)*d]); v < bv {
			bv, b = v, j
		}
	}
	return b
}

// filterRow gathers row r of the float32 squared distances dist8 wrote for
// n rows into row[:k] and returns the float32 winner, the bound lim2 under
// which a centroid may still be the float64 nearest (from the error bound
// a, b, c and the row's norm xnorm, see fastState), and how many are under
// it: with one, the float32 winner is the float64 one.
func filterRow(out []float32, n, r, k int, row *[fastMaxK]float32, xnorm, a, b, c float32) (win int, lim2 float32, near int) {
	best := float32(math.Inf(1))
	for j := range k {
		v := out[(j/8*n+r)*8+j%8]
		row[j] = v
		if v < best {
			best, win = v, j
		}
	}
	t := math.Sqrt(float64(best))*float64(a) + float64(xnorm)*float64(b) + float64(c)
	lim2 = float32(t * t * (1 + 0x1p-18))
	for _, v := range row[:k] {
		if v <= lim2 {
			near++
		}
	}
	return win, lim2, near
}

// assignGo is assign's portable path (any k ≤ fastMaxK).
func (f *fitter) assignGo(s *fastState, centers []float64, lo, hi int, dst []int32) {
	var out [fastBlock * fastMaxK]float32
	n, d, k := hi-lo, f.d, f.k
	groups := (k + 7) / 8
	x := s.x32[lo*d : hi*d]
	for g := range groups {
		dist8(x, s.ct[g*d*8:(g+1)*d*8], out[g*n*8:(g+1)*n*8], n, d)
	}
	var row [fastMaxK]float32
	for r := range n {
		b, lim2, near := filterRow(out[:], n, r, k, &row, s.xnorm[lo+r], s.a, s.b, s.c)
		if near > 1 {
			b = nearest64(f.row(lo+r), centers, d, k, row[:k], lim2)
		}
		dst[r] = int32(b)
	}
}

// dist8Go is the portable kernel: out[i*8+l] = Σ_j (x[i*d+j] − c[j*8+l])²
// in float32 for i < n.
func dist8Go(x, c, out []float32, n, d int) {
	c = c[:d*8]
	for i := range n {
		xr := x[i*d : (i+1)*d]
		var acc [8]float32
		for j, v := range xr {
			cj := c[j*8 : j*8+8]
			for l := range acc {
				t := v - cj[l]
				acc[l] += t * t
			}
		}
		copy(out[i*8:i*8+8], acc[:])
	}
}
