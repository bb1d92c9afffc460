package models

import (
	"math"
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
	for _, tt := range tests {
		dst = TopN(dst, tt.shares, names, raw, lo, hi, tt.n)
		if len(dst) != len(tt.want) {
			t.Errorf("%s: got %d contributions %v, want %v", tt.name, len(dst), dst, tt.want)
			continue
		}
		for i, c := range dst {
			j := int(c.Name[0] - 'a')
			if c.Name != tt.want[i] || math.Abs(c.Share-tt.share[i]) > 1e-15 ||
				c.Value != raw[j] || c.Lo != lo[j] || c.Hi != hi[j] {
				t.Errorf("%s: [%d] = %+v, want %s share %v", tt.name, i, c, tt.want[i], tt.share[i])
			}
		}
	}
	shares := []float64{1, 3, 0, 2, 7, 4}
	if n := testing.AllocsPerRun(100, func() { dst = TopN(dst, shares, names, raw, lo, hi, 5) }); n != 0 {
		t.Errorf("TopN allocates %v times", n)
	}
}
