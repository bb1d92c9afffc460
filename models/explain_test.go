package models

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

func TestTopN(t *testing.T) {
	names := []string{"a", "b", "c", "d", "e", "f"}
	raw := []float64{10, 11, 12, 13, 14, 15}
	lo := []float64{0, 1, 2, 3, 4, 5}
	hi := []float64{20, 21, 22, 23, 24, 25}
	nan := math.NaN()
	tests := []struct {
		name   string
		shares []float64
		n      int
		want   []string
		share  []float64
	}{
		// Positive total 1+3+2+4 = 10.
		{"top 3", []float64{1, 3, 0, 2, nan, 4}, 3, []string{"f", "b", "d"}, []float64{0.4, 0.3, 0.2}},
		{"all positive", []float64{1, 3, 0, 2, nan, 4}, 10, []string{"f", "b", "d", "a"}, []float64{0.4, 0.3, 0.2, 0.1}},
		{"ties keep index order", []float64{1, 1, 1, 1, 0, 0}, 2, []string{"a", "b"}, []float64{0.25, 0.25}},
		{"negatives ignored", []float64{-5, 1, 0, 0, 0, 3}, 5, []string{"f", "b"}, []float64{0.75, 0.25}},
		{"nothing positive", []float64{0, 0, -1, nan, 0, 0}, 3, nil, nil},
		{"n = 0", []float64{1, 2, 3, 4, 5, 6}, 0, nil, nil},
		{"increasing input", []float64{1, 2, 3, 4, 5, 6}, 2, []string{"f", "e"}, []float64{6.0 / 21, 5.0 / 21}},
		{"overflowing shares", []float64{math.MaxFloat64, math.MaxFloat64, 0, 0, 0, 1}, 3, []string{"a", "b", "f"}, []float64{1, 1, 1 / math.MaxFloat64}},
	}
	dst := make([]Contribution, 0, 8)
	// Every case through TopN (its fast path at these n) and through the
	// insertion path that larger n take.
	for _, path := range []struct {
		name string
		top  func(shares []float64, n int) []Contribution
	}{
		{"TopN", func(sh []float64, n int) []Contribution { dst = TopN(dst, sh, names, raw, lo, hi, n); return dst }},
		{"insertion", func(sh []float64, n int) []Contribution { return topNRef(sh, names, raw, lo, hi, n) }},
	} {
		for _, tt := range tests {
			got := path.top(tt.shares, tt.n)
			if len(got) != len(tt.want) {
				t.Errorf("%s, %s: got %d contributions %v, want %v", path.name, tt.name, len(got), got, tt.want)
				continue
			}
			for i, c := range got {
				j := int(c.Name[0] - 'a')
				if c.Name != tt.want[i] || math.Abs(c.Share-tt.share[i]) > 1e-15 ||
					c.Value != raw[j] || c.Lo != lo[j] || c.Hi != hi[j] {
					t.Errorf("%s, %s: [%d] = %+v, want %s share %v", path.name, tt.name, i, c, tt.want[i], tt.share[i])
				}
			}
		}
	}
	shares := []float64{1, 3, 0, 2, 7, 4}
	if n := testing.AllocsPerRun(100, func() { dst = TopN(dst, shares, names, raw, lo, hi, 5) }); n != 0 {
		t.Errorf("TopN allocates %v times", n)
	}
}

// TestTopNMatchesReference holds TopN (its fast path for small n and the
// general one) to the plain insertion it replaced, on random shares with
// ties, adjacent floats that may divide to the same share, zeros, NaN,
// +Inf and overflowing sums.
func TestTopNMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const d = 40
	names := make([]string, d)
	raw, lo, hi := make([]float64, d), make([]float64, d), make([]float64, d)
	for i := range d {
		names[i] = string(rune('A' + i))
		raw[i], lo[i], hi[i] = float64(i), -float64(i), 2*float64(i)
	}
	var got []Contribution
	for iter := range 3000 {
		shares := make([]float64, d)
		for i := range shares {
			switch r.IntN(9) {
			case 0:
				shares[i] = 0
			case 1:
				shares[i] = 0.25 // ties
			case 2:
				shares[i] = math.Nextafter(0.25, 1) // may divide to 0.25's share
			case 3:
				shares[i] = -r.Float64()
			default:
				shares[i] = r.Float64()
			}
		}
		switch iter % 50 {
		case 1:
			shares[r.IntN(d)] = math.NaN()
		case 2:
			shares[r.IntN(d)] = math.Inf(1)
		case 3:
			shares[r.IntN(d)], shares[r.IntN(d)] = math.MaxFloat64, math.MaxFloat64
		}
		n := 1 + iter%(topFast+4)
		got = TopN(got, shares, names, raw, lo, hi, n)
		want := topNRef(shares, names, raw, lo, hi, n)
		if !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Fatalf("iteration %d, n %d, shares %v:\n got %+v\nwant %+v", iter, n, shares, got, want)
		}
	}
}

// topNRef is TopN through the insertion path alone, whatever n (TestTopN
// pins that path's semantics case by case).
func topNRef(shares []float64, names []string, raw, lo, hi []float64, n int) []Contribution {
	var total float64
	for _, s := range shares {
		if s > 0 {
			total += s
		}
	}
	if !(total > 0) || n <= 0 {
		return nil
	}
	if math.IsInf(total, 1) {
		total = math.MaxFloat64
	}
	return topNInsert(nil, shares, names, raw, lo, hi, n, total)
}
