package scale

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b)) }

func col(vs ...float64) *mat.Dense { return mat.NewDense(len(vs), 1, vs) }

func TestFitOneColumn(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	tests := []struct {
		name       string
		X          *mat.Dense
		cfg        Config
		center, sc float64
		median     float64
		min, max   float64
		lo, hi     float64
	}{
		// mean 2.5, population variance (2.25+0.25+0.25+2.25)/4 = 1.25.
		{"standard", col(1, 2, 3, 4), Config{Method: Standard}, 2.5, math.Sqrt(1.25), 2.5, 1, 4, 1.03, 3.97},
		// median 2.5; p25 at position 0.75 → 1.75, p75 at 2.25 → 3.25.
		{"robust", col(4, 1, 3, 2), Config{Method: Robust}, 2.5, 1.5, 2.5, 1, 4, 1.03, 3.97},
		// The outlier drags the mean to 22 but the median stays at 3, IQR 4−2.
		{"robust outlier", col(1, 2, 3, 4, 100), Config{Method: Robust}, 3, 2, 3, 1, 100, 1.04, 96.16},
		{"standard outlier", col(1, 2, 3, 4, 100), Config{Method: Standard}, 22,
			math.Sqrt((21*21 + 20*20 + 19*19 + 18*18 + 78*78) / 5.0), 3, 1, 100, 1.04, 96.16},
		{"zero variance standard", col(5, 5, 5), Config{Method: Standard}, 5, 1, 5, 5, 5, 5, 5},
		{"zero variance robust", col(5, 5, 5, 9), Config{Method: Robust}, 5, 1, 5, 5, 9, 5, 8.88},
		{"single row", col(-3), Config{Method: Standard}, -3, 1, -3, -3, -3, -3, -3},
		// Non-finite training values are ignored.
		{"non-finite ignored", col(1, nan, 3, inf, -inf), Config{Method: Standard}, 2, 1, 2, 1, 3, 1.02, 2.98},
		{"all non-finite", col(nan, inf), Config{Method: Robust}, 0, 1, 0, 0, 0, 0, 0},
		// log1p space: ln(1), ln(2), ln(4), ln(8) → mean 1.5 ln 2.
		{"log1p standard", col(0, 1, 3, 7), Config{Method: Standard, Log1p: []bool{true}},
			1.5 * math.Ln2, math.Ln2 * math.Sqrt(1.25), 2, 0, 7, 0.03, 6.88},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Fit(tt.X, tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			got := []float64{s.Center[0], s.Scale[0], s.Median[0], s.Min[0], s.Max[0], s.Lo[0], s.Hi[0]}
			want := []float64{tt.center, tt.sc, tt.median, tt.min, tt.max, tt.lo, tt.hi}
			names := []string{"center", "scale", "median", "min", "max", "lo", "hi"}
			for i := range got {
				if !near(got[i], want[i]) {
					t.Errorf("%s = %v, want %v", names[i], got[i], want[i])
				}
			}
		})
	}
}

func TestTransform(t *testing.T) {
	// Column 0: 1,2,3,4 (mean 2.5, std √1.25); column 1 constant 5.
	X := mat.NewDense(4, 2, []float64{1, 5, 2, 5, 3, 5, 4, 5})
	s, err := Fit(X, Config{Method: Standard})
	if err != nil {
		t.Fatal(err)
	}
	sd := math.Sqrt(1.25)
	tests := []struct {
		name string
		in   []float64
		want []float64
	}{
		{"centre", []float64{2.5, 5}, []float64{0, 0}},
		{"one sd", []float64{2.5 + sd, 6}, []float64{1, 1}},
		{"NaN → median", []float64{math.NaN(), math.NaN()}, []float64{0, 0}},
		{"+Inf → max", []float64{math.Inf(1), 5}, []float64{1.5 / sd, 0}},
		{"-Inf → min", []float64{math.Inf(-1), math.Inf(1)}, []float64{-1.5 / sd, 0}},
		{"clipped high", []float64{1e300, 5}, []float64{Bound, 0}},
		{"clipped low", []float64{-math.MaxFloat64, -math.MaxFloat64}, []float64{-Bound, -Bound}},
	}
	dst := make([]float64, 2)
	for _, tt := range tests {
		// Twice into the same dst: stale-buffer bugs show on the second call.
		for range 2 {
			got := s.TransformTo(dst, tt.in)
			for j := range got {
				if !near(got[j], tt.want[j]) {
					t.Errorf("%s: z[%d] = %v, want %v", tt.name, j, got[j], tt.want[j])
				}
			}
		}
	}
}

func TestLog1pNegative(t *testing.T) {
	s, err := Fit(col(0, 1, 3, 7), Config{Method: Robust, Log1p: []bool{true}})
	if err != nil {
		t.Fatal(err)
	}
	// A negative value in a count column maps through −log1p(|v|), finite
	// and below the centre, instead of NaN.
	z := s.TransformTo(nil, []float64{-1})[0]
	want := (-math.Ln2 - 1.5*math.Ln2) / (1.5 * math.Ln2)
	if !near(z, want) {
		t.Fatalf("z(-1) = %v, want %v", z, want)
	}
}

func TestFitErrors(t *testing.T) {
	tests := []struct {
		name string
		X    *mat.Dense
		cfg  Config
		want string
	}{
		{"nil", nil, Config{}, "no rows"},
		{"log1p length", col(1, 2), Config{Log1p: []bool{true, false}}, "Log1p has 2"},
		{"method", col(1, 2), Config{Method: 7}, "unknown method"},
	}
	for _, tt := range tests {
		_, err := Fit(tt.X, tt.cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	X := mat.NewDense(5, 3, []float64{
		0.1, 10, 1e-9,
		0.7, 20, 3e-9,
		0.3, 15, 2e-9,
		1.0 / 3, 12, 7e-9,
		2.0 / 3, 99, 5e-9,
	})
	s, err := Fit(X, Config{Method: Robust, Log1p: []bool{false, true, false}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"method":"robust"`) {
		t.Errorf("method not written as text: %s", b)
	}
	var r Scaler
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	x := []float64{0.5, 50, 4e-9}
	a, c := s.TransformTo(nil, x), r.TransformTo(nil, x)
	for j := range a {
		if a[j] != c[j] {
			t.Errorf("feature %d: %v after round trip, %v before", j, c[j], a[j])
		}
	}
}

func TestValidate(t *testing.T) {
	good := func() *Scaler {
		s, err := Fit(mat.NewDense(3, 2, []float64{1, 2, 3, 4, 5, 6}), Config{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		name    string
		breakIt func(s *Scaler)
		want    string
	}{
		{"empty", func(s *Scaler) { *s = Scaler{} }, "no features"},
		{"short scale", func(s *Scaler) { s.Scale = s.Scale[:1] }, "scale has 1"},
		{"short log1p", func(s *Scaler) { s.Log1p = nil }, "log1p has 0"},
		{"zero scale", func(s *Scaler) { s.Scale[1] = 0 }, "want > 0"},
		{"negative scale", func(s *Scaler) { s.Scale[0] = -1 }, "want > 0"},
		{"NaN centre", func(s *Scaler) { s.Center[0] = math.NaN() }, "center[0] is not finite"},
		{"Inf max", func(s *Scaler) { s.Max[1] = math.Inf(1) }, "max[1] is not finite"},
		{"min > max", func(s *Scaler) { s.Min[0] = s.Max[0] + 1 }, "out of order"},
		{"method", func(s *Scaler) { s.Method = -1 }, "unknown method"},
	}
	if err := good().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		s := good()
		tt.breakIt(s)
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestTransformAllocs(t *testing.T) {
	s, err := Fit(mat.NewDense(3, 2, []float64{1, 2, 3, 4, 5, 6}), Config{Log1p: []bool{true, false}})
	if err != nil {
		t.Fatal(err)
	}
	dst, x := make([]float64, 2), []float64{math.NaN(), 3}
	if n := testing.AllocsPerRun(100, func() { s.TransformTo(dst, x) }); n != 0 {
		t.Errorf("TransformTo allocates %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() { s.SanitizeTo(dst, x) }); n != 0 {
		t.Errorf("SanitizeTo allocates %v times", n)
	}
}

func BenchmarkTransform(b *testing.B) {
	const d = 20
	X := mat.NewDense(100, d, nil)
	for i := range 100 {
		for j := range d {
			X.Set(i, j, float64(i*j%17))
		}
	}
	log1p := make([]bool, d)
	for j := range d {
		log1p[j] = j%2 == 0
	}
	s, err := Fit(X, Config{Method: Robust, Log1p: log1p})
	if err != nil {
		b.Fatal(err)
	}
	x, dst := make([]float64, d), make([]float64, d)
	for j := range x {
		x[j] = float64(j)
	}
	b.ReportAllocs()
	for b.Loop() {
		s.TransformTo(dst, x)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	for _, v := range dst {
		if math.IsNaN(v) || math.Abs(v) > Bound {
			b.Fatalf("bad scaled value %v", v)
		}
	}
}

func TestConstantScale(t *testing.T) {
	X := mat.NewDense(4, 2, []float64{0, 1, 0, 2, 0, 3, 0, 4})
	for _, tc := range []struct {
		cs, want float64
	}{{0, 1}, {0.1, 0.1}, {math.Inf(1), 1}, {-1, 1}} {
		s, err := Fit(X, Config{ConstantScale: tc.cs})
		if err != nil {
			t.Fatal(err)
		}
		if s.Scale[0] != tc.want {
			t.Errorf("ConstantScale %v: constant column's scale %v, want %v", tc.cs, s.Scale[0], tc.want)
		}
		if got := s.TransformTo(nil, []float64{1, 2.5})[0]; math.Abs(got-1/tc.want) > 1e-12 {
			t.Errorf("ConstantScale %v: a departure of 1 scales to %v, want %v", tc.cs, got, 1/tc.want)
		}
		if s.Scale[1] == tc.want && tc.want != 1 {
			t.Error("a varying column took the constant scale")
		}
	}
}

// TestTailZ: a column that is 0 on 98 rows and 1 on 2 has a standard
// deviation of 0.14, which puts the value 1 seven units out; with TailZ its
// 99th percentile (rank ⌊99n/100⌋ = the first 1) lands exactly TailZ units
// from the centre. A column whose tails are already within reach, a
// constant column and TailZ 0 keep their scales.
func TestTailZ(t *testing.T) {
	const n, z = 100, 2.3263478740408408
	data := make([]float64, 0, 3*n)
	for i := range n {
		rare := 0.0
		if i >= n-2 {
			rare = 1
		}
		data = append(data, rare, float64(i%10), 5)
	}
	X := mat.NewDense(n, 3, data)
	plain, err := Fit(X, Config{})
	if err != nil {
		t.Fatal(err)
	}
	wide, err := Fit(X, Config{TailZ: z})
	if err != nil {
		t.Fatal(err)
	}
	mean, sd := 0.02, math.Sqrt(0.02*0.98)
	if !near(plain.Scale[0], sd) {
		t.Fatalf("plain scale %v, want %v", plain.Scale[0], sd)
	}
	if want := (1 - mean) / z; !near(wide.Scale[0], want) {
		t.Errorf("TailZ scale %v, want %v", wide.Scale[0], want)
	}
	if got := wide.TransformTo(nil, []float64{1, 0, 5})[0]; !near(got, z) {
		t.Errorf("the rare value scales to %v, want %v", got, z)
	}
	// 0..9 uniform: sd 2.87, 99th percentile 9 is 1.57 sd out: unchanged.
	if wide.Scale[1] != plain.Scale[1] {
		t.Errorf("a column with reachable tails moved: %v -> %v", plain.Scale[1], wide.Scale[1])
	}
	if wide.Scale[2] != plain.Scale[2] || wide.Scale[2] != 1 {
		t.Errorf("constant column's scale %v, want 1", wide.Scale[2])
	}
}

// TestSlog1pTable: the tabulated whole numbers, the values around the
// table's ends and between its entries, signed zeros and non-finite
// values give exactly sign(v)·math.Log1p(|v|).
func TestSlog1pTable(t *testing.T) {
	ref := func(v float64) float64 {
		if v == 0 {
			return v
		}
		if v < 0 {
			return -math.Log1p(-v)
		}
		return math.Log1p(v)
	}
	vs := []float64{math.Copysign(0, -1), 0, 0.5, 1e-300, math.SmallestNonzeroFloat64, log1pTabLen - 1, log1pTabLen,
		log1pTabLen + 1, math.Nextafter(log1pTabLen, 0), math.Nextafter(1, 2), 1e300, math.MaxFloat64, math.Inf(1), math.NaN()}
	for i := range 3 * log1pTabLen {
		vs = append(vs, float64(i), float64(i)+0.25, -float64(i))
	}
	for _, v := range vs {
		if got, want := slog1p(v), ref(v); math.Float64bits(got) != math.Float64bits(want) && !(math.IsNaN(got) && math.IsNaN(want)) {
			t.Errorf("slog1p(%v) = %v, want %v", v, got, want)
		}
	}
}

func TestFinite(t *testing.T) {
	for _, c := range []struct {
		x    []float64
		want bool
	}{
		{nil, true},
		{[]float64{0, -1, math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64}, true},
		{[]float64{1, 2, 3, 4, 5, 6, 7, math.NaN()}, false},
		{[]float64{math.Inf(1), 2, 3, 4, 5}, false},
		{[]float64{1, 2, math.Inf(-1)}, false},
		{[]float64{1, 2, 3, 4, 5, 6, math.Inf(1), math.Inf(-1)}, false}, // Inf-Inf in one sum would be NaN anyway
	} {
		if got := Finite(c.x); got != c.want {
			t.Errorf("Finite(%v) = %v, want %v", c.x, got, c.want)
		}
	}
}
