package incident

import (
	"math"
	"math/bits"
)

// card estimates the number of distinct 64-bit hashes added: exact while
// it has seen at most smallMax of them, then a HyperLogLog with 2^hllP
// registers (about 3 % standard error).
type card struct {
	small []uint64 // distinct hashes while len ≤ smallMax; nil once dense
	regs  []uint8  // the HLL registers once dense
}

const (
	smallMax = 32
	hllP     = 10
)

func (c *card) add(h uint64) {
	if c.regs == nil {
		for _, x := range c.small {
			if x == h {
				return
			}
		}
		if len(c.small) < smallMax {
			c.small = append(c.small, h)
			return
		}
		c.regs = make([]uint8, 1<<hllP)
		for _, x := range c.small {
			c.addDense(x)
		}
		c.small = nil
	}
	c.addDense(h)
}

func (c *card) addDense(h uint64) {
	i := h >> (64 - hllP)
	rho := uint8(bits.LeadingZeros64(h<<hllP|1<<(hllP-1)) + 1)
	if rho > c.regs[i] {
		c.regs[i] = rho
	}
}

// count returns the estimate (exact while small).
func (c *card) count() uint64 {
	if c.regs == nil {
		return uint64(len(c.small))
	}
	m := float64(len(c.regs))
	var sum float64
	zeros := 0
	for _, r := range c.regs {
		sum += math.Ldexp(1, -int(r))
		if r == 0 {
			zeros++
		}
	}
	e := 0.7213 / (1 + 1.079/m) * m * m / sum
	if e <= 2.5*m && zeros > 0 {
		e = m * math.Log(m/float64(zeros)) // linear counting for small ranges
	}
	return uint64(e + 0.5)
}

// heavy is a space-saving summary (Metwally et al. 2005) of the most
// frequent items of a stream in topK counters: an item's count is
// overestimated by at most the smallest counter's value, and any item
// more frequent than n/topK is in it.
type heavy[T comparable] struct {
	items []hitter[T]
}

type hitter[T comparable] struct {
	item  T
	count uint64
}

const topK = 16

func (h *heavy[T]) add(x T) {
	h.addN(x, 1)
}

// top returns up to n items by decreasing count (ties: first added first).
func (h *heavy[T]) top(n int) []hitter[T] {
	out := append([]hitter[T](nil), h.items...)
	// insertion sort: at most topK items, stable
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].count > out[j-1].count; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// mix64 is a 64-bit finalizer (SplitMix64's), spreading a value's bits
// for the sketches.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// merge adds o's hashes to c.
func (c *card) merge(o *card) {
	if o.regs == nil {
		for _, h := range o.small {
			c.add(h)
		}
		return
	}
	if c.regs == nil {
		c.regs = make([]uint8, 1<<hllP)
		for _, x := range c.small {
			c.addDense(x)
		}
		c.small = nil
	}
	for i, r := range o.regs {
		c.regs[i] = max(c.regs[i], r)
	}
}

// addN adds n occurrences of x.
func (h *heavy[T]) addN(x T, n uint64) {
	for i := range h.items {
		if h.items[i].item == x {
			h.items[i].count += n
			return
		}
	}
	if len(h.items) < topK {
		h.items = append(h.items, hitter[T]{x, n})
		return
	}
	m := 0
	for i := range h.items {
		if h.items[i].count < h.items[m].count {
			m = i
		}
	}
	h.items[m] = hitter[T]{x, h.items[m].count + n}
}
