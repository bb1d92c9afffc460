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
// Why this is the decimal strconv prints: of the decimals with at most 15
// significant digits, only one rounds to a: two of them differ by a
// relative 1e-15 or more, wider than the interval that rounds to a (2^-52
// relative). A decimal K·10^-s rounds to a exactly when fl(K/10^s) == a,
// an exact check (K < 2^53 and 10^s, s ≤ 22, are exact, and the division
// is correctly rounded), and then K = round(a·10^s), since a·10^s is
// within a relative 2^-52 of K.
//
// Most short decimals in flow vectors have one or two digits (4e-06,
// 3.5e-06, 0.5), so the scales for one to about two digits are tried
// first, the first that passes giving the fewest digits. Otherwise the
// scale S that makes a·10^S a 15-digit integer K is checked, and K's
// trailing zeros removed: if any decimal of at most 15 digits rounds to a,
// it is K·10^-S written with fewer digits.
func shortDecimal(a float64) (k uint64, s int, ok bool) {
	e2 := int(math.Float64bits(a)>>52&0x7ff) - 1023
	// floor(log10 a) ≤ u = floor((e2+1)·log10 2) ≤ floor(log10 a)+1, so
	// a·10^-u is in [0.1, 10): from s = -u, one or two digits.
	u := ((e2 + 1) * 78913) >> 18 // 78913/2^18 ≈ log10(2); floor division for negatives
	for s = max(1, -u); s < min(-u+3, len(pow10tab)); s++ {
		p := pow10tab[s]
		m := a * p
		ki := int64(m + 0.5) // m < 1000: signed conversions are the cheap ones
		fk := float64(ki)
		// Cheap filter before the division: when K·10^-s rounds to a,
		// m is within a relative 2^-52 of K.
		if d := m - fk; d > m*0x1p-50 || -d > m*0x1p-50 {
			continue
		}
		if ki != 0 && fk/p == a {
			return uint64(ki), s, true
		}
	}
	// 10^14 ≤ a·10^s < 10^15 for s = 14 - floor(log10 a).
	s = 14 - u
	if s < 1 || s >= len(pow10tab) {
		return 0, 0, false
	}
	p := pow10tab[s]
	m := a * p
	if m < 1e14 && s+1 < len(pow10tab) {
		s++
		p = pow10tab[s]
		m = a * p
	}
	if m >= 1e15 {
		return 0, 0, false
	}
	ki := int64(m + 0.5)
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
