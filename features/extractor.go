package features

import (
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/vigil-nids/vigil/capture"
)

// Config configures an Extractor. Zero fields take the defaults shown.
type Config struct {
	IdleTimeout   time.Duration // default 60s: a flow with no packet for this long is emitted (EndIdle)
	ActiveTimeout time.Duration // default 300s, at most 1h: a longer flow is emitted (EndActive) and continues as a new record (Seq+1)
	TCPCloseGrace time.Duration // default 1s: after FIN from both sides or a RST, the flow waits this long (since its last packet) for the last ACK
	MaxFlows      int           // default 1_000_000: when full, the oldest idle flow is expired early (EndEvicted) and counted
	// SnapshotInterval, when positive, emits every interval of capture
	// time an interim Record (Final=false) of each flow that saw packets
	// since its last emission. It costs one pass over the table per
	// interval.
	SnapshotInterval time.Duration
	// ActivityTimeout splits a flow into active and idle periods for the
	// active_*/idle_* features: a gap longer than this is idle. Default 5s
	// (CICFlowMeter's value).
	ActivityTimeout time.Duration
	// CommunityID computes Record.CommunityID (Community ID v1, seed 0).
	// It costs one string allocation per emitted record.
	CommunityID bool
	// Usernames keeps the first user name a flow logs in with (FTP and
	// POP3 USER, IMAP LOGIN, HTTP Basic; at most 64 bytes) in
	// Record.User. Off by default: without it no user name is read into
	// memory. Passwords are never kept.
	Usernames bool
	// MaxHosts and MaxServices bound the host-context tables (per host;
	// per source, destination, port and protocol). Default 65,536 each:
	// when full, the least recently updated entry is evicted.
	MaxHosts, MaxServices int
	// MaxResponders bounds the victim-side table (per responder host, about
	// 2 KiB each). Default 16,384: when full, the least recently updated
	// responder is evicted.
	MaxResponders int
}

// maxActiveTimeout bounds ActiveTimeout so that the microsecond offsets of
// the per-flow state (uint32) never saturate within one record.
const maxActiveTimeout = time.Hour

func (c Config) withDefaults() Config {
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 60 * time.Second
	}
	if c.ActiveTimeout <= 0 {
		c.ActiveTimeout = 300 * time.Second
	}
	if c.ActiveTimeout > maxActiveTimeout {
		c.ActiveTimeout = maxActiveTimeout
	}
	if c.TCPCloseGrace <= 0 {
		c.TCPCloseGrace = time.Second
	}
	if c.MaxFlows <= 0 {
		c.MaxFlows = 1_000_000
	}
	if c.MaxHosts <= 0 {
		c.MaxHosts = 1 << 16
	}
	if c.MaxServices <= 0 {
		c.MaxServices = 1 << 16
	}
	if c.MaxResponders <= 0 {
		c.MaxResponders = 1 << 14
	}
	if c.ActivityTimeout <= 0 {
		c.ActivityTimeout = 5 * time.Second
	}
	return c
}

// Counter is a packet and byte count.
type Counter struct {
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

func (c *Counter) add(n int) {
	c.Packets++
	c.Bytes += uint64(n)
}

// Stats are an Extractor's run statistics. Byte counts are wire lengths
// (CaptureInfo.Length).
type Stats struct {
	Packets   uint64 `json:"packets"`
	Bytes     uint64 `json:"bytes"`
	Malformed uint64 `json:"malformed"` // frames skipped as malformed (sum of MalformedBy but ErrDNS, which does not skip)
	// MalformedBy counts decode errors per kind, indexed by DecodeError.
	MalformedBy [numDecodeErrors]uint64 `json:"-"`
	Fragments   uint64                  `json:"fragments"` // non-first IP fragments (no transport header; not in flows)

	// Per protocol. A frame counts once in its link protocol (ARP, IPv4,
	// IPv6, NonIP) and, for IP, once in its transport (TCP, UDP, ICMP,
	// ICMPv6, OtherIP).
	ARP     Counter `json:"arp"`
	IPv4    Counter `json:"ipv4"`
	IPv6    Counter `json:"ipv6"`
	NonIP   Counter `json:"non_ip"` // neither IP nor ARP (LLDP, STP, ...)
	TCP     Counter `json:"tcp"`
	UDP     Counter `json:"udp"`
	ICMP    Counter `json:"icmp"`
	ICMPv6  Counter `json:"icmpv6"`
	OtherIP Counter `json:"other_ip"`

	FlowsCreated uint64  `json:"flows_created"` // flow records started (including active-timeout continuations)
	FlowsEmitted uint64  `json:"flows_emitted"` // final records emitted
	Snapshots    uint64  `json:"snapshots"`     // interim records emitted
	Evicted      uint64  `json:"evicted"`       // flows expired early because the table was full
	ActiveFlows  int     `json:"active_flows"`
	TableFill    float64 `json:"table_fill"` // ActiveFlows / MaxFlows

	// Apps counts final flow records per application protocol (see
	// AppProto), indexed by AppProto. Each record is classified on its
	// own evidence; a flow split by the active timeout counts once in
	// Flows (its first record), every record's packets and bytes count.
	Apps [NumAppProtos]AppCount `json:"-"`
}

// MalformedByKind returns the non-zero decode error counts by name (e.g.
// "malformed tcp"), for run summaries.
func (s *Stats) MalformedByKind() map[string]uint64 {
	m := map[string]uint64{}
	for k, n := range s.MalformedBy {
		if n > 0 {
			m[decodeErrorNames[k]] = n
		}
	}
	return m
}

// Extractor turns frames into flow records. It is not safe for concurrent
// use. Its clock is the capture timestamps: it never reads the wall clock.
type Extractor struct {
	cfg                 Config
	idle, active, grace int64
	activity, snapEvery int64
	emit                func(*Record)
	dec                 *decoder
	pkt                 packet
	idx                 index
	flows               flowStore
	live                int
	lru, closing        list
	now, nextSnap       int64
	started             bool
	rec                 Record
	schema              *Schema
	groups              []group // feature groups in vector order
	apps                appStore
	stats               Stats
	ctx                 hostCtx // host and service context (context.go)
}

// list is a doubly linked list of flow slots threaded through flow.prev
// and flow.next, oldest first.
type list struct{ head, tail uint32 }

// NewExtractor returns an Extractor that calls emit for every record. The
// Record passed to emit, and its Vector, are reused: they are valid only
// during the call.
func NewExtractor(cfg Config, emit func(*Record)) *Extractor {
	cfg = cfg.withDefaults()
	e := &Extractor{
		cfg:       cfg,
		idle:      int64(cfg.IdleTimeout),
		active:    int64(cfg.ActiveTimeout),
		grace:     int64(cfg.TCPCloseGrace),
		activity:  int64(cfg.ActivityTimeout),
		snapEvery: int64(cfg.SnapshotInterval),
		emit:      emit,
		dec:       newDecoder(),
		lru:       list{nilSlot, nilSlot},
		closing:   list{nilSlot, nilSlot},
		schema:    FlowSchema(),
		groups:    flowGroups,
	}
	e.rec.Vector = make([]float64, 0, e.schema.Len())
	e.rec.Related = make([]FlowID, 0, svcRing)
	e.apps.users = cfg.Usernames
	e.idx.init(rand.Uint64())
	e.ctx.init(cfg.MaxHosts, cfg.MaxServices, cfg.MaxResponders, e.idx.seed)
	return e
}

// FlowSchema-compatible accessors.

// Schema returns the schema of the emitted vectors.
func (e *Extractor) Schema() *Schema { return e.schema }

// Config returns the configuration in effect (defaults filled in).
func (e *Extractor) Config() Config { return e.cfg }

// ActiveFlows returns the number of flows in the table.
func (e *Extractor) ActiveFlows() int { return e.live }

// Stats returns the run statistics so far.
func (e *Extractor) Stats() Stats {
	s := e.stats
	s.ActiveFlows = e.live
	s.TableFill = float64(e.live) / float64(e.cfg.MaxFlows)
	return s
}

// Process decodes one frame and updates its flow. data is not retained.
// Malformed frames are counted in Stats and skipped. Process allocates
// nothing per packet once its tables have grown to the working set (except
// CommunityID strings of emitted records).
func (e *Extractor) Process(data []byte, ci capture.CaptureInfo) {
	st := &e.stats
	st.Packets++
	st.Bytes += uint64(ci.Length)
	ts := ci.Timestamp
	if !e.started {
		e.started = true
		e.now = ts
		if e.snapEvery > 0 {
			e.nextSnap = ts + e.snapEvery
		}
	} else if ts > e.now {
		e.now = ts
		e.expire()
	}
	p := &e.pkt
	p.ts = ts
	derr := e.dec.decode(data, ci.LinkType, p)
	if derr != ErrNone {
		st.MalformedBy[derr]++
		if derr != ErrDNS {
			st.Malformed++
			return
		}
	}
	switch p.kind {
	case kindARP:
		st.ARP.add(ci.Length)
		return
	case kindOther:
		st.NonIP.add(ci.Length)
		return
	}
	if p.v6 {
		st.IPv6.add(ci.Length)
	} else {
		st.IPv4.add(ci.Length)
	}
	switch {
	case p.proto == 6:
		st.TCP.add(ci.Length)
	case p.proto == 17:
		st.UDP.add(ci.Length)
	case p.proto == 1 && !p.v6:
		st.ICMP.add(ci.Length)
	case p.proto == 58 && p.v6:
		st.ICMPv6.add(ci.Length)
	default:
		st.OtherIP.add(ci.Length)
	}
	if p.kind == kindFragment {
		st.Fragments++
		return
	}
	e.update(p, ts)
	e.dec.payload = nil // do not keep the frame
}

func (e *Extractor) update(p *packet, ts int64) {
	key, srcIsA := makeKey(p)
	h := key.hash(e.idx.seed)
	s := e.idx.find(&key, h, &e.flows)
	var f *flow
	if s >= 0 {
		f = e.flows.at(s)
		if ts < f.last {
			ts = f.last // out of order: never go back in a flow's time
		}
		switch {
		case f.state&stClosing != 0 && p.proto == 6 && p.tcpFlags&(flagSYN|flagACK) == flagSYN,
			ts-f.last > e.idle:
			// A new connection on a closed 4-tuple, or an idle flow the
			// sweep has not reached yet: finish the old one first.
			e.finish(s, f.reason())
			s = -1
		case ts-f.start >= e.active:
			e.emitFlow(f, EndActive, true)
			if f.state&stClosing != 0 { // the continuation starts open
				e.closing.unlink(&e.flows, uint32(s))
				e.lru.push(&e.flows, uint32(s))
			}
			f.seq++
			e.apps.release(f) // the continuation parses its own payload
			f.reset(ts)
			e.stats.FlowsCreated++ // the continuation keeps the original direction
		}
	}
	if s < 0 {
		if e.live >= e.cfg.MaxFlows {
			e.evict()
		}
		s = e.flows.alloc()
		f = e.flows.at(s)
		f.key = key
		f.reset(ts)
		f.state = stInUse
		if srcIsA {
			f.state |= stSrcIsA
		}
		e.idx.insert(h, s)
		e.lru.push(&e.flows, uint32(s))
		e.live++
		e.stats.FlowsCreated++
	} else if f.state&stClosing != 0 {
		e.closing.unlink(&e.flows, uint32(s))
		e.closing.push(&e.flows, uint32(s))
	} else {
		e.lru.unlink(&e.flows, uint32(s))
		e.lru.push(&e.flows, uint32(s))
	}
	fwd := srcIsA == (f.state&stSrcIsA != 0)
	fresh := f.fwdPkts+f.bwdPkts == 0
	was, syn := answeredFlow(f), f.state&stSynAck != 0
	f.add(p, ts, fwd, e.activity)
	if pl := e.dec.payload; len(pl) > 0 {
		e.apps.ensure(f).addApp(p, pl, fwd, f.fwdPkts+f.bwdPkts)
	}
	if fresh {
		e.ctx.flowStart(f, ts)
		e.ctx.respStart(f, p, ts)
	}
	e.ctx.respPacket(f, p, fwd, was, syn)
	e.ctx.packet(p, f, e.apps.of(f))
	if p.proto == 6 && f.state&stClosing == 0 && (f.state&stRST != 0 || f.state&(stFinFwd|stFinBwd) == stFinFwd|stFinBwd) {
		f.state |= stClosing
		e.lru.unlink(&e.flows, uint32(s))
		e.closing.push(&e.flows, uint32(s))
	}
}

// reason is the end reason of a flow finished before its timeout.
func (f *flow) reason() EndReason {
	switch {
	case f.state&stRST != 0:
		return EndRST
	case f.state&stClosing != 0:
		return EndFIN
	}
	return EndIdle
}

// expire finishes the flows whose timeouts have passed at e.now and takes
// due snapshots. Each call does O(1) work plus O(1) per flow finished.
func (e *Extractor) expire() {
	for e.closing.head != nilSlot {
		f := e.flows.at(int(e.closing.head))
		if e.now-f.last <= e.grace {
			break
		}
		e.finish(int(e.closing.head), f.reason())
	}
	for e.lru.head != nilSlot {
		f := e.flows.at(int(e.lru.head))
		if e.now-f.last <= e.idle {
			break
		}
		e.finish(int(e.lru.head), EndIdle)
	}
	if e.snapEvery > 0 && e.now >= e.nextSnap {
		e.snapshot()
		e.nextSnap += ((e.now-e.nextSnap)/e.snapEvery + 1) * e.snapEvery
	}
}

// evict expires the oldest flow early to make room: a closing flow if
// there is one (it is nearly done), else the least recently seen.
func (e *Extractor) evict() {
	s := e.closing.head
	if s == nilSlot {
		s = e.lru.head
	}
	if s == nilSlot {
		return
	}
	e.stats.Evicted++
	e.finish(int(s), EndEvicted)
}

func (e *Extractor) snapshot() {
	for i := 0; i < e.flows.n; i++ {
		f := e.flows.at(i)
		if f.state&(stInUse|stDirty) == stInUse|stDirty {
			e.emitFlow(f, EndNone, false)
			f.state &^= stDirty
			e.stats.Snapshots++
		}
	}
}

// finish emits flow s as final and removes it from the table.
func (e *Extractor) finish(s int, r EndReason) {
	f := e.flows.at(s)
	e.emitFlow(f, r, true)
	if f.state&stClosing != 0 {
		e.closing.unlink(&e.flows, uint32(s))
	} else {
		e.lru.unlink(&e.flows, uint32(s))
	}
	e.idx.remove(f.key.hash(e.idx.seed), s)
	e.apps.release(f)
	e.flows.release(s)
	e.live--
}

// Flush emits every open flow (EndFlush), oldest first, and empties the
// table. Call it at the end of input.
func (e *Extractor) Flush() {
	for e.closing.head != nilSlot {
		f := e.flows.at(int(e.closing.head))
		r := EndFlush
		if e.now-f.last > e.grace {
			r = f.reason()
		}
		e.finish(int(e.closing.head), r)
	}
	for e.lru.head != nilSlot {
		e.finish(int(e.lru.head), EndFlush)
	}
}

func (e *Extractor) emitFlow(f *flow, r EndReason, final bool) {
	if final {
		e.stats.FlowsEmitted++
	}
	rec := &e.rec
	rec.Final, rec.Reason, rec.Seq = final, r, f.seq
	fillID(&rec.FlowID, f)
	rec.FwdPackets, rec.BwdPackets = uint64(f.fwdPkts), uint64(f.bwdPkts)
	rec.FwdBytes, rec.BwdBytes = f.fwdBytes, f.bwdBytes
	v := rec.Vector[:0]
	a := e.apps.of(f)
	for i := range e.groups {
		v = e.groups[i].append(v, f, a)
	}
	if final {
		e.ctx.flowEnd(f)
		c := &e.stats.Apps[classifyApp(&rec.FlowID, a)]
		if f.seq == 0 {
			c.Flows++
		}
		c.Packets += rec.FwdPackets + rec.BwdPackets
		c.Bytes += rec.FwdBytes + rec.BwdBytes
	}
	v = e.ctx.appendContext(v, f, a)
	v = e.ctx.appendVictim(v, f)
	rec.Vector = v
	rec.JA4 = [JA4Len]byte{}
	rec.User = nil
	if a != nil {
		if a.ja4ok {
			rec.JA4 = a.ja4
		}
		if a.userLen > 0 {
			rec.User = a.user[:a.userLen]
		}
	}
	rec.Related = rec.Related[:0]
	for _, c := range e.ctx.related[:e.ctx.nrel] {
		id := rec.FlowID
		id.Start, id.End, id.Sport = c.start, 0, c.sport
		rec.Related = append(rec.Related, id)
	}
	rec.CommunityID = ""
	if e.cfg.CommunityID {
		rec.CommunityID = CommunityID(&rec.FlowID)
	}
	if e.emit != nil {
		e.emit(rec)
	}
}

func fillID(id *FlowID, f *flow) {
	k := &f.key
	a, b := addr(&k.a, k.v6), addr(&k.b, k.v6)
	pa, pb := k.pa, k.pb
	icmp := k.proto == 1 && !k.v6 || k.proto == 58 && k.v6
	if f.state&stSrcIsA == 0 {
		a, b = b, a
		if !icmp {
			pa, pb = pb, pa
		}
	}
	if icmp {
		pa = f.icmpTC
		if k.pa != icmpEchoMark {
			pb = 0
		}
	}
	*id = FlowID{Start: f.start, End: f.last, Src: a, Dst: b, Sport: pa, Dport: pb, Proto: k.proto, VLAN: k.vlan}
}

func addr(b *[16]byte, v6 bool) netip.Addr {
	if v6 {
		return netip.AddrFrom16(*b)
	}
	return netip.AddrFrom4([4]byte(b[:4]))
}

func (l *list) push(fs *flowStore, s uint32) {
	f := fs.at(int(s))
	f.prev, f.next = l.tail, nilSlot
	if l.tail != nilSlot {
		fs.at(int(l.tail)).next = s
	} else {
		l.head = s
	}
	l.tail = s
}

func (l *list) unlink(fs *flowStore, s uint32) {
	f := fs.at(int(s))
	if f.prev != nilSlot {
		fs.at(int(f.prev)).next = f.next
	} else {
		l.head = f.next
	}
	if f.next != nilSlot {
		fs.at(int(f.next)).prev = f.prev
	} else {
		l.tail = f.prev
	}
	f.prev, f.next = nilSlot, nilSlot
}
