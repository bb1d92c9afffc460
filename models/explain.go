package models

import "math"

// DefaultTopN is how many features an explanation names unless configured.
const DefaultTopN = 5

// Contribution is one feature's part in an anomaly score.
type Contribution struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"` // the raw (unscaled) value
	// Lo and Hi are the feature's baseline range (see scale.Scaler.Lo/Hi:
	// the raw 1st and 99th percentiles).
	Lo float64 `json:"lo"`
	Hi float64 `json:"hi"`
	// Share is the feature's fraction of the total contribution: shares[i]
	// divided by the sum of the positive shares, in [0, 1].
	Share float64 `json:"share"`
}

// TopN writes into dst the (at most) n features with the largest positive
// shares, largest first (ties: lower index first), and returns it. shares
// are a model's per-feature contributions (any non-negative scale; they are
// normalised here); NaN and non-positive shares are never chosen. names,
// raw, lo and hi give the other fields. It does not allocate when cap(dst)
// ≥ n.
//
// It panics if names, raw, lo or hi is shorter than shares.
func TopN(dst []Contribution, shares []float64, names []string, raw []float64, lo, hi []float64, n int) []Contribution {
	d := len(shares)
	if len(names) < d || len(raw) < d || len(lo) < d || len(hi) < d {
		panic("models: TopN inputs shorter than shares")
	}
	dst = dst[:0]
	if n <= 0 {
		return dst
	}
	var total float64
	for _, s := range shares {
		if s > 0 {
			total += s
		}
	}
	if !(total > 0) {
		return dst
	}
	if math.IsInf(total, 1) {
		total = math.MaxFloat64 // the shares overflow: still rank them
	}
	// Insertion into a sorted list of at most n: O(d·n), n is small.
	for i, s := range shares {
		if !(s > 0) {
			continue
		}
		share := math.Min(s/total, 1)
		if len(dst) == n && share <= dst[n-1].Share {
			continue
		}
		c := Contribution{Name: names[i], Value: raw[i], Lo: lo[i], Hi: hi[i], Share: share}
		p := len(dst)
		if p < n {
			dst = append(dst, c)
		} else {
			p = n - 1
		}
		for p > 0 && dst[p-1].Share < c.Share {
			dst[p] = dst[p-1]
			p--
		}
		dst[p] = c
	}
	return dst
}
