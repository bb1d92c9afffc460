package iforest

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func uniform(rows, cols int, seed uint64) *mat.Dense {
	r := rand.New(rand.NewPCG(seed, 0))
	d := make([]float64, rows*cols)
	for i := range d {
		d[i] = r.Float64()
	}
	return mat.NewDense(rows, cols, d)
}

func mustFit(t testing.TB, X *mat.Dense, cfg Config) *Forest {
	t.Helper()
	f, err := Fit(X, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestAvgPathLength(t *testing.T) {
	// Values from scikit-learn 1.2.1's _average_path_length.
	for _, tc := range []struct{ n, want float64 }{
		{0, 0}, {1, 0}, {2, 1},
		{3, 1.207392357589623},
		{5, 2.327020052042847},
		{64, 7.471950782586131},
		{256, 10.244770920119917},
	} {
		if got := avgPathLength(tc.n); math.Abs(got-tc.want) > 1e-15 {
			t.Errorf("c(%v) = %.17g, want %.17g", tc.n, got, tc.want)
		}
	}
}

func TestDepthLimit(t *testing.T) {
	for _, tc := range []struct{ psi, want int }{{1, 1}, {2, 1}, {3, 2}, {4, 2}, {5, 3}, {255, 8}, {256, 8}, {257, 9}} {
		if got := depthLimit(tc.psi); got != tc.want {
			t.Errorf("depthLimit(%d) = %d, want %d", tc.psi, got, tc.want)
		}
	}
}

// TestHandBuiltTree scores a one-tree forest against the formula by hand.
func TestHandBuiltTree(t *testing.T) {
	// root: x0 <= 0.5 ? leaf(size 1) : (x1 <= 0 ? leaf(2) : leaf(1)); ψ = 4.
	f := &Forest{NumFeatures: 2, MaxSamples: 4, Trees: []Tree{{
		Left:      []int32{1, -1, 3, -1, -1},
		Right:     []int32{2, -1, 4, -1, -1},
		Size:      []int32{4, 1, 3, 2, 1},
		Feature:   []int32{0, -1, 1, -1, -1},
		Threshold: []float64{0.5, -2, 0, -2, -2},
	}}}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	c4 := 2*(math.Log(3)+0.5772156649015329) - 2*3.0/4
	for _, tc := range []struct {
		x []float64
		h float64
	}{
		{[]float64{0.5, 9}, 1},             // left leaf at depth 1, size 1
		{[]float64{0.6, 0}, 2 + 1},         // depth 2, size 2: c(2) = 1
		{[]float64{0.6, 0.1}, 2},           // depth 2, size 1
		{[]float64{math.NaN(), -1}, 2 + 1}, // NaN goes right, as in sklearn
		{[]float64{math.Inf(-1), 5}, 1},
	} {
		want := math.Pow(2, -tc.h/c4)
		if got := f.Score(tc.x); math.Abs(got-want) > 1e-15 {
			t.Errorf("Score(%v) = %v, want %v", tc.x, got, want)
		}
	}
}

func TestFitStructure(t *testing.T) {
	for _, tc := range []struct {
		name       string
		rows, cols int
		cfg        Config
		psi        int
	}{
		{"default", 1000, 5, Config{Seed: 1}, 256},
		{"small n", 100, 3, Config{Seed: 2}, 100},
		{"psi 64", 1000, 4, Config{Seed: 3, MaxSamples: 64, NEstimators: 10}, 64},
		{"one row", 1, 3, Config{Seed: 4}, 1},
		{"extended", 500, 6, Config{Seed: 5, ExtensionLevel: 2}, 256},
		{"fully extended", 500, 6, Config{Seed: 5, ExtensionLevel: 5}, 256},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := mustFit(t, uniform(tc.rows, tc.cols, 9), tc.cfg)
			want := tc.cfg.NEstimators
			if want == 0 {
				want = 100
			}
			if len(f.Trees) != want || f.MaxSamples != tc.psi || f.Dim() != tc.cols {
				t.Fatalf("trees %d ψ %d dim %d, want %d %d %d", len(f.Trees), f.MaxSamples, f.Dim(), want, tc.psi, tc.cols)
			}
			L := depthLimit(tc.psi)
			for ti, tr := range f.Trees {
				if tr.Size[0] != int32(tc.psi) {
					t.Fatalf("tree %d root size %d", ti, tr.Size[0])
				}
				// Leaves partition the sample; depth within the limit.
				leafSum := 0
				depth := make([]int, len(tr.Left))
				for i := range tr.Left {
					if tr.Left[i] < 0 {
						leafSum += int(tr.Size[i])
						if tc.cfg.ExtensionLevel == 0 && tr.Size[i] > 1 && depth[i] < L {
							t.Fatalf("tree %d: leaf %d above the depth limit holds %d distinct uniform rows", ti, i, tr.Size[i])
						}
						continue
					}
					depth[tr.Left[i]] = depth[i] + 1
					depth[tr.Right[i]] = depth[i] + 1
					if depth[i]+1 > L {
						t.Fatalf("tree %d too deep", ti)
					}
				}
				if leafSum != tc.psi {
					t.Fatalf("tree %d: leaves hold %d rows, want %d", ti, leafSum, tc.psi)
				}
			}
			s := f.Score(make([]float64, tc.cols))
			if !(s > 0 && s <= 1) {
				t.Fatalf("score %v", s)
			}
			if tc.psi == 1 && s != 0.5 {
				t.Fatalf("ψ = 1: score %v, want 0.5 as sklearn", s)
			}
		})
	}
}

// TestConstantFeatures: constant columns are never split on, and all-equal
// rows make single-leaf trees scoring 2^-(c(ψ)/c(ψ)) = 0.5.
func TestConstantFeatures(t *testing.T) {
	X := uniform(300, 4, 1)
	for i := range 300 {
		X.Set(i, 1, 7)
		X.Set(i, 3, -2)
	}
	f := mustFit(t, X, Config{Seed: 1, NEstimators: 20})
	for _, tr := range f.Trees {
		for i, ft := range tr.Feature {
			if tr.Left[i] >= 0 && (ft == 1 || ft == 3) {
				t.Fatalf("split on constant feature %d", ft)
			}
		}
	}
	same := mat.NewDense(50, 3, nil)
	g := mustFit(t, same, Config{Seed: 1, NEstimators: 5})
	for _, tr := range g.Trees {
		if len(tr.Left) != 1 {
			t.Fatalf("constant data: tree with %d nodes", len(tr.Left))
		}
	}
	if s := g.Score([]float64{1, 2, 3}); s != 0.5 {
		t.Fatalf("constant data: score %v, want 0.5", s)
	}
}

// TestReproducible: one seed, bit-identical forests whatever the workers.
func TestReproducible(t *testing.T) {
	X := uniform(2000, 5, 3)
	for _, ext := range []int{0, 3} {
		enc := func(seed uint64, workers int) []byte {
			b, err := json.Marshal(mustFit(t, X, Config{Seed: seed, Workers: workers, ExtensionLevel: ext, NEstimators: 40}))
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		a, b := enc(42, 1), enc(42, 4)
		if !bytes.Equal(a, b) {
			t.Fatalf("ext %d: workers 1 and 4 give different forests", ext)
		}
		if bytes.Equal(a, enc(43, 4)) {
			t.Fatalf("ext %d: seeds 42 and 43 give the same forest", ext)
		}
	}
}

func TestScoreBatchMatchesScore(t *testing.T) {
	X := uniform(1000, 4, 5)
	for _, ext := range []int{0, 2} {
		f := mustFit(t, X, Config{Seed: 7, ExtensionLevel: ext})
		Q := uniform(64*3+7, 4, 6) // odd row count, partial last block
		for _, w := range []int{1, 2, 5} {
			got := f.ScoreBatch(make([]float64, 3), Q, w)
			if len(got) != 64*3+7 {
				t.Fatalf("len %d", len(got))
			}
			for i := range got {
				if want := f.Score(Q.RawRowView(i)); got[i] != want {
					t.Fatalf("ext %d workers %d row %d: batch %v, Score %v", ext, w, i, got[i], want)
				}
			}
		}
	}
}

func TestScoreNoAllocs(t *testing.T) {
	for _, ext := range []int{0, 3} {
		f := mustFit(t, uniform(500, 6, 1), Config{Seed: 1, ExtensionLevel: ext})
		x := []float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6}
		if n := testing.AllocsPerRun(200, func() { f.Score(x) }); n != 0 {
			t.Errorf("ext %d: Score allocs = %v; want 0", ext, n)
		}
		dst := make([]float64, 6)
		if n := testing.AllocsPerRun(200, func() { f.Explain(dst, x) }); n != 0 {
			t.Errorf("ext %d: Explain allocs = %v; want 0", ext, n)
		}
		Q := uniform(100, 6, 2)
		out := make([]float64, 100)
		if n := testing.AllocsPerRun(50, func() { f.ScoreBatch(out, Q, 1) }); n != 0 {
			t.Errorf("ext %d: ScoreBatch(workers 1) allocs = %v; want 0", ext, n)
		}
	}
}

// TestOutlierScores: a point far from a uniform cloud scores well above the
// points inside it, for both kinds of forest.
func TestOutlierScores(t *testing.T) {
	X := uniform(2000, 3, 11)
	for _, ext := range []int{0, 2} {
		f := mustFit(t, X, Config{Seed: 1, ExtensionLevel: ext})
		out := f.Score([]float64{3, 3, 3})
		in := f.Score([]float64{0.5, 0.5, 0.5})
		if !(out > 0.6 && in < 0.5) {
			t.Errorf("ext %d: outlier %.3f, centre %.3f", ext, out, in)
		}
	}
}

func TestExplain(t *testing.T) {
	X := uniform(2000, 5, 12)
	for _, ext := range []int{0, 1} {
		f := mustFit(t, X, Config{Seed: 2, ExtensionLevel: ext})
		for anom := range 5 {
			x := []float64{0.5, 0.5, 0.5, 0.5, 0.5}
			x[anom] = 4
			e := f.Explain(nil, x)
			best, sum := 0, 0.0
			for j, v := range e {
				if !(v >= 0) {
					t.Fatalf("negative or NaN contribution %v", e)
				}
				sum += v
				if v > e[best] {
					best = j
				}
			}
			if anom == 4 {
				t.Logf("ext %d: outlier in feature %d: %.3f", ext, anom, e)
			}
			if best != anom || sum > 1+1e-12 {
				t.Errorf("ext %d: outlier in feature %d: explanation %.3f (sum %.3f)", ext, anom, e, sum)
			}
		}
	}
}

func TestFitErrors(t *testing.T) {
	nan := uniform(10, 2, 1)
	nan.Set(3, 1, math.NaN())
	for _, tc := range []struct {
		name string
		X    *mat.Dense
		cfg  Config
		want string
	}{
		{"nil", nil, Config{}, "nil data"},
		{"nan", nan, Config{}, "non-finite"},
		{"ext too big", uniform(10, 2, 1), Config{ExtensionLevel: 2}, "ExtensionLevel"},
		{"ext negative", uniform(10, 2, 1), Config{ExtensionLevel: -1}, "ExtensionLevel"},
		{"trees", uniform(10, 2, 1), Config{NEstimators: -3}, "NEstimators"},
		{"samples", uniform(10, 2, 1), Config{MaxSamples: MaxSamplesLimit + 1}, "MaxSamples"},
	} {
		if tc.name == "nil" {
			_, err := Fit(nil, tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: err %v", tc.name, err)
			}
			continue
		}
		if _, err := Fit(tc.X, tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestPanics(t *testing.T) {
	f := mustFit(t, uniform(50, 3, 1), Config{NEstimators: 2})
	for name, fn := range map[string]func(){
		"short x":      func() { f.Score([]float64{1}) },
		"batch cols":   func() { f.ScoreBatch(nil, uniform(3, 2, 1), 1) },
		"explain x":    func() { f.Explain(nil, []float64{1, 2}) },
		"not compiled": func() { (&Forest{NumFeatures: 1}).Score([]float64{1}) },
	} {
		func() {
			defer func() {
				r := recover()
				if s, ok := r.(string); !ok || !strings.HasPrefix(s, "iforest: ") {
					t.Errorf("%s: recovered %v, want an iforest panic", name, r)
				}
			}()
			fn()
		}()
	}
}

// TestChild checks the branch-free comparison against x <= thr on edge
// values: signed zeros, subnormals, infinities and NaNs of either sign.
func TestChild(t *testing.T) {
	negNaN := math.Float64frombits(math.Float64bits(math.NaN()) | 1<<63)
	vals := []float64{0, math.Copysign(0, -1), 1, -1, 5e-324, -5e-324, 1e308, -1e308,
		math.MaxFloat64, -math.MaxFloat64, math.Inf(1), math.Inf(-1), math.NaN(), negNaN, 0.1, 0.1 + 1e-17}
	for _, thr := range vals {
		if !finite(thr) {
			continue // Validate rejects these thresholds
		}
		f := &Forest{NumFeatures: 1, MaxSamples: 2, Trees: []Tree{{
			Left: []int32{1, -1, -1}, Right: []int32{2, -1, -1}, Size: []int32{2, 1, 1},
			Feature: []int32{0, -1, -1}, Threshold: []float64{thr, 0, 0},
		}}}
		if err := f.Validate(); err != nil {
			t.Fatal(err)
		}
		root := &f.c.nodes[0]
		for _, x := range vals {
			want := root.left + 1
			if x <= thr {
				want = root.left
			}
			if got := root.child([]float64{x}); got != want {
				t.Errorf("thr %v, x %v: child %d, want %d", thr, x, got, want)
			}
		}
	}
}

// TestScoreRowsMatchesScore: ScoreRows equals Score bit for bit for every
// row count around the 8/4/1-row paths and the block size, including rows
// holding NaN and ±Inf, and does not allocate when dst has room.
func TestScoreRowsMatchesScore(t *testing.T) {
	X := uniform(1000, 5, 8)
	for _, ext := range []int{0, 2} {
		f := mustFit(t, X, Config{Seed: 3, ExtensionLevel: ext})
		Q := uniform(2*blockRows+3, 5, 9)
		xs := make([][]float64, Q.RawMatrix().Rows)
		for i := range xs {
			xs[i] = Q.RawRowView(i)
		}
		// Infinities and values on thresholds take walk8's unmasked path;
		// a NaN anywhere sends the batch down the masked one.
		xs[9][0], xs[10][4] = math.Inf(1), math.Inf(-1)
		for t := range f.Trees[0].Feature {
			if fe := f.Trees[0].Feature[t]; ext == 0 && fe >= 0 && t < 20 {
				xs[20+t][fe] = f.Trees[0].Threshold[t]
			}
		}
		for _, nan := range []bool{false, true} {
			if nan {
				xs[5][1] = math.NaN()
			}
			for _, n := range []int{0, 1, 3, 4, 7, 8, 9, 12, 63, blockRows, blockRows + 1, len(xs)} {
				got := f.ScoreRows(nil, xs[:n])
				if len(got) != n {
					t.Fatalf("ext %d n %d: len %d", ext, n, len(got))
				}
				for i, x := range xs[:n] {
					if want := f.Score(x); math.Float64bits(got[i]) != math.Float64bits(want) {
						t.Fatalf("ext %d NaN %v n %d row %d: ScoreRows %v, Score %v", ext, nan, n, i, got[i], want)
					}
				}
			}
		}
		out := make([]float64, len(xs))
		if a := testing.AllocsPerRun(20, func() { f.ScoreRows(out, xs) }); a != 0 {
			t.Errorf("ext %d: ScoreRows allocs = %v; want 0", ext, a)
		}
	}
}
