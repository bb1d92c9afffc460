package features

import (
	"math"
	"math/bits"
)

// The victim's view: per responder host, counts over windows of capture
// time of the flows it receives, by the kind of their first packet, so
// that a flood of single-packet flows from spoofed sources, a reflection
// attack or an ICMP flood shows as what it is (tens of thousands of
// initiators, nothing answered, responses nobody asked for) even though
// each of its flows looks like the Internet's background noise.
//
// A window describes the host, not the flow: a benign client's connection
// to a host under attack would inherit the attack's counts. So the
// features are attached only to flows that themselves look like a flood's
// (a TCP attempt whose handshake never completed, a UDP flow without
// reply, a single ICMP echo exchange, an unsolicited response), and they
// count only the responder's flows of the same kind (dst_like_*): a DNS
// query answered during a DNS reflection, or an established connection
// during a SYN flood, reads 0. Training and detection see the same rule.
//
// Responders keep a ring of ctxBuckets buckets of ctxBucket (as the
// initiator context does), each with flow counts per kind and two 32-
// register HyperLogLog sketches per kind (initiators, initiator prefixes):
// a flood of a million spoofed sources costs the same 16 bytes per sketch
// as one of a thousand. The table is bounded (Config.MaxResponders) and
// evicts the least recently updated responder.

// Kinds of a flow by its first packet, as the responder sees it.
const (
	vkTCPSyn = iota // a pure SYN: a connection attempt
	vkUDP           // a UDP datagram that is not an unsolicited response
	vkICMP          // an ICMP echo request or other ICMP that is not a reply or error
	vkUnsol         // an unsolicited response: TCP SYN-ACK or RST first, UDP from a reflection-prone service port, ICMP echo reply or error
	vkOther         // TCP picked up mid-stream, other protocols: counted in dst_conns only
	numVK
	numVKSketch = vkOther // kinds with sketches
)

// hll32 is a HyperLogLog sketch of 32 four-bit registers (relative error
// about 18 %, ranks up to 15: good to millions). Hashes come from mix64
// with a fixed salt per use, so estimates are the same on every run.
type hll32 [16]byte

func (s *hll32) add(h uint64) {
	i := h & 31
	r := uint8(min(bits.TrailingZeros64(h>>5|1<<59)+1, 15)) // rank of the other 59 bits
	b := &s[i/2]
	if i&1 == 0 {
		if r > *b&15 {
			*b = *b&0xf0 | r
		}
	} else if r > *b>>4 {
		*b = *b&15 | r<<4
	}
}

func (s *hll32) merge(o *hll32) {
	for i := range s {
		lo := max(s[i]&15, o[i]&15)
		hi := max(s[i]>>4, o[i]>>4)
		s[i] = hi<<4 | lo
	}
}

// estimate returns the sketch's cardinality estimate (linear counting
// below 2.5 m, as HyperLogLog's small-range correction).
func (s *hll32) estimate() float64 {
	sum, zeros := 0.0, 0
	for _, b := range s {
		for _, r := range [2]uint8{b & 15, b >> 4} {
			sum += pow2neg[r]
			if r == 0 {
				zeros++
			}
		}
	}
	const m = 32
	e := 0.697 * m * m / sum
	if e <= 2.5*m && zeros > 0 {
		return lcTable32[zeros]
	}
	return e
}

var pow2neg = func() (t [16]float64) {
	for i := range t {
		t[i] = math.Ldexp(1, -i)
	}
	return
}()

// lcTable32[z] is linear counting's estimate with z of 32 registers empty.
var lcTable32 = func() (t [33]float64) {
	for z := 1; z <= 32; z++ {
		t[z] = 32 * math.Log(32/float64(z))
	}
	return
}()

type respBucket struct {
	epoch    int64
	conns    uint32              // flows started towards the responder
	kind     [numVK]uint32       // of them, by kind
	answered [numVK]uint32       // of them, those the responder answered (TCP: handshake completed; UDP, ICMP: any reply)
	synAck   uint32              // TCP attempts the responder answered with SYN-ACK
	pkts     [numVKSketch]uint32 // packets the responder received in flows of the kind not answered yet
	bytes    [numVKSketch]uint64 // their IP-layer bytes
	inits    [numVKSketch]hll32
	prefixes [numVKSketch]hll32 // initiators' /24 (IPv4) or /48 (IPv6)
	// The majority service of the flows of each kind (Misra-Gries with one
	// counter: the port, and a count that underestimates its flows).
	majPort [numVKSketch]uint16
	majN    [numVKSketch]uint32
}

// servicePort is the port that names f's service for the victim's view:
// the responder's port, but an unsolicited response's source port (the
// reflector's service: DNS 53, NTP 123, ...), and 0 for ICMP.
func servicePort(f *flow, k int) uint16 {
	if f.key.proto != 6 && f.key.proto != 17 {
		return 0
	}
	k0 := &f.key
	dport, sport := k0.pb, k0.pa
	if f.state&stSrcIsA == 0 {
		dport, sport = k0.pa, k0.pb
	}
	if k == vkUnsol {
		return sport
	}
	return dport
}

// svcShare is the share of the bucket's flows of kind k that the flow at
// port stands with: when one service has the majority of them (Misra-Gries
// count at least half), the majority's share for a flow at that service and
// 0 for one elsewhere (a probe of another port of a host flooded at one
// service); when no service has a majority (a flood over random ports, or
// nothing to speak of), 1.
func (b *respBucket) svcShare(k int, port uint16) float64 {
	n := b.kind[k]
	if n == 0 || 2*b.majN[k] < n {
		return 1
	}
	if b.majPort[k] != port {
		return 0
	}
	return math.Min(1, float64(b.majN[k])/float64(n))
}

type respState struct{ b [ctxBuckets]respBucket }

func (r *respState) bucket(t int64) *respBucket {
	e := floorDiv(t, ctxBucket)
	b := &r.b[int(uint64(e)%ctxBuckets)]
	switch {
	case b.epoch == e:
	case b.epoch < e:
		*b = respBucket{epoch: e}
	default:
		return nil
	}
	return b
}

// at returns the bucket holding t if it is still in the ring, else nil.
func (r *respState) at(t int64) *respBucket {
	e := floorDiv(t, ctxBucket)
	if b := &r.b[int(uint64(e)%ctxBuckets)]; b.epoch == e {
		return b
	}
	return nil
}

// reflectionPorts are UDP services that answer a short request with a
// response, the ports reflection and amplification attacks send from.
var reflectionPorts = [...]uint16{
	17, 19, 53, 69, 111, 123, 137, 161, 389, 427, 520, 1434, 1900, 3283,
	3478, 3702, 5060, 5351, 5353, 5683, 10001, 11211, 27015, 32414, 33848, 37810,
}

func isReflectionPort(p uint16) bool {
	for _, r := range reflectionPorts {
		if r == p {
			return true
		}
	}
	return false
}

// firstKind classifies a flow by its first packet p (sent by the flow's
// initiator).
func firstKind(p *packet) int {
	switch {
	case p.proto == 6:
		switch fl := p.tcpFlags; {
		case fl&(flagSYN|flagACK) == flagSYN:
			return vkTCPSyn
		case fl&(flagSYN|flagACK) == flagSYN|flagACK, fl&flagRST != 0:
			return vkUnsol
		}
		return vkOther
	case p.proto == 17:
		if isReflectionPort(p.sport) && p.dport != p.sport {
			return vkUnsol
		}
		return vkUDP
	case p.proto == 1 && !p.v6:
		switch p.icmpType {
		case 0, 3, 4, 5, 11, 12: // echo reply, errors
			return vkUnsol
		}
		return vkICMP
	case p.proto == 58 && p.v6:
		switch p.icmpType {
		case 129, 1, 2, 3, 4:
			return vkUnsol
		}
		return vkICMP
	}
	return vkOther
}

// kindOf returns the kind of f's first packet (firstKind), from the
// flow's state.
func kindOf(f *flow) int {
	switch {
	case f.state&stUnsol != 0:
		return vkUnsol
	case f.key.proto == 6:
		if f.state&stTCPSyn != 0 {
			return vkTCPSyn
		}
	case f.key.proto == 17:
		return vkUDP
	case f.key.proto == 1 && !f.key.v6, f.key.proto == 58 && f.key.v6:
		return vkICMP
	}
	return vkOther
}

// unsolicited reports whether f is an unsolicited response: its first
// packet was one (a TCP SYN-ACK or RST without a SYN, a UDP datagram from
// a reflection-prone service port, an ICMP echo reply or error) and, for
// UDP and ICMP, nothing answered it. (A host that receives a SYN-ACK it
// never asked for answers with RST, so TCP needs no such condition.)
func unsolicited(f *flow) bool {
	if f.state&stUnsol == 0 {
		return false
	}
	return f.key.proto == 6 || f.bwdPkts == 0
}

// likeKind returns the kind under which f's victim-side features are read,
// or -1 when f does not look like a flood's flow and gets none.
func likeKind(f *flow) int {
	if unsolicited(f) {
		return vkUnsol
	}
	switch f.key.proto {
	case 6:
		if f.state&stTCPSyn != 0 && f.state&stEstablished == 0 {
			return vkTCPSyn
		}
	case 17:
		if f.state&stUnsol == 0 && f.bwdPkts == 0 {
			return vkUDP
		}
	case 1, 58:
		if f.state&stUnsol == 0 && f.fwdPkts <= 1 && f.bwdPkts <= 1 {
			return vkICMP
		}
	}
	return -1
}

// answered reports whether the responder has answered f: the handshake
// completed (TCP), or any reply (UDP, ICMP).
func answeredFlow(f *flow) bool {
	if f.key.proto == 6 {
		return f.state&stEstablished != 0
	}
	return f.bwdPkts > 0
}

func (c *hostCtx) respEntry(f *flow, touch bool) *respState {
	_, dst, _ := ends(f)
	k := hostKey{*dst, f.key.v6}
	if int(f.ctxDst) < c.resps.n {
		if e := c.resps.at(f.ctxDst); e.key == k {
			if touch {
				c.resps.touch(f.ctxDst)
			}
			return &e.v
		}
	}
	h := mix64(addrHash(dst) ^ c.seed ^ 0x9e3779b97f4a7c15)
	if touch {
		e, s, _ := c.resps.get(&k, h)
		f.ctxDst = s
		return &e.v
	}
	if s := c.resps.slot(&k, h); s != nilSlot {
		f.ctxDst = s
		return &c.resps.at(s).v
	}
	return nil
}

// Salts of the sketches' hashes.
const (
	saltInit   = 0x243f6a8885a308d3
	saltPrefix = 0x13198a2e03707344
)

// respStart accounts a new flow record, first packet p, at its responder.
func (c *hostCtx) respStart(f *flow, p *packet, ts int64) {
	k := firstKind(p)
	if k == vkUnsol {
		f.state |= stUnsol
	}
	b := c.respEntry(f, true).bucket(ts)
	if b == nil {
		return
	}
	b.conns++
	b.kind[k]++
	if k < numVKSketch {
		src, _, _ := ends(f)
		b.inits[k].add(mix64(addrHash(src) ^ saltInit))
		pfx := *src
		if f.key.v6 {
			clear(pfx[6:])
		} else {
			clear(pfx[3:])
		}
		b.prefixes[k].add(mix64(addrHash(&pfx) ^ saltPrefix))
		switch port := servicePort(f, k); {
		case b.majN[k] == 0:
			b.majPort[k], b.majN[k] = port, 1
		case b.majPort[k] == port:
			b.majN[k]++
		default:
			b.majN[k]--
		}
	}
}

// respPacket accounts packet p of flow f at f's responder: p's bytes when
// it goes there (fwd) before the responder has answered, and the moments
// the responder answers. was is answeredFlow(f) and syn f's SYN-ACK state
// before p.
func (c *hostCtx) respPacket(f *flow, p *packet, fwd, was, syn bool) {
	ans := !was && answeredFlow(f)
	synAck := !syn && f.state&stSynAck != 0 && f.state&stTCPSyn != 0
	k := kindOf(f)
	in := fwd && !was && k < numVKSketch
	if !in && !ans && !synAck {
		return
	}
	r := c.respEntry(f, fwd)
	if r == nil {
		return
	}
	b := r.bucket(p.ts)
	if b == nil {
		return
	}
	if in {
		b.pkts[k]++
		b.bytes[k] += uint64(p.ipLen)
	}
	if ans {
		b.answered[k]++
	}
	if synAck {
		b.synAck++
	}
}

var victimFeatures = []Feature{
	ft("unsolicited_response", "flag", "1 when the flow is a response nobody asked for: its first packet was a TCP SYN-ACK or RST without a SYN, a UDP datagram from a reflection-prone service port (DNS, NTP, SNMP, SSDP, memcached, CLDAP, chargen, ...) to another port that was never answered, or an ICMP echo reply or error", false),
	ft("dst_like_initiators_10s", "hosts", "distinct initiators of the responder's flows of this flow's kind (TCP attempt, UDP, ICMP, unsolicited response) in the 10 s bucket of the flow's last packet (HyperLogLog estimate); 0 unless the flow itself looks like a flood's (a TCP attempt never completed, a UDP flow without reply, a single ICMP echo exchange, an unsolicited response)", true),
	ft("dst_svc_initiators_10s", "hosts", "dst_like_initiators_10s times the share of those flows at this flow's service (its port; an unsolicited response's source port; all ICMP alike) when one service has the majority of them (0 for a flow at another service), else times 1: the fan-in of the flood this flow would be part of. Not log-scaled: a flood is a matter of magnitude", false),
	ft("dst_like_initiators_60s", "hosts", "as dst_like_initiators_10s over the 60 s up to the flow's last packet", true),
	ft("dst_like_prefixes_10s", "prefixes", "distinct /24 (IPv6: /48) prefixes of those initiators in 10 s (estimate)", true),
	ft("dst_like_conns_10s", "flows", "the responder's flows of this flow's kind started in 10 s, times the share of them at this flow's service (as for dst_svc_initiators_10s)", true),
	ft("dst_like_unanswered_10s", "flows", "as dst_like_conns_10s, for the flows the responder has not answered (TCP: handshake not completed; UDP, ICMP: no reply)", true),
	ft("dst_like_unanswered_share_10s", "ratio", "share of the responder's flows of this kind in 10 s that it has not answered", false),
	ft("dst_syn_only_share_10s", "ratio", "on TCP attempts: the share of the responder's TCP attempts in 10 s it did not answer with SYN-ACK; else 0", false),
	ft("dst_unsolicited_10s", "flows", "on unsolicited responses: the unsolicited responses the responder received in 10 s (flows whose first packet was one); else 0", true),
	ft("dst_unsolicited_share_10s", "ratio", "on unsolicited responses: dst_unsolicited_10s / all flows towards the responder started in 10 s; else 0", false),
	ft("dst_like_pkts_in_s_10s", "packets/s", "packets per second the responder received in flows of this flow's kind before answering them, over 10 s, times the share of those flows at this flow's service", true),
	ft("dst_like_bytes_in_s_10s", "bytes/s", "IP-layer bytes per second of those packets", true),
}

// appendVictim appends victimFeatures for flow f. Every dst_ feature is 0
// unless the flow itself looks like a flood's (likeKind).
func (c *hostCtx) appendVictim(dst []float64, f *flow) []float64 {
	unsol := b2f(unsolicited(f))
	k := likeKind(f)
	var b *respBucket
	var r *respState
	if k >= 0 {
		if r = c.respEntry(f, false); r != nil {
			b = r.at(f.last)
		}
	}
	// Every count leaves the flow itself out (when it started in this
	// bucket, as flood flows do): a lone flow of a kind reads 0, as it does
	// on a quiet baseline, and only other flows make a crowd.
	self := 0.0
	if b != nil && floorDiv(f.start, ctxBucket) == b.epoch {
		self = 1
	}
	if b == nil || float64(b.kind[k]) <= self {
		return append(dst, unsol, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	}
	var s60 hll32
	e := floorDiv(f.last, ctxBucket)
	for i := int64(0); i < ctxWin; i++ {
		if bb := &r.b[int(uint64(e-i)%ctxBuckets)]; bb.epoch == e-i {
			s60.merge(&bb.inits[k])
		}
	}
	ans := answeredFlow(f)
	like := float64(b.kind[k]) - self
	unans := math.Max(0, float64(b.kind[k]-b.answered[k])-self*b2f(!ans))
	synOnly := 0.0
	if k == vkTCPSyn {
		synOnly = math.Min(1, math.Max(0, float64(b.kind[k])-float64(b.synAck)-self*b2f(f.state&stSynAck == 0))/like)
	}
	unsolN, unsolShare := 0.0, 0.0
	if k == vkUnsol {
		// Attached to unsolicited responses only: a host that received a
		// few stray ones would otherwise mark every flood-like flow it has.
		unsolN = like
		unsolShare = like / math.Max(1, float64(b.conns)-self)
	}
	// This flow's own packets before an answer (all of them if none came).
	ownPkts, ownBytes := 0.0, 0.0
	if self > 0 {
		ownPkts, ownBytes = float64(f.fwdPkts), float64(f.fwdBytes)
		if ans && f.fwdPkts > 0 {
			ownPkts, ownBytes = 1, float64(f.fwdBytes)/float64(f.fwdPkts)
		}
	}
	secs := float64(ctxBucket) / 1e9
	// The volume counts are scoped to the flow's service (svcShare): a
	// stray probe of another port of a host under a flood is not the flood.
	sh := b.svcShare(k, servicePort(f, k))
	inits := math.Max(0, b.inits[k].estimate()-self)
	return append(dst, unsol,
		inits, inits*sh, math.Max(0, s60.estimate()-self), math.Max(0, b.prefixes[k].estimate()-self),
		like*sh, unans*sh, unans/like, synOnly,
		unsolN, unsolShare,
		math.Max(0, float64(b.pkts[k])-ownPkts)/secs*sh, math.Max(0, float64(b.bytes[k])-ownBytes)/secs*sh)
}
