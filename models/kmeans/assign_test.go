package kmeans

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// argmin64 is the reference assignment: the lowest index among the centres
// at the smallest float64 sqDist.
func argmin64(x, centers []float64, k int) int {
	d := len(x)
	bv, b := math.Inf(1), 0
	for j := range k {
		if v := sqDist(x, centers[j*d:(j+1)*d]); v < bv {
			bv, b = v, j
		}
	}
	return b
}

// TestAssignExact checks the float32-filtered assignment against the
// float64 argmin on rows built to be exact and near ties — rows at the
// midpoint of two centres, nudged by a few float64 or float32 ulps — with a
// large common offset so that float32 rounding is far coarser than the
// gaps. It covers the AVX2 kernel (k ≤ 8, rows in fours), the portable
// remainder rows and the grouped path (k > 8).
func TestAssignExact(t *testing.T) {
	for _, tc := range []struct {
		name   string
		n, d   int
		k      int
		offset float64
	}{
		{"k8 d20", 1003, 20, 8, 0},
		{"k3 d1", 257, 1, 3, 0},
		{"k5 d7 offset", 515, 7, 5, 1e3},
		{"k8 d20 big offset", 400, 20, 8, 1e6},
		{"k8 d20 offset 1e4", 4000, 20, 8, 1e4},
		{"k7 d5 offset 100", 4001, 5, 7, 100},
		{"k13 d9", 301, 9, 13, 10},
		{"k16 d3", 130, 3, 16, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tc.n), uint64(tc.k)))
			n, d, k := tc.n, tc.d, tc.k
			centers := make([]float64, k*d)
			for i := range centers {
				centers[i] = tc.offset + rng.Float64()
			}
			if k > 2 {
				copy(centers[2*d:3*d], centers[:d]) // a duplicated centre: exact ties
			}
			data := make([]float64, n*d)
			for i := range n {
				x := data[i*d : (i+1)*d]
				a, b := rng.IntN(k), rng.IntN(k)
				for j := range x {
					ca, cb := centers[a*d+j], centers[b*d+j]
					x[j] = (ca + cb) / 2
					switch i % 4 {
					case 1:
						x[j] = math.Nextafter(x[j], ca)
					case 2:
						x[j] += (ca - cb) * 0x1p-26 // inside float32's rounding
					case 3:
						x[j] = tc.offset + rng.Float64()
					}
				}
			}
			f := newFitter(mat.NewDense(n, d, data), k, 1)
			s := f.newFastState()
			if s == nil {
				t.Fatal("data refused by the fast path")
			}
			s.setCenters(centers, k, d)
			got := make([]int32, fastBlock)
			for lo := 0; lo < n; lo += fastBlock {
				hi := min(n, lo+fastBlock)
				f.assign(s, centers, lo, hi, got[:hi-lo])
				for i := lo; i < hi; i++ {
					if want := argmin64(f.row(i), centers, k); int(got[i-lo]) != want {
						t.Fatalf("row %d: assigned %d, float64 argmin %d", i, got[i-lo], want)
					}
				}
			}
		})
	}
}

// TestDist8 checks the float32 distance kernels against float64 within
// float32's error bound, the AVX2 one (rows in fours) and the portable one.
func TestDist8(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, d := range []int{1, 3, 20, 33} {
		n := 13
		x := make([]float32, n*d)
		c := make([]float32, d*8)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		for i := range c {
			c[i] = float32(rng.NormFloat64())
		}
		for _, kern := range []func(x, c, out []float32, n, d int){dist8, dist8Go} {
			out := make([]float32, n*8)
			kern(x, c, out, n, d)
			for i := range n {
				for l := range 8 {
					var want float64
					for j := range d {
						v := float64(x[i*d+j]) - float64(c[j*8+l])
						want += v * v
					}
					if got := float64(out[i*8+l]); math.Abs(got-want) > float64(2*d+4)*0x1p-24*want {
						t.Fatalf("d=%d row %d centre %d: %v, want %v", d, i, l, got, want)
					}
				}
			}
		}
	}
}

// TestFastMatchesElkan fits the same data with the fast assignment and with
// Elkan's bounds. Both give the float64 argmin every iteration, so the
// iterations, sizes and centroids must agree.
func TestFastMatchesElkan(t *testing.T) {
	if !fastAssign {
		t.Skip("no AVX2/FMA: Fit uses Elkan's bounds only")
	}
	full, _ := loadFixture(t)
	X := full.Slice(0, 6000, 0, 20).(*mat.Dense)
	for _, k := range []int{1, 5, 8, 12} {
		fast, err := Fit(X, Config{K: k, Seed: 5})
		if err != nil {
			t.Fatal(err)
		}
		fastAssign = false
		elkan, err := Fit(X, Config{K: k, Seed: 5})
		fastAssign = true
		if err != nil {
			t.Fatal(err)
		}
		if fast.Iterations != elkan.Iterations || !slices.Equal(fast.Sizes, elkan.Sizes) {
			t.Errorf("k=%d fast: %d iterations, sizes %v; Elkan: %d, %v", k, fast.Iterations, fast.Sizes, elkan.Iterations, elkan.Sizes)
		}
		for i, v := range fast.Centroids {
			if math.Abs(v-elkan.Centroids[i]) > 1e-12 {
				t.Fatalf("k=%d centroid value %d: fast %v, Elkan %v", k, i, v, elkan.Centroids[i])
			}
		}
		if b := bruteInertia(X, fast); math.Abs(b-fast.Inertia()) > 1e-9*b {
			t.Errorf("k=%d fast inertia %v, brute force %v", k, fast.Inertia(), b)
		}
	}
}

// TestFastRefusesHugeValues: values beyond fastMaxAbs could overflow the
// float32 squares, so such data go to the float64 path.
func TestFastRefusesHugeValues(t *testing.T) {
	X := mat.NewDense(4, 1, []float64{0, 1, 2e18, 3})
	f := newFitter(X, 2, 1)
	if f.fast() != nil {
		t.Error("fast path accepted a value of 2e18")
	}
	m, err := Fit(X, Config{K: 2, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if m.Sizes[0]+m.Sizes[1] != 4 || min(m.Sizes[0], m.Sizes[1]) != 1 {
		t.Errorf("sizes %v; want the 2e18 row alone", m.Sizes)
	}
}
