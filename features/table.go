package features

import (
	"encoding/binary"
	"math/bits"
)

// flowKey is the canonical, comparable identity of a bidirectional flow:
// the (address, port) pair that sorts lower is a. For ICMP, pa is
// icmpEchoMark and pb the echo identifier for echo request/reply, else pa
// is type<<8|code and pb is 0; the addresses alone are ordered.
type flowKey struct {
	a, b   [16]byte
	pa, pb uint16
	vlan   uint16
	proto  uint8
	v6     bool
}

const icmpEchoMark = 0xffff

// makeKey returns the canonical key of p and whether p's sender is key.a.
func makeKey(p *packet) (k flowKey, srcIsA bool) {
	k.vlan, k.proto, k.v6 = p.vlan, p.proto, p.v6
	sp, dp := p.sport, p.dport
	icmp := p.proto == 1 && !p.v6 || p.proto == 58 && p.v6
	if icmp {
		if p.echo {
			sp, dp = icmpEchoMark, p.icmpID
		} else {
			sp, dp = uint16(p.icmpType)<<8|uint16(p.icmpCode), 0
		}
	}
	c := compare16(&p.src, &p.dst)
	if c < 0 || c == 0 && (icmp || sp <= dp) {
		k.a, k.b, k.pa, k.pb = p.src, p.dst, sp, dp
		return k, true
	}
	k.a, k.b = p.dst, p.src
	if icmp {
		k.pa, k.pb = sp, dp
	} else {
		k.pa, k.pb = dp, sp
	}
	return k, false
}

func compare16(x, y *[16]byte) int {
	a0, b0 := binary.BigEndian.Uint64(x[:8]), binary.BigEndian.Uint64(y[:8])
	if a0 != b0 {
		if a0 < b0 {
			return -1
		}
		return 1
	}
	a1, b1 := binary.BigEndian.Uint64(x[8:]), binary.BigEndian.Uint64(y[8:])
	switch {
	case a1 < b1:
		return -1
	case a1 > b1:
		return 1
	}
	return 0
}

func (k *flowKey) hash(seed uint64) uint64 {
	const m = 0x9e3779b97f4a7c15
	mix := func(h, w uint64) uint64 {
		hi, lo := bits.Mul64(h^w, m)
		return hi ^ lo
	}
	h := seed
	h = mix(h, binary.LittleEndian.Uint64(k.a[:8]))
	h = mix(h, binary.LittleEndian.Uint64(k.a[8:]))
	h = mix(h, binary.LittleEndian.Uint64(k.b[:8]))
	h = mix(h, binary.LittleEndian.Uint64(k.b[8:]))
	var v6 uint64
	if k.v6 {
		v6 = 1
	}
	h = mix(h, uint64(k.pa)|uint64(k.pb)<<16|uint64(k.vlan)<<32|uint64(k.proto)<<48|v6<<56)
	return mix(h, m)
}

// index is an open-addressing hash index (linear probing, backward-shift
// deletion) from a key to a slot: flowKey to flow slot here, and the host
// and service context tables' keys to their entries (ctab, which probes
// it with its own key comparison). Each entry packs the slot number
// plus one (0 = empty) in its low 32 bits and the key hash's high 32 bits
// (the tag) in its high half. The home position is the tag modulo the
// table size, so deleting and growing never rehash a key, and probes
// rarely touch the flows themselves. It keeps its load at most 3/4 and
// costs 8 bytes per entry: 10.7 to 21.3 bytes per flow.
type index struct {
	slots []uint64
	mask  uint64
	n     int
	seed  uint64
}

func (x *index) init(seed uint64) {
	x.seed = seed
	x.alloc(1024)
}

// alloc gives the index size empty entries (a power of two).
func (x *index) alloc(size int) {
	x.slots = make([]uint64, size)
	x.mask = uint64(size - 1)
}

// find returns the slot of k (whose hash is h), or -1.
func (x *index) find(k *flowKey, h uint64, flows *flowStore) int {
	tag := h >> 32
	for i := tag & x.mask; ; i = (i + 1) & x.mask {
		e := x.slots[i]
		if e == 0 {
			return -1
		}
		if e>>32 == tag {
			s := int(uint32(e)) - 1
			if flows.at(s).key == *k {
				return s
			}
		}
	}
}

func (x *index) insert(h uint64, slot int) {
	if (x.n+1)*4 > len(x.slots)*3 {
		x.grow()
	}
	x.put(h>>32<<32 | uint64(uint32(slot+1)))
	x.n++
}

func (x *index) put(e uint64) {
	for i := (e >> 32) & x.mask; ; i = (i + 1) & x.mask {
		if x.slots[i] == 0 {
			x.slots[i] = e
			return
		}
	}
}

func (x *index) grow() {
	old := x.slots
	x.slots = make([]uint64, 2*len(old))
	x.mask = uint64(len(x.slots) - 1)
	for _, e := range old {
		if e != 0 {
			x.put(e)
		}
	}
}

// remove deletes the entry for slot (whose key hashes to h).
func (x *index) remove(h uint64, slot int) {
	want := uint64(uint32(slot + 1))
	i := (h >> 32) & x.mask
	for uint64(uint32(x.slots[i])) != want {
		if x.slots[i] == 0 {
			return // not present: nothing to do
		}
		i = (i + 1) & x.mask
	}
	// Backward-shift: move later entries of the cluster into the hole when
	// their home position allows it.
	for j := (i + 1) & x.mask; ; j = (j + 1) & x.mask {
		e := x.slots[j]
		if e == 0 {
			break
		}
		home := (e >> 32) & x.mask
		// Move e to i unless its home is cyclically in (i, j].
		if (j-home)&x.mask >= (j-i)&x.mask {
			x.slots[i] = e
			i = j
		}
	}
	x.slots[i] = 0
	x.n--
}

// flowStore holds flows in fixed-size chunks so that growing never copies
// or over-allocates more than one chunk.
type flowStore struct {
	chunks [][]flow
	n      int // slots handed out
	free   []uint32
}

const chunkBits = 10
const chunkSize = 1 << chunkBits

func (s *flowStore) at(i int) *flow {
	return &s.chunks[i>>chunkBits][i&(chunkSize-1)]
}

func (s *flowStore) alloc() int {
	if n := len(s.free); n > 0 {
		i := int(s.free[n-1])
		s.free = s.free[:n-1]
		return i
	}
	if s.n>>chunkBits == len(s.chunks) {
		s.chunks = append(s.chunks, make([]flow, chunkSize))
	}
	s.n++
	return s.n - 1
}

func (s *flowStore) release(i int) {
	*s.at(i) = flow{}
	s.free = append(s.free, uint32(i))
}
