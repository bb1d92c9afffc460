package scale

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"
)

// Bound is the largest magnitude of a scaled value. TransformTo clips to
// [-Bound, Bound]: a feature a million baseline spreads away from its centre
// is anomalous enough, and the bound keeps squared distances and sums far
// from overflow in every model.
const Bound = 1e6

// MaxDim bounds the number of features Validate accepts.
const MaxDim = 1 << 16

// Method selects how a Scaler centres and scales.
type Method int

const (
	// Standard subtracts the mean and divides by the population standard
	// deviation (as scikit-learn's StandardScaler).
	Standard Method = iota
	// Robust subtracts the median and divides by the interquartile range
	// (p75 − p25, linear interpolation; as scikit-learn's RobustScaler).
	// One flood in the baseline moves it much less than it moves the mean.
	Robust
)

// String returns "standard" or "robust".
func (m Method) String() string {
	switch m {
	case Standard:
		return "standard"
	case Robust:
		return "robust"
	}
	return "Method(" + fmt.Sprint(int(m)) + ")"
}

// MarshalText implements encoding.TextMarshaler.
func (m Method) MarshalText() ([]byte, error) {
	switch m {
	case Standard, Robust:
		return []byte(m.String()), nil
	}
	return nil, fmt.Errorf("scale: unknown method %d", int(m))
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (m *Method) UnmarshalText(b []byte) error {
	switch string(b) {
	case "standard":
		*m = Standard
	case "robust":
		*m = Robust
	default:
		return fmt.Errorf("scale: unknown method %q (want standard or robust)", b)
	}
	return nil
}

// Config configures Fit.
type Config struct {
	Method Method
	// Log1p[j] applies sign(v)·log1p(|v|) to feature j before centring.
	// nil means no feature; otherwise its length must equal the number of
	// columns. train sets it from features.Feature.Count.
	Log1p []bool
	// ConstantScale is the scale of a feature that is constant on the
	// baseline (default 1). Such a feature carries the strongest signal an
	// unsupervised model can get — a value never seen in normal traffic —
	// and a small scale makes a departure from it count: train uses 0.05,
	// so a count feature going from 0 to 1 (0.69 after log1p) moves a flow
	// about 14 scaled units.
	ConstantScale float64
	// TailZ, when positive, widens a feature's scale where needed so that
	// its 1st and 99th percentiles (after log1p where set; the order
	// statistics at ranks ⌊n/100⌋ and ⌊99n/100⌋ of its n finite values) lie
	// within TailZ scaled units of its centre. Standardising assumes a bell curve; a
	// feature that is zero on most rows and something else on a few gets
	// a standard deviation so small that the values those few normal rows
	// carry land 10 or more units out, as far as an anomaly's. With TailZ
	// at the normal's 99th percentile (2.326, what train uses), a value 1
	// in 100 baseline rows carries counts as that, and a value the
	// baseline never held still counts in full (a constant feature keeps
	// ConstantScale).
	TailZ float64
}

// Scaler maps raw feature vectors to scaled ones. Its exported fields are
// its serialised form; after decoding one, call Validate.
//
// Center and Scale are in the transformed (log1p where set) space; Median,
// Min, Max, Lo and Hi are raw baseline statistics, ignoring non-finite
// values.
type Scaler struct {
	Method Method    `json:"method"`
	Log1p  []bool    `json:"log1p"`
	Center []float64 `json:"center"`
	Scale  []float64 `json:"scale"` // > 0; 1 for zero-spread features
	// Median replaces NaN inputs; Min and Max replace −Inf and +Inf.
	Median []float64 `json:"median"`
	Min    []float64 `json:"min"`
	Max    []float64 `json:"max"`
	// Lo and Hi are the raw 1st and 99th percentiles (linear
	// interpolation): the baseline range shown next to a feature in an
	// explanation. They are percentiles rather than min/max so that one
	// odd baseline flow does not make every value look ordinary.
	Lo []float64 `json:"lo"`
	Hi []float64 `json:"hi"`
}

// Fit fits a Scaler on the rows of X. Non-finite values in X are ignored; a
// column with no finite value gets centre 0, scale 1 and all statistics 0.
// A column with zero spread gets scale cfg.ConstantScale (default 1), so it
// maps to 0 on the baseline and to its offset / ConstantScale elsewhere.
func Fit(X *mat.Dense, cfg Config) (*Scaler, error) {
	if X == nil || X.IsEmpty() {
		return nil, errors.New("scale: no rows to fit")
	}
	n, d := X.Dims()
	if d > MaxDim {
		return nil, fmt.Errorf("scale: %d features, at most %d", d, MaxDim)
	}
	if cfg.Log1p != nil && len(cfg.Log1p) != d {
		return nil, fmt.Errorf("scale: Log1p has %d entries for %d features", len(cfg.Log1p), d)
	}
	if cfg.Method != Standard && cfg.Method != Robust {
		return nil, fmt.Errorf("scale: unknown method %d", int(cfg.Method))
	}
	s := &Scaler{
		Method: cfg.Method,
		Log1p:  make([]bool, d),
		Center: make([]float64, d),
		Scale:  make([]float64, d),
		Median: make([]float64, d),
		Min:    make([]float64, d),
		Max:    make([]float64, d),
		Lo:     make([]float64, d),
		Hi:     make([]float64, d),
	}
	copy(s.Log1p, cfg.Log1p)
	constScale := 1.0
	if cfg.ConstantScale > 0 && !math.IsInf(cfg.ConstantScale, 0) {
		constScale = cfg.ConstantScale
	}
	raw := make([]float64, 0, n)
	tr := make([]float64, 0, n)
	for j := 0; j < d; j++ {
		raw = raw[:0]
		for i := 0; i < n; i++ {
			if v := X.At(i, j); !math.IsNaN(v) && !math.IsInf(v, 0) {
				raw = append(raw, v)
			}
		}
		s.Scale[j] = constScale
		if len(raw) == 0 {
			continue
		}
		slices.Sort(raw)
		s.Median[j] = quantile(raw, 0.5)
		s.Min[j], s.Max[j] = raw[0], raw[len(raw)-1]
		s.Lo[j], s.Hi[j] = quantile(raw, 0.01), quantile(raw, 0.99)

		tr = append(tr[:0], raw...)
		if s.Log1p[j] {
			for i, v := range tr {
				tr[i] = slog1p(v)
			}
			// slog1p is monotone: tr stays sorted.
		}
		var c, sc float64
		switch s.Method {
		case Standard:
			c, sc = meanStd(tr)
		case Robust:
			c, sc = quantile(tr, 0.5), quantile(tr, 0.75)-quantile(tr, 0.25)
		}
		s.Center[j] = c
		if sc > 0 && !math.IsInf(sc, 0) && !math.IsNaN(sc) {
			s.Scale[j] = sc
		}
		if cfg.TailZ > 0 {
			// The order statistics at ranks ⌊n/100⌋ and ⌊99n/100⌋.
			m := len(tr)
			lo, hi := tr[int(0.01*float64(m))], tr[min(m-1, int(0.99*float64(m)))]
			if t := max(hi-c, c-lo) / cfg.TailZ; t > s.Scale[j] && !math.IsInf(t, 0) {
				s.Scale[j] = t
			}
		}
	}
	if err := s.Validate(); err != nil {
		// Only reachable through overflow of extreme finite inputs.
		return nil, err
	}
	return s, nil
}

// Dim returns the number of features.
func (s *Scaler) Dim() int { return len(s.Center) }

// TransformTo writes the scaled x into dst and returns it. When cap(dst) <
// Dim() a new slice is allocated; otherwise it does not allocate. NaN is
// replaced by the baseline median, +Inf by the baseline max and −Inf by the
// baseline min; the result is then
// log1p'd where configured, centred, scaled and clipped to ±Bound, so it is
// always finite. dst and x may be the same slice. It is safe for concurrent
// use with distinct dst. It panics if len(x) != Dim().
func (s *Scaler) TransformTo(dst, x []float64) []float64 {
	d := len(s.Center)
	if len(x) != d {
		panic("scale: input length does not match Dim")
	}
	if cap(dst) < d {
		dst = make([]float64, d)
	}
	dst = dst[:d]
	// Slices of x's length: no bounds checks in the loop.
	lg, ce, sc := s.Log1p[:d], s.Center[:d], s.Scale[:d]
	for j, v := range x {
		if d := v - v; d != d { // NaN or ±Inf: v − v is 0 for every finite v
			v = s.replace(j, v)
		}
		if lg[j] && v != 0 { // slog1p(±0) is itself: most counts are 0, spare the call
			v = slog1p(v)
		}
		z := (v - ce[j]) / sc[j]
		switch {
		case z > Bound:
			z = Bound
		case z < -Bound:
			z = -Bound
		case z != z: // NaN: finite inputs cannot produce it; never pass one on
			z = 0
		}
		dst[j] = z
	}
	return dst
}

// SanitizeTo writes x into dst with non-finite values replaced as
// TransformTo replaces them, without scaling: the raw values an explanation
// shows. It does not count replacements (TransformTo on the same vector
// already has). Allocation, aliasing and panics are as for TransformTo.
func (s *Scaler) SanitizeTo(dst, x []float64) []float64 {
	d := len(s.Center)
	if len(x) != d {
		panic("scale: input length does not match Dim")
	}
	if cap(dst) < d {
		dst = make([]float64, d)
	}
	dst = dst[:d]
	for j, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			v = s.replace(j, v)
		}
		dst[j] = v
	}
	return dst
}

// Finite reports whether every value of x is finite: when it is,
// SanitizeTo would copy x unchanged, so a caller may use x itself.
func Finite(x []float64) bool {
	// v*0 is 0 for finite v and NaN for NaN and ±Inf; four sums break
	// the dependency chain.
	var a0, a1, a2, a3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		a0 += x[i] * 0
		a1 += x[i+1] * 0
		a2 += x[i+2] * 0
		a3 += x[i+3] * 0
	}
	for ; i < len(x); i++ {
		a0 += x[i] * 0
	}
	return a0+a1+a2+a3 == 0
}

func (s *Scaler) replace(j int, v float64) float64 {
	switch {
	case math.IsInf(v, 1):
		return s.Max[j]
	case math.IsInf(v, -1):
		return s.Min[j]
	}
	return s.Median[j]
}

// Validate checks a decoded Scaler: consistent lengths, 1 ≤ Dim ≤ MaxDim,
// finite statistics, positive finite scales, Min ≤ Max and Lo ≤ Hi. A Scaler
// that passes never panics in TransformTo (given len(x) == Dim) and never
// returns a non-finite value.
func (s *Scaler) Validate() error {
	d := len(s.Center)
	if d == 0 {
		return errors.New("scale: no features")
	}
	if d > MaxDim {
		return fmt.Errorf("scale: %d features, at most %d", d, MaxDim)
	}
	if s.Method != Standard && s.Method != Robust {
		return fmt.Errorf("scale: unknown method %d", int(s.Method))
	}
	if len(s.Log1p) != d {
		return fmt.Errorf("scale: log1p has %d entries, center %d", len(s.Log1p), d)
	}
	for _, c := range []struct {
		name string
		v    []float64
	}{{"scale", s.Scale}, {"median", s.Median}, {"min", s.Min}, {"max", s.Max}, {"lo", s.Lo}, {"hi", s.Hi}, {"center", s.Center}} {
		if len(c.v) != d {
			return fmt.Errorf("scale: %s has %d entries, center %d", c.name, len(c.v), d)
		}
		for j, v := range c.v {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("scale: %s[%d] is not finite", c.name, j)
			}
		}
	}
	for j := 0; j < d; j++ {
		if !(s.Scale[j] > 0) {
			return fmt.Errorf("scale: scale[%d] = %g, want > 0", j, s.Scale[j])
		}
		if s.Min[j] > s.Max[j] || s.Lo[j] > s.Hi[j] {
			return fmt.Errorf("scale: feature %d: min/max or lo/hi out of order", j)
		}
	}
	return nil
}

// slog1p is sign(v)·log1p(|v|): log1p for counts, defined (and monotone)
// for the negative values a count column should not hold but might.
func slog1p(v float64) float64 {
	if v == 0 { // most count features of a flow are 0: skip the log
		return v
	}
	// Most of the rest are small whole counts: look them up (the table
	// holds math.Log1p's own results, so nothing changes but the time).
	if v > 0 && v < log1pTabLen {
		if i := int(v); float64(i) == v {
			return log1pTab[i]
		}
	}
	if v < 0 {
		return -math.Log1p(-v)
	}
	return math.Log1p(v)
}

// log1pTabLen bounds the whole numbers whose log1p is tabulated.
const log1pTabLen = 1024

// log1pTab[i] is math.Log1p(i).
var log1pTab = func() (t [log1pTabLen]float64) {
	for i := range t {
		t[i] = math.Log1p(float64(i))
	}
	return t
}()

// quantile returns the q-quantile of sorted x, linear interpolation between
// order statistics (numpy's default, "type 7").
func quantile(sorted []float64, q float64) float64 {
	n := len(sorted)
	if n == 1 {
		return sorted[0]
	}
	pos := q * float64(n-1)
	i := int(pos)
	if i >= n-1 {
		return sorted[n-1]
	}
	f := pos - float64(i)
	return sorted[i] + f*(sorted[i+1]-sorted[i])
}

// meanStd returns the mean and population standard deviation of x, with a
// two-pass algorithm (exact for constant columns).
func meanStd(x []float64) (mean, std float64) {
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	if math.IsInf(mean, 0) {
		// Sum overflowed: fall back to a scaled mean.
		mean = 0
		for _, v := range x {
			mean += v / float64(len(x))
		}
	}
	var ss float64
	for _, v := range x {
		dv := v - mean
		ss += dv * dv
	}
	return mean, math.Sqrt(ss / float64(len(x)))
}
