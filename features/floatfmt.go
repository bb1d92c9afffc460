package features

import (
	"math"
	"strconv"
)

// AppendFloat appends v in the shortest form that reads back exactly, the
// number format of vigil's CSV files: integral values below 1e15 in plain
// decimal (strconv would write 1e+06), everything else exactly as
// strconv.AppendFloat(b, v, 'g', -1, 64).
//
// Flow vectors are mostly zeros, small counts and short decimals such as
// microsecond durations (4e-06): formatting them was the largest cost of
// cmd/extract. Zeros and integers take a fast path; a non-integer with at
// most 15 significant digits is found by scaling (see shortDecimal) and
// printed by the same rules as strconv; anything else goes to strconv.
func AppendFloat(b []byte, v float64) []byte {
	if v == 0 {
		if math.Signbit(v) {
			return append(b, "-0"...)
		}
		return append(b, '0')
	}
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		if v >= 0 && v < 10 {
			return append(b, byte('0'+int(v)))
		}
		return strconv.AppendInt(b, int64(v), 10)
	}
	if k, s, ok := shortDecimal(math.Abs(v)); ok {
		return appendShort(b, v < 0, k, s)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// pow10tab holds the powers of ten that are exact in float64.
var pow10tab = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// shortDecimal finds, for a finite non-integral a > 0, the shortest
// decimal k·10^-s (k > 0 without trailing zeros, s ≥ 1) whose nearest
// float64 is a, when it has at most 15 significant digits. ok is false
// otherwise (strconv then finds the 16 or 17 digits), and for a below
// about 1e-8.
//
// Why this is the decimal strconv prints: decimals of at most 15
// significant digits are all multiples of 10^-S for the scale S that
// makes a·10^S a 15-digit integer, and two of them differ by a relative
// 1e-15 or more, wider than the interval that rounds to a (2^-52
// relative). So at most one rounds to a, and when one does it is
// K·10^-S with K = round(a·10^S): a·10^S is within 0.2 of K (a is within
// a relative 2^-53 of K·10^-S, and the product is rounded once more).
// The check fl(K/10^S) == a is exact: K < 2^53 and 10^S (S ≤ 22) are
// exact and the division is correctly rounded. Removing K's trailing
// zeros gives the same decimal with fewest digits, which is strconv's
// shortest form: a shorter one would be another decimal of at most 15
// digits rounding to a.
func shortDecimal(a float64) (k uint64, s int, ok bool) {
	e2 := int(math.Float64bits(a)>>52&0x7ff) - 1023
	// 10^14 ≤ a·10^s < 10^15 for s = 14 - floor(log10 a); log10 a is in
	// [e2·log10(2), (e2+1)·log10(2)), so start from the upper end.
	s = 14 - (((e2 + 1) * 78913) >> 18) // 78913/2^18 ≈ log10(2); floor division for negatives
	if s < 1 || s >= len(pow10tab) {
		return 0, 0, false
	}
	p := pow10tab[s]
	m := a * p
	if m >= 1e15 {
		if s--; s < 1 {
			return 0, 0, false
		}
		p = pow10tab[s]
		m = a * p
	} else if m < 1e14 && s+1 < len(pow10tab) {
		s++
		p = pow10tab[s]
		m = a * p
	}
	ki := int64(m + 0.5) // m < 1e15: signed conversions are the cheap ones
	if ki == 0 || float64(ki)/p != a {
		return 0, 0, false
	}
	k = uint64(ki)
	// Strip trailing zeros (at most 14) in halving steps.
	if k%1e8 == 0 {
		k /= 1e8
		s -= 8
	}
	if k%1e4 == 0 {
		k /= 1e4
		s -= 4
	}
	if k%100 == 0 {
		k /= 100
		s -= 2
	}
	if k%10 == 0 {
		k /= 10
		s--
	}
	return k, s, s >= 1
}

// appendShort appends ±k·10^-s (k > 0 without trailing zeros) as strconv's
// shortest 'g' format does: %e when the decimal exponent is below -4 or at
// least 6 (precision 6 is strconv's choice for shortest), else %f, with
// every digit of k and no more.
func appendShort(b []byte, neg bool, k uint64, s int) []byte {
	var d [20]byte
	i := len(d)
	for k > 0 {
		i--
		d[i] = byte('0' + k%10)
		k /= 10
	}
	digs := d[i:]
	nd := len(digs)
	dp := nd - s // decimal point position relative to the first digit
	if neg {
		b = append(b, '-')
	}
	exp := dp - 1
	if exp < -4 || exp >= 6 {
		b = append(b, digs[0])
		if nd > 1 {
			b = append(b, '.')
			b = append(b, digs[1:]...)
		}
		b = append(b, 'e')
		if exp < 0 {
			b = append(b, '-')
			exp = -exp
		} else {
			b = append(b, '+')
		}
		switch {
		case exp < 10:
			b = append(b, '0', byte('0'+exp))
		case exp < 100:
			b = append(b, byte('0'+exp/10), byte('0'+exp%10))
		default:
			b = append(b, byte('0'+exp/100), byte('0'+exp/10%10), byte('0'+exp%10))
		}
		return b
	}
	if dp > 0 {
		// dp < nd: a is not integral, so some digits follow the point.
		b = append(b, digs[:dp]...)
		b = append(b, '.')
		return append(b, digs[dp:]...)
	}
	b = append(b, '0', '.')
	for ; dp < 0; dp++ {
		b = append(b, '0')
	}
	return append(b, digs...)
}
