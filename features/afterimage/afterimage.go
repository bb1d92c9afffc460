package afterimage

import (
	"bytes"
	"hash/maphash"
	"net/netip"

	"github.com/vigil-nids/vigil/capture"
	"github.com/vigil-nids/vigil/features"
)

// NumFeatures is the length of a packet's vector: 23 statistics for each
// of the 5 decay factors.
const NumFeatures = 115

// Offsets of the groups in the vector; within a group, λ-major.
const (
	offMI   = 0  // 3 per λ
	offH    = 15 // 3 per λ
	offHH   = 30 // 7 per λ
	offJit  = 65 // 3 per λ
	offHpHp = 80 // 7 per λ
)

// DefaultMaxKeys is the default bound on each of the four tables.
const DefaultMaxKeys = 100_000

// Config configures an Extractor.
type Config struct {
	// MaxKeys bounds each table (source MAC+IP, source IP, channel,
	// socket pair); when one is full, its least recently updated entry is
	// dropped. 0 means DefaultMaxKeys. A channel entry takes about 700
	// bytes, a socket pair about 450, the others about 200.
	MaxKeys int
}

// Stats counts what an Extractor saw.
type Stats struct {
	Packets uint64 // frames given to Process
	IP      uint64 // frames with an IP header: one vector each
	Evicted uint64 // table entries dropped to stay within MaxKeys
	Keys    [4]int // entries in the MAC+IP, IP, channel and socket tables
}

// PacketID is the identity of the last packet Process returned a vector
// for.
type PacketID struct {
	Timestamp        int64 // capture time, ns since the Unix epoch
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16 // 0 unless TCP or UDP
	Proto            uint8  // IP protocol number
}

// Extractor computes Kitsune's AfterImage statistics packet by packet. It
// is not safe for concurrent use.
type Extractor struct {
	dec     *features.FrameDecoder
	pkt     features.FrameEndpoints
	ts      int64
	mi      *table[stream]
	host    *table[stream]
	hh      *table[channel]
	hphp    *table[pair]
	packets uint64
	ip      uint64
}

// New returns an Extractor with empty state.
func New(cfg Config) *Extractor {
	n := cfg.MaxKeys
	if n <= 0 {
		n = DefaultMaxKeys
	}
	seed := maphash.MakeSeed()
	return &Extractor{
		dec:  features.NewFrameDecoder(),
		mi:   newTable[stream](n, seed),
		host: newTable[stream](n, seed),
		hh:   newTable[channel](n, seed),
		hphp: newTable[pair](n, seed),
	}
}

// Process decodes one frame, updates the statistics of its source, channel
// and socket pair at the frame's capture time, and appends the packet's
// NumFeatures values (in Schema order) to dst. It returns dst unchanged
// and false for a frame without an IPv4 or IPv6 header, which updates
// nothing. The size of a packet is its length on the wire (ci.Length, or
// the captured length when that is 0). Process allocates nothing once the
// tables have grown to their working set, provided dst has room.
func (x *Extractor) Process(data []byte, ci capture.CaptureInfo, dst []float64) ([]float64, bool) {
	x.packets++
	p := &x.pkt
	if !x.dec.Endpoints(data, ci.LinkType, p) {
		return dst, false
	}
	x.ip++
	t := ci.Timestamp
	x.ts = t
	size := float64(ci.Length)
	if ci.Length <= 0 {
		size = float64(len(data))
	}
	n := len(dst)
	dst = append(dst, zeros[:]...)
	out := dst[n : n+NumFeatures]

	var k key
	// Source MAC + IP.
	copy(k[:6], p.SrcMAC[:])
	copy(k[6:22], p.Src[:])
	st, created := x.mi.get(&k)
	if created {
		st.last = t
	}
	st.insert(size, t)
	for i := range nL {
		st.put1D(i, out[offMI+3*i:])
	}

	// Source IP.
	k = key{}
	copy(k[:16], p.Src[:])
	st, created = x.host.get(&k)
	if created {
		st.last = t
	}
	st.insert(size, t)
	for i := range nL {
		st.put1D(i, out[offH+3*i:])
	}

	// Channel: the address pair in canonical order; dir 0 is a→b.
	k = key{}
	dir := 0
	if bytes.Compare(p.Dst[:], p.Src[:]) < 0 {
		dir = 1
		copy(k[:16], p.Dst[:])
		copy(k[16:32], p.Src[:])
	} else {
		copy(k[:16], p.Src[:])
		copy(k[16:32], p.Dst[:])
	}
	ch, created := x.hh.get(&k)
	if created {
		ch.init(t)
	}
	ch.update(dir, size, t, out[offHH:offHH+7*nL])
	// Jitter: inter-arrival time in this direction, 0 for the first.
	j := &ch.jit[dir]
	if !ch.jitSeen[dir] {
		ch.jitSeen[dir] = true
		j.last = t
	}
	gap := 0.0
	if t > j.last {
		gap = float64(t-j.last) / 1e9
	}
	j.insert(gap, t)
	for i := range nL {
		j.put1D(i, out[offJit+3*i:])
	}

	// Socket pair (with the protocol): endpoints in canonical order.
	k = key{}
	dir = 0
	if c := bytes.Compare(p.Src[:], p.Dst[:]); c > 0 || c == 0 && p.Sport > p.Dport {
		dir = 1
		copy(k[:16], p.Dst[:])
		copy(k[16:32], p.Src[:])
		k[32], k[33], k[34], k[35] = byte(p.Dport>>8), byte(p.Dport), byte(p.Sport>>8), byte(p.Sport)
	} else {
		copy(k[:16], p.Src[:])
		copy(k[16:32], p.Dst[:])
		k[32], k[33], k[34], k[35] = byte(p.Sport>>8), byte(p.Sport), byte(p.Dport>>8), byte(p.Dport)
	}
	k[36] = p.Proto
	sp, created := x.hphp.get(&k)
	if created {
		sp.init(t)
	}
	sp.update(dir, size, t, out[offHpHp:offHpHp+7*nL])
	return dst, true
}

var zeros [NumFeatures]float64

// Last returns the identity of the last packet Process returned a vector
// for.
func (x *Extractor) Last() PacketID {
	p := &x.pkt
	id := PacketID{Timestamp: x.ts, SrcPort: p.Sport, DstPort: p.Dport, Proto: p.Proto}
	if p.V6 {
		id.Src, id.Dst = netip.AddrFrom16(p.Src), netip.AddrFrom16(p.Dst)
	} else {
		id.Src = netip.AddrFrom4([4]byte(p.Src[12:]))
		id.Dst = netip.AddrFrom4([4]byte(p.Dst[12:]))
	}
	return id
}

// Stats returns counters and table sizes.
func (x *Extractor) Stats() Stats {
	return Stats{
		Packets: x.packets,
		IP:      x.ip,
		Evicted: x.mi.evicted + x.host.evicted + x.hh.evicted + x.hphp.evicted,
		Keys:    [4]int{x.mi.len(), x.host.len(), x.hh.len(), x.hphp.len()},
	}
}
