package kmeans

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// fixture reads testdata/uniform.f32 and testdata/sklearn.json, written by
// testdata/gen_sklearn.py with scikit-learn.
type sklearnFixture struct {
	Rows, Cols, K  int
	InertiaNInit10 float64   `json:"inertia_n_init_10"`
	InertiaNInit1  []float64 `json:"inertia_n_init_1"`
}

func loadFixture(t testing.TB) (*mat.Dense, sklearnFixture) {
	t.Helper()
	var fx sklearnFixture
	b, err := os.ReadFile("testdata/sklearn.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &fx); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("testdata/uniform.f32")
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) != 4*fx.Rows*fx.Cols {
		t.Fatalf("uniform.f32 has %d bytes, want %d", len(raw), 4*fx.Rows*fx.Cols)
	}
	data := make([]float64, fx.Rows*fx.Cols)
	for i := range data {
		data[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])))
	}
	return mat.NewDense(fx.Rows, fx.Cols, data), fx
}

// bruteInertia recomputes the inertia of centroids on X by exhaustive
// search, independently of the fitting code.
func bruteInertia(X *mat.Dense, m *Model) float64 {
	n, d := X.Dims()
	var sse float64
	for i := range n {
		best := math.Inf(1)
		for j := range m.K {
			var s float64
			for t := range d {
				v := X.At(i, t) - m.Centroids[j*d+t]
				s += v * v
			}
			best = math.Min(best, s)
		}
		sse += best
	}
	return sse
}

func TestSklearnParity(t *testing.T) {
	X, fx := loadFixture(t)
	mean1 := 0.0
	for _, v := range fx.InertiaNInit1 {
		mean1 += v
	}
	mean1 /= float64(len(fx.InertiaNInit1))
	tests := []struct {
		name  string
		cfg   Config
		want  float64
		relOK float64
	}{
		{"n_init=1 seed 0", Config{K: 8, NInit: 1, Seed: 0}, mean1, 0.01},
		{"n_init=1 seed 1", Config{K: 8, NInit: 1, Seed: 1}, mean1, 0.01},
		{"n_init=10", Config{K: 8, NInit: 10, Seed: 3}, fx.InertiaNInit10, 0.01},
		{"mini-batch 1024", Config{K: 8, NInit: 3, MiniBatch: 1024, Seed: 2}, fx.InertiaNInit10, 0.03},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Fit(X, tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Validate(); err != nil {
				t.Fatalf("fitted model fails Validate: %v", err)
			}
			brute := bruteInertia(X, m)
			if rel := math.Abs(brute-m.Inertia()) / brute; rel > 1e-9 {
				t.Errorf("reported inertia %.6f, brute force %.6f", m.Inertia(), brute)
			}
			rel := (m.Inertia() - tt.want) / tt.want
			t.Logf("inertia %.3f, scikit-learn %.3f (%+.3f%%), %d iterations", m.Inertia(), tt.want, 100*rel, m.Iterations)
			if math.Abs(rel) > tt.relOK {
				t.Errorf("inertia %.3f is %.2f%% from scikit-learn's %.3f (allowed %.0f%%)", m.Inertia(), 100*rel, tt.want, 100*tt.relOK)
			}
			n := 0
			for _, s := range m.Sizes {
				n += s
			}
			if n != fx.Rows {
				t.Errorf("sizes sum to %d, want %d", n, fx.Rows)
			}
		})
	}
}

// blobs returns n rows around each of the given centres with the given
// standard deviation, and the true label of every row.
func blobs(centres [][]float64, n int, sd float64, seed uint64) (*mat.Dense, []int) {
	rng := rand.New(rand.NewPCG(seed, 2))
	d := len(centres[0])
	X := mat.NewDense(n*len(centres), d, nil)
	labels := make([]int, 0, n*len(centres))
	for i := range n * len(centres) {
		c := i % len(centres)
		for t := range d {
			X.Set(i, t, centres[c][t]+sd*rng.NormFloat64())
		}
		labels = append(labels, c)
	}
	return X, labels
}

var blobCentres = [][]float64{
	{0, 0, 0, 0, 0},
	{10, 0, 0, 0, 0},
	{0, 10, 0, 5, 0},
	{0, 0, 10, 0, -5},
	{-10, -10, 0, 3, 3},
}

func TestBlobsRecoverCentres(t *testing.T) {
	X, _ := blobs(blobCentres, 400, 0.5, 1)
	for _, cfg := range []Config{
		{K: 5, NInit: 3, Seed: 4},
		{K: 5, NInit: 3, Seed: 4, MiniBatch: 256},
	} {
		m, err := Fit(X, cfg)
		if err != nil {
			t.Fatal(err)
		}
		used := make([]bool, m.K)
		for _, c := range blobCentres {
			j, dist := m.Nearest(c)
			// The mean of 400 draws with sd 0.5 in 5-D is within ~0.1 of the
			// centre; 0.2 leaves a margin.
			if dist > 0.2 {
				t.Errorf("mini-batch=%d: centre %v: nearest centroid %v at %.3f", cfg.MiniBatch, c, m.Centroid(j), dist)
			}
			if used[j] {
				t.Errorf("mini-batch=%d: centroid %d matched twice", cfg.MiniBatch, j)
			}
			used[j] = true
		}
		for j, s := range m.Sizes {
			if s != 400 {
				t.Errorf("mini-batch=%d: cluster %d has %d members, want 400", cfg.MiniBatch, j, s)
			}
		}
		// Radius: in 5-D the member distance is σ·χ₅; its 99th percentile is
		// σ·sqrt(15.09) ≈ 1.94 for σ = 0.5.
		for j, r := range m.Radius {
			if r < 1.7 || r > 2.2 {
				t.Errorf("mini-batch=%d: radius %d = %.3f, want ≈ 1.94", cfg.MiniBatch, j, r)
			}
		}
	}
}

func TestDeterministicAcrossWorkers(t *testing.T) {
	full, _ := loadFixture(t)
	X := full.Slice(0, 9000, 0, 20).(*mat.Dense) // three chunks; a strided view
	X = X.Slice(0, 9000, 0, 17).(*mat.Dense)
	for _, mb := range []int{0, 2000} {
		var ref *Model
		for _, w := range []int{1, 2, 3, 7} {
			m, err := Fit(X, Config{K: 6, NInit: 2, MaxIter: 60, Seed: 99, Workers: w, MiniBatch: mb})
			if err != nil {
				t.Fatal(err)
			}
			if ref == nil {
				ref = m
				continue
			}
			if !slices.Equal(m.Centroids, ref.Centroids) || m.SSE != ref.SSE || !slices.Equal(m.Radius, ref.Radius) {
				t.Errorf("mini-batch=%d: workers=%d gives a different model from workers=1", mb, w)
			}
		}
	}
}

func TestSeedChangesResult(t *testing.T) {
	full, _ := loadFixture(t)
	X := full.Slice(0, 2000, 0, 20).(*mat.Dense)
	a, _ := Fit(X, Config{K: 4, Seed: 1})
	b, _ := Fit(X, Config{K: 4, Seed: 2})
	if slices.Equal(a.Centroids, b.Centroids) {
		t.Error("seeds 1 and 2 gave identical centroids")
	}
}

func TestFitErrors(t *testing.T) {
	good := mat.NewDense(3, 2, []float64{0, 0, 1, 1, 2, 2})
	nan := mat.NewDense(3, 2, []float64{0, 0, math.NaN(), 1, 2, 2})
	inf := mat.NewDense(3, 2, []float64{0, 0, 1, math.Inf(-1), 2, 2})
	tests := []struct {
		name string
		X    *mat.Dense
		cfg  Config
	}{
		{"k > rows", good, Config{K: 4}},
		{"negative k", good, Config{K: -1}},
		{"huge k", good, Config{K: MaxK + 1}},
		{"NaN", nan, Config{K: 2}},
		{"Inf", inf, Config{K: 2}},
		{"nil", nil, Config{K: 1}},
		{"empty", &mat.Dense{}, Config{K: 1}},
		{"negative max iter", good, Config{K: 2, MaxIter: -1}},
		{"NaN tol", good, Config{K: 2, Tol: math.NaN()}},
		{"negative batch", good, Config{K: 2, MiniBatch: -5}},
	}
	for _, tt := range tests {
		if m, err := Fit(tt.X, tt.cfg); err == nil {
			t.Errorf("%s: no error, model %+v", tt.name, m)
		}
	}
}

// Degenerate data: fewer distinct rows than clusters. Fit must not panic and
// the model must validate and score finitely.
func TestDegenerateData(t *testing.T) {
	tests := []struct {
		name string
		rows []float64
		k    int
	}{
		{"all equal", []float64{1, 1, 1, 1, 1, 1, 1, 1}, 3},
		{"two distinct", []float64{0, 0, 0, 0, 5, 5, 5, 5}, 4},
		{"k = n", []float64{0, 1, 2, 3, 4, 5, 6, 7}, 8},
	}
	for _, tt := range tests {
		for _, mb := range []int{0, 2} {
			X := mat.NewDense(len(tt.rows), 1, tt.rows)
			m, err := Fit(X, Config{K: tt.k, MiniBatch: mb, Normalize: true})
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			if err := m.Validate(); err != nil {
				t.Errorf("%s mb=%d: %v", tt.name, mb, err)
			}
			for _, x := range []float64{-1, 0, 3, 1e6} {
				if s := m.Score([]float64{x}); math.IsNaN(s) || math.IsInf(s, 0) {
					t.Errorf("%s mb=%d: score(%v) = %v", tt.name, mb, x, s)
				}
			}
		}
	}
}

func TestRelocateEmpty(t *testing.T) {
	// Four rows in cluster 0; cluster 1 is empty. The farthest row from
	// centre 0 (row 3, at 10) must move to cluster 1.
	X := mat.NewDense(4, 1, []float64{0, 1, 2, 10})
	f := newFitter(X, 2, 1)
	centers := []float64{1, 100}
	sums := []float64{13, 0}
	totals := []int{4, 0}
	labels := []int32{0, 0, 0, 0}
	dist := make([]float64, 4)
	upper := []float64{1, 0, 1, 9}
	lower := []float64{5, 5, 5, 5}
	if !f.relocateEmpty(centers, sums, totals, labels, dist, upper, lower, 1) {
		t.Fatal("nothing relocated")
	}
	if !slices.Equal(sums, []float64{3, 10}) || !slices.Equal(totals, []int{3, 1}) || labels[3] != 1 {
		t.Errorf("sums %v totals %v labels %v; want [3 10] [3 1] label[3]=1", sums, totals, labels)
	}
	if !math.IsInf(upper[3], 1) || lower[3] != 0 {
		t.Errorf("bounds of the moved row not reset: %v %v", upper[3], lower[3])
	}
}

func TestSelectK(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for _, n := range []int{1, 2, 3, 10, 101, 1000} {
		a := make([]float64, n)
		for i := range a {
			a[i] = float64(rng.IntN(20)) // many ties
		}
		sorted := slices.Clone(a)
		slices.Sort(sorted)
		for _, q := range []int{0, n / 2, n - 1, (n * 99) / 100} {
			if got := selectK(slices.Clone(a), q); got != sorted[q] {
				t.Errorf("n=%d q=%d: got %v want %v", n, q, got, sorted[q])
			}
		}
	}
}

func testModel() *Model {
	return &Model{
		K: 2, Dims: 3,
		Centroids: []float64{0, 0, 0, 10, 0, 0},
		Radius:    []float64{1, 4},
		Sizes:     []int{5, 5},
	}
}

func TestScoreAndNearest(t *testing.T) {
	m := testModel()
	tests := []struct {
		x         []float64
		normalize bool
		cluster   int
		score     float64
	}{
		{[]float64{0, 0, 0}, false, 0, 0},
		{[]float64{3, 4, 0}, false, 0, 5},
		{[]float64{3, 4, 0}, true, 0, 5},
		{[]float64{10, 0, 2}, false, 1, 2},
		{[]float64{10, 0, 2}, true, 1, 0.5},
		{[]float64{5, 0, 0}, false, 0, 5}, // tie goes to the lower index
		{[]float64{math.NaN(), 0, 0}, false, 0, math.Inf(1)},
		{[]float64{1e300, 1e300, 0}, true, 0, math.Inf(1)},
	}
	for _, tt := range tests {
		m.Normalize = tt.normalize
		j, _ := m.Nearest(tt.x)
		if s := m.Score(tt.x); j != tt.cluster || !(s == tt.score || math.Abs(s-tt.score) < 1e-12) {
			t.Errorf("x=%v normalize=%v: cluster %d score %v; want %d %v", tt.x, tt.normalize, j, s, tt.cluster, tt.score)
		}
	}
}

func TestScorePanicsOnWrongDim(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic for a short vector")
		}
	}()
	testModel().Score([]float64{1, 2})
}

func TestScoreNoAllocs(t *testing.T) {
	m := testModel()
	m.Normalize = true
	x := []float64{1, 2, 3}
	var sink float64
	if n := testing.AllocsPerRun(1000, func() { sink += m.Score(x) }); n != 0 {
		t.Fatalf("Score allocs = %v; want 0", n)
	}
	dst := make([]float64, 3)
	if n := testing.AllocsPerRun(1000, func() { m.Explain(dst, x) }); n != 0 {
		t.Fatalf("Explain allocs = %v; want 0", n)
	}
}

func TestExplain(t *testing.T) {
	m := testModel()
	tests := []struct {
		x    []float64
		want []float64
	}{
		{[]float64{3, 4, 0}, []float64{9.0 / 25, 16.0 / 25, 0}},
		{[]float64{11, 0, -1}, []float64{0.5, 0, 0.5}},
		{[]float64{0, 0, 0}, []float64{0, 0, 0}},
		{[]float64{1e200, 1e200, 0}, []float64{0.5, 0.5, 0}}, // squares overflow without the rescaling
	}
	for _, tt := range tests {
		got := m.Explain(nil, tt.x)
		for i := range got {
			if math.Abs(got[i]-tt.want[i]) > 1e-12 {
				t.Errorf("Explain(%v) = %v; want %v", tt.x, got, tt.want)
				break
			}
		}
		// Reuse of dst: a second call into the same slice gives the same answer.
		again := m.Explain(got, tt.x)
		if &again[0] != &got[0] {
			t.Error("Explain did not write into dst")
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		mut  func(m *Model)
	}{
		{"k zero", func(m *Model) { m.K = 0 }},
		{"k huge", func(m *Model) { m.K = MaxK + 1 }},
		{"dim zero", func(m *Model) { m.Dims = 0 }},
		{"dim mismatch", func(m *Model) { m.Dims = 2 }},
		{"short centroids", func(m *Model) { m.Centroids = m.Centroids[:5] }},
		{"NaN centroid", func(m *Model) { m.Centroids[4] = math.NaN() }},
		{"Inf centroid", func(m *Model) { m.Centroids[0] = math.Inf(1) }},
		{"missing radius", func(m *Model) { m.Radius = m.Radius[:1] }},
		{"zero radius", func(m *Model) { m.Radius[1] = 0 }},
		{"negative radius", func(m *Model) { m.Radius[0] = -1 }},
		{"NaN radius", func(m *Model) { m.Radius[0] = math.NaN() }},
		{"Inf radius", func(m *Model) { m.Radius[0] = math.Inf(1) }},
		{"sizes length", func(m *Model) { m.Sizes = []int{1} }},
		{"negative size", func(m *Model) { m.Sizes[0] = -1 }},
		{"NaN inertia", func(m *Model) { m.SSE = math.NaN() }},
		{"negative inertia", func(m *Model) { m.SSE = -1 }},
	}
	if err := testModel().Validate(); err != nil {
		t.Fatalf("valid model: %v", err)
	}
	for _, tt := range tests {
		m := testModel()
		tt.mut(m)
		if err := m.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", tt.name, m)
		}
	}
	var nilModel *Model
	if nilModel.Validate() == nil {
		t.Error("nil model validated")
	}
}

func TestJSONRoundTrip(t *testing.T) {
	X, _ := blobs(blobCentres, 100, 1, 3)
	m, err := Fit(X, Config{K: 5, Seed: 1, Normalize: true})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var back Model
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if err := back.Validate(); err != nil {
		t.Fatal(err)
	}
	n, _ := X.Dims()
	for i := range n {
		x := X.RawRowView(i)
		if a, b := m.Score(x), back.Score(x); a != b {
			t.Fatalf("row %d: score %v before, %v after the round trip", i, a, b)
		}
	}
}

func FuzzValidate(f *testing.F) {
	seed, _ := json.Marshal(testModel())
	f.Add(seed)
	f.Add([]byte(`{"k":1,"dim":1,"centroids":[0],"radius":[1e-300],"normalize":true}`))
	f.Add([]byte(`{"k":3,"dim":2,"centroids":[1e308,-1e308,0,0,5,5],"radius":[1,2,3]}`))
	f.Add([]byte(`{"k":4096,"dim":4096}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Model
		if json.Unmarshal(b, &m) != nil || m.Validate() != nil {
			return
		}
		x := make([]float64, m.Dim())
		for _, fill := range []float64{0, 1, -1e300} {
			for i := range x {
				x[i] = fill
			}
			if s := m.Score(x); math.IsNaN(s) {
				t.Fatalf("NaN score for %v from a model that validated", fill)
			}
			j, _ := m.Nearest(x)
			if j < 0 || j >= m.K {
				t.Fatalf("nearest cluster %d out of range", j)
			}
			m.Explain(nil, x)
		}
	})
}

func TestChooseK(t *testing.T) {
	X, _ := blobs(blobCentres[:4], 150, 0.7, 8)
	reports, k, err := ChooseK(X, []int{1, 2, 3, 4, 5, 6}, Config{Seed: 3, NInit: 2}, 300)
	if err != nil {
		t.Fatal(err)
	}
	if k != 4 {
		t.Errorf("chose k = %d; want 4 (reports %+v)", k, reports)
	}
	if len(reports) != 6 || !math.IsNaN(reports[0].Silhouette) {
		t.Errorf("reports %+v: want 6, the first (k=1) with NaN silhouette", reports)
	}
	for i := 1; i < len(reports); i++ {
		if reports[i].Inertia > reports[i-1].Inertia*(1+1e-9) {
			t.Errorf("inertia rises from k=%d to k=%d", reports[i-1].K, reports[i].K)
		}
		if s := reports[i].Silhouette; s < -1 || s > 1 {
			t.Errorf("k=%d silhouette %v outside [-1, 1]", reports[i].K, s)
		}
	}
	if _, _, err := ChooseK(X, []int{1}, Config{}, 0); err == nil {
		t.Error("ChooseK with only k=1 did not fail")
	}
	if _, _, err := ChooseK(X, []int{0, 2}, Config{}, 0); err == nil {
		t.Error("ChooseK with k=0 did not fail")
	}
}

// TestSilhouette checks silhouette against a hand computation: points 0, 1
// in one cluster and 10 in another (1-D).
func TestSilhouette(t *testing.T) {
	S := []float64{0, 1, 10}
	labels := []int32{0, 0, 1}
	// s0: a = 1, b = 10 → 0.9; s1: a = 1, b = 9 → 8/9; s2: singleton → 0.
	want := (0.9 + 8.0/9) / 3
	if got := silhouette(S, 1, labels, 2, 2); math.Abs(got-want) > 1e-12 {
		t.Errorf("silhouette = %v; want %v", got, want)
	}
}

// TestHamerlyMatchesElkan fits the same data with Elkan's bounds and with
// Hamerly's (forced by lowering elkanMaxBounds). Both are exact
// accelerations of the same Lloyd iterations, so they must agree.
func TestHamerlyMatchesElkan(t *testing.T) {
	full, _ := loadFixture(t)
	X := full.Slice(0, 6000, 0, 20).(*mat.Dense)
	defer func(old bool) { fastAssign = old }(fastAssign)
	fastAssign = false
	elkan, err := Fit(X, Config{K: 8, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	old := elkanMaxBounds
	elkanMaxBounds = 0
	defer func() { elkanMaxBounds = old }()
	hamerly, err := Fit(X, Config{K: 8, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	if elkan.Iterations != hamerly.Iterations || !slices.Equal(elkan.Sizes, hamerly.Sizes) {
		t.Errorf("Elkan: %d iterations, sizes %v; Hamerly: %d, %v", elkan.Iterations, elkan.Sizes, hamerly.Iterations, hamerly.Sizes)
	}
	for i, v := range elkan.Centroids {
		if math.Abs(v-hamerly.Centroids[i]) > 1e-9 {
			t.Fatalf("centroid value %d: Elkan %v, Hamerly %v", i, v, hamerly.Centroids[i])
		}
	}
	if b := bruteInertia(X, hamerly); math.Abs(b-hamerly.Inertia()) > 1e-9*b {
		t.Errorf("Hamerly inertia %v, brute force %v", hamerly.Inertia(), b)
	}
}

// TestNearestFromMatchesNearest: whatever the hint, NearestFrom and
// ScoreCluster give Nearest's cluster and Score's value bit for bit,
// including tied (duplicate) centroids, points on a centroid, NaN, ±Inf
// and overflowing inputs; ExplainCluster with that cluster equals Explain.
func TestNearestFromMatchesNearest(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	const k, d = 7, 19
	m := &Model{K: k, Dims: d, Centroids: make([]float64, k*d), Radius: make([]float64, k)}
	for i := range m.Centroids {
		m.Centroids[i] = r.NormFloat64()
	}
	copy(m.Centroid(4), m.Centroid(1)) // a tie: 1 must win
	copy(m.Centroid(6), m.Centroid(2))
	for j := range m.Radius {
		m.Radius[j] = 0.5 + r.Float64()
	}
	var xs [][]float64
	for range 300 {
		x := make([]float64, d)
		for i := range x {
			x[i] = 2 * r.NormFloat64()
		}
		xs = append(xs, x)
	}
	xs = append(xs, slices.Clone(m.Centroid(4)), slices.Clone(m.Centroid(6)), slices.Clone(m.Centroid(0)))
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), 1e300} {
		x := make([]float64, d)
		x[3] = v
		xs = append(xs, x)
	}
	// Midpoints between centroids: tied distances, where the lower index
	// must win; and points on the segment, near the pruning limit.
	for a := range k {
		for b := range k {
			for _, f := range []float64{0.5, 0.25, 1.0 / 3, 0.5 + 1e-12} {
				x := make([]float64, d)
				for i := range x {
					x[i] = m.Centroid(a)[i]*(1-f) + m.Centroid(b)[i]*f
				}
				xs = append(xs, x)
			}
		}
	}
	tiny := slices.Clone(m.Centroid(3))
	tiny[0] = math.Nextafter(tiny[0], 10)
	xs = append(xs, tiny)
	for _, norm := range []bool{false, true} {
		m.Normalize = norm
		for i, x := range xs {
			wj, wd := m.Nearest(x)
			ws := m.Score(x)
			we := m.Explain(make([]float64, d), x)
			for hint := -1; hint <= k; hint++ {
				j, dist := m.NearestFrom(x, hint)
				s, sj := m.ScoreCluster(x, hint)
				if j != wj || sj != wj || math.Float64bits(dist) != math.Float64bits(wd) || math.Float64bits(s) != math.Float64bits(ws) {
					t.Fatalf("norm %v row %d hint %d: got (%d, %v, score %v), want (%d, %v, score %v)", norm, i, hint, j, dist, s, wj, wd, ws)
				}

			}
			if got := m.ExplainCluster(make([]float64, d), x, wj); !slices.Equal(got, we) {
				t.Fatalf("row %d: ExplainCluster %v, Explain %v", i, got, we)
			}
			if ref := explainRef(x, m.Centroid(wj)); !slices.Equal(we, ref) {
				t.Fatalf("row %d: Explain %v, reference %v", i, we, ref)
			}
			shares, total := m.ExplainClusterSum(make([]float64, d), x, wj)
			var want float64
			for _, v := range we {
				if v > 0 {
					want += v
				}
			}
			if !slices.Equal(shares, we) || math.Float64bits(total) != math.Float64bits(want) {
				t.Fatalf("row %d: ExplainClusterSum total %v, want %v", i, total, want)
			}
		}
	}
	if j, _ := m.NearestFrom(m.Centroid(4), 4); j != 1 {
		t.Errorf("tie: cluster %d, want the lower index 1", j)
	}
}

// explainRef is Explain as first written, with math.Max: the reference
// its faster form must match bit for bit.
func explainRef(x, c []float64) []float64 {
	dst := make([]float64, len(x))
	var big float64
	for i := range dst {
		dst[i] = x[i] - c[i]
		big = math.Max(big, math.Abs(dst[i]))
	}
	if big == 0 || math.IsInf(big, 0) || math.IsNaN(big) {
		clear(dst)
		return dst
	}
	var sum float64
	for i, v := range dst {
		v /= big
		dst[i] = v * v
		sum += dst[i]
	}
	for i := range dst {
		dst[i] /= sum
	}
	return dst
}

// TestBatchMatchesScore: Batch.ScoreRows gives Score's value and Nearest's
// cluster bit for bit, through the float32 filter (k ≤ 16) and the
// fallback (k = 17, rows with NaN, ±Inf or values beyond the filter's
// range, batches under four rows), including exact ties between duplicate
// centroids and at midpoints, where the lower index must win.
func TestBatchMatchesScore(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	const d = 37
	for _, k := range []int{1, 3, 8, 10, 16, 17} {
		m := &Model{K: k, Dims: d, Centroids: make([]float64, k*d), Radius: make([]float64, k)}
		for i := range m.Centroids {
			m.Centroids[i] = 3 * r.NormFloat64()
		}
		if k > 4 {
			copy(m.Centroid(4), m.Centroid(1))
		}
		for j := range m.Radius {
			m.Radius[j] = 0.5 + r.Float64()
		}
		var xs [][]float64
		for i := range 400 {
			x := make([]float64, d)
			c := m.Centroid(i % k)
			for t := range x {
				x[t] = c[t] + r.NormFloat64()*float64(i%5)
			}
			xs = append(xs, x)
		}
		for a := range k {
			for b := range k {
				x := make([]float64, d)
				for t := range x {
					x[t] = (m.Centroid(a)[t] + m.Centroid(b)[t]) / 2
				}
				xs = append(xs, x)
			}
		}
		big := make([]float64, d)
		big[2] = 1e6 // scale.Bound: inside the filter's range
		xs = append(xs, big)
		for _, norm := range []bool{false, true} {
			m.Normalize = norm
			bt := m.NewBatch()
			scores, clusters := make([]float64, 64), make([]int, 64)
			check := func(rows [][]float64, what string) {
				t.Helper()
				bt.ScoreRows(scores, clusters, rows)
				for i, x := range rows {
					wj, _ := m.Nearest(x)
					ws := m.Score(x)
					if clusters[i] != wj || math.Float64bits(scores[i]) != math.Float64bits(ws) {
						t.Fatalf("k %d norm %v %s row %d: (%d, %v), want (%d, %v)", k, norm, what, i, clusters[i], scores[i], wj, ws)
					}
				}
			}
			for lo := 0; lo < len(xs); {
				n := min(len(xs)-lo, 1+r.IntN(64))
				check(xs[lo:lo+n], "batch")
				lo += n
			}
			for _, v := range []float64{math.NaN(), math.Inf(-1), 1e19} {
				rows := slices.Clone(xs[:9])
				x := make([]float64, d)
				x[5] = v
				rows[3] = x
				check(rows, fmt.Sprint("with ", v))
			}
		}
	}
}
