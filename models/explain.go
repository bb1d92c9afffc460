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
	return TopNSum(dst, shares, total, names, raw, lo, hi, n)
}

// TopNSum is TopN given total, the sum of the positive shares added in
// index order, as TopN adds them (a producer of shares can sum them as it
// writes them, sparing TopN a pass and a chain of dependent additions).
// With that total the result equals TopN's.
func TopNSum(dst []Contribution, shares []float64, total float64, names []string, raw []float64, lo, hi []float64, n int) []Contribution {
	d := len(shares)
	if len(names) < d || len(raw) < d || len(lo) < d || len(hi) < d {
		panic("models: TopN inputs shorter than shares")
	}
	dst = dst[:0]
	if n <= 0 || !(total > 0) {
		return dst
	}
	if math.IsInf(total, 1) {
		total = math.MaxFloat64 // the shares overflow: still rank them
	}
	if n <= topFast {
		return topNFast(dst, shares, names, raw, lo, hi, n, total)
	}
	return topNInsert(dst, shares, names, raw, lo, hi, n, total)
}

// topNInsert is TopNSum's general path (and its tests' reference for
// topNFast): insertion into a sorted list of at most n, O(d·n) for small n.
// dst is empty, n > 0 and total > 0 (finite or MaxFloat64).
func topNInsert(dst []Contribution, shares []float64, names []string, raw, lo, hi []float64, n int, total float64) []Contribution {
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

// topFast is the largest n that topNFast handles.
const topFast = 16

// topNFast is TopN's selection for n ≤ topFast, with the same result: it
// ranks indices and builds the Contributions last, skips a share without
// dividing when its raw value is below the current n-th one (division by
// total and the clamp to 1 are monotone, so it could not enter), and
// clamps with a comparison rather than math.Min (a share is never NaN).
func topNFast(dst []Contribution, shares []float64, names []string, raw, lo, hi []float64, n int, total float64) []Contribution {
	var idx [topFast]int
	var sh [topFast]float64
	k := 0
	var floor float64 // raw share of the n-th entry once there are n
	for i, s := range shares {
		if !(s > 0) || (k == n && s < floor) {
			continue
		}
		share := s / total
		if share > 1 {
			share = 1
		}
		if k == n && share <= sh[n-1] {
			continue
		}
		p := k
		if k < n {
			k++
		} else {
			p = n - 1
		}
		for p > 0 && sh[p-1] < share {
			sh[p], idx[p] = sh[p-1], idx[p-1]
			p--
		}
		sh[p], idx[p] = share, i
		if k == n {
			floor = shares[idx[n-1]]
		}
	}
	for p := range k {
		i := idx[p]
		dst = append(dst, Contribution{Name: names[i], Value: raw[i], Lo: lo[i], Hi: hi[i], Share: sh[p]})
	}
	return dst
}
