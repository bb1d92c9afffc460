package detect

import (
	"bufio"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/vigil-nids/vigil/capture"
	"github.com/vigil-nids/vigil/features"
)

// anomalyPcap writes the packets of flows that raised alerts.
//
// What is captured: every packet the capture goroutine reads is copied
// into a bounded ring (RingBytes, default 32 MiB) tagged with its flow key
// hash (features.FrameDecoder.FlowKeyHash). When a flow alerts, the packets of that flow still
// in the ring are written, and then every later packet of the flow, up to
// MaxPerFlow packets per flow (ring ones included) and for at most
// maxFollow flows at once (the oldest followed flow is dropped first).
//
// What is not: packets of the flow that already left the ring (a long flow
// on a busy link loses its start), packets beyond the per-flow bound, and
// packets whose link type differs from the file's (the first packet's).
// The flow identity is the FlowKeyHash of the flow the extractor counts the
// packet in, read by the extractor's own decoder: ICMP is grouped per host
// pair, and what the extractor counts in no flow (malformed frames, IP
// fragments after the first) is missed. Hash collisions can add unrelated
// packets (2^-64 per pair).
//
// All writes happen on the capture goroutine; the alert goroutine only
// queues flow hashes through mark.
type anomalyPcap struct {
	bw         *bufio.Writer
	dec        *features.FrameDecoder
	w          *pcapgo.Writer
	linkType   layers.LinkType
	header     bool
	maxPerFlow int

	ring   pktRing
	follow map[uint64]int // hash → packets still allowed
	order  []uint64       // follow insertion order (FIFO bound)

	mu      sync.Mutex
	pending []uint64
	hasPend atomic.Bool

	written, dropped uint64
	err              error
}

const maxFollow = 4096

func newAnomalyPcap(w io.Writer, ringBytes, maxPerFlow int) *anomalyPcap {
	bw := bufio.NewWriterSize(w, 64<<10)
	return &anomalyPcap{
		bw:         bw,
		dec:        features.NewFrameDecoder(),
		w:          pcapgo.NewWriterNanos(bw),
		maxPerFlow: maxPerFlow,
		ring:       newPktRing(ringBytes),
		follow:     make(map[uint64]int),
	}
}

// mark queues a flow_id (FlowKeyHash masked) for writing; safe from any goroutine.
func (p *anomalyPcap) mark(h uint64) {
	p.mu.Lock()
	p.pending = append(p.pending, h)
	p.hasPend.Store(true)
	p.mu.Unlock()
}

// packet handles one captured frame on the capture goroutine.
func (p *anomalyPcap) packet(data []byte, ci *capture.CaptureInfo) {
	h, ok := p.dec.FlowKeyHash(data, ci.LinkType)
	h &= flowIDMask // the alert's flow_id
	if p.hasPend.Load() {
		p.drain()
	}
	if !ok {
		return
	}
	if len(p.follow) > 0 {
		if n, f := p.follow[h]; f {
			if n > 0 {
				p.write(data, ci.Timestamp, ci.Length, ci.LinkType)
				p.follow[h] = n - 1
			} else {
				p.dropped++
			}
			return // a followed flow's packets need not sit in the ring
		}
	}
	p.ring.push(data, ci, h)
}

// drain starts following the pending flows, writing what the ring holds.
func (p *anomalyPcap) drain() {
	p.mu.Lock()
	pend := p.pending
	p.pending = nil
	p.hasPend.Store(false)
	p.mu.Unlock()
	var fresh map[uint64]struct{}
	for _, h := range pend {
		if _, ok := p.follow[h]; ok {
			continue
		}
		if len(p.order) >= maxFollow {
			delete(p.follow, p.order[0])
			p.order = p.order[1:]
		}
		p.follow[h] = p.maxPerFlow
		p.order = append(p.order, h)
		if fresh == nil {
			fresh = make(map[uint64]struct{})
		}
		fresh[h] = struct{}{}
	}
	if fresh == nil {
		return
	}
	p.ring.each(func(e *ringEntry, data []byte) {
		if _, ok := fresh[e.hash]; !ok {
			return
		}
		if n := p.follow[e.hash]; n > 0 {
			p.write(data, e.ts, int(e.wire), e.lt)
			p.follow[e.hash] = n - 1
		} else {
			p.dropped++
		}
		e.hash = 0 // written once: a second alert must not write it again
	})
}

func (p *anomalyPcap) write(data []byte, ts int64, wire int, lt layers.LinkType) {
	if p.err != nil {
		return
	}
	if !p.header {
		p.linkType = lt
		if p.err = p.w.WriteFileHeader(262144, lt); p.err != nil {
			return
		}
		p.header = true
	}
	if lt != p.linkType {
		p.dropped++
		return
	}
	ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, ts), CaptureLength: len(data), Length: max(wire, len(data))}
	if p.err = p.w.WritePacket(ci, data); p.err == nil {
		p.written++
	}
}

// close writes what is pending and flushes. A pcap with no packet still
// gets a header (Ethernet), so Wireshark opens it.
func (p *anomalyPcap) close() error {
	p.drain()
	if !p.header && p.err == nil {
		p.err = p.w.WriteFileHeader(262144, layers.LinkTypeEthernet)
		p.header = true
	}
	if err := p.bw.Flush(); p.err == nil {
		p.err = err
	}
	return p.err
}

// pktRing keeps copies of the most recent packets in a fixed byte arena.
// Packets are stored contiguously; a packet that does not fit at the end
// of the arena goes to its start, and the oldest packets it overlaps are
// evicted. It never allocates after construction.
type pktRing struct {
	arena []byte
	ents  []ringEntry // circular, oldest at head
	head  int
	n     int
	w     int // next write offset
}

type ringEntry struct {
	ts   int64
	hash uint64
	off  int32
	n    int32
	wire int32
	lt   layers.LinkType
}

func newPktRing(bytes int) pktRing {
	return pktRing{arena: make([]byte, bytes), ents: make([]ringEntry, max(bytes/64, 16))}
}

func (r *pktRing) push(data []byte, ci *capture.CaptureInfo, h uint64) {
	l := len(data)
	if l > len(r.arena) || l == 0 {
		return
	}
	if r.w+l > len(r.arena) {
		// Wrap: entries at or after the old write offset are the oldest;
		// they go first, then whatever the new packet overlaps.
		old := r.w
		for r.n > 0 && int(r.ents[r.head].off) >= old {
			r.pop()
		}
		r.w = 0
	}
	for r.n > 0 {
		e := &r.ents[r.head]
		if int(e.off) < r.w+l && int(e.off+e.n) > r.w {
			r.pop()
			continue
		}
		break
	}
	if r.n == len(r.ents) {
		r.pop()
	}
	copy(r.arena[r.w:], data)
	i := (r.head + r.n) % len(r.ents)
	r.ents[i] = ringEntry{ts: ci.Timestamp, hash: h, off: int32(r.w), n: int32(l), wire: int32(ci.Length), lt: ci.LinkType}
	r.n++
	r.w += l
}

func (r *pktRing) pop() {
	r.head = (r.head + 1) % len(r.ents)
	r.n--
}

// each calls fn for every entry, oldest first.
func (r *pktRing) each(fn func(e *ringEntry, data []byte)) {
	for k := 0; k < r.n; k++ {
		e := &r.ents[(r.head+k)%len(r.ents)]
		fn(e, r.arena[e.off:e.off+e.n])
	}
}
