package features

import (
	"encoding/binary"
	"math"
	"math/bits"
	"time"
)

// Host and service context: per source host and per (source,
// destination, destination port, protocol) service, counts over sliding
// windows of capture time, read when a flow record is emitted. A flow
// caches the indexes of its source's and service's entries (checked by
// key, so an eviction is noticed), so emission costs no hash lookups.
//
// Hosts keep a ring of ctxBuckets buckets of ctxBucket each (120 s), so a
// window can end at the flow's last packet even when the record is
// emitted up to one idle timeout (60 s) later. Distinct counts are linear
// counting over small bitmaps (256 bits for ports, 128 for DNS
// names): exact for a handful, within a few percent up to ~100, saturating
// at m·ln m. Services keep their last svcRing connection start times and
// sizes (beaconing).
//
// Both tables are bounded (Config.MaxHosts, Config.MaxServices) and evict
// the least recently updated entry, so a flood of spoofed sources cannot
// grow them. Entries live in chunks of ctxChunk: memory grows one chunk
// at a time with the number of hosts, and steady-state updates allocate
// nothing.
const (
	ctxBucket  = int64(10 * time.Second)
	ctxBuckets = 12 // ring: 120 s
	ctxWin     = 6  // buckets in the 60 s window
	svcRing    = 16
	beaconWin  = int64(10 * time.Minute)
	beaconMin  = 4 // connections before beacon regularity is measured
	ctxChunk   = 256
)

type hostKey struct {
	a  [16]byte
	v6 bool
}

type svcKey struct {
	src, dst [16]byte
	dport    uint16
	proto    uint8
	v6       bool
}

type hostBucket struct {
	epoch                int64
	conns, unans, newSvc uint32
	ports                [4]uint64 // destination ports contacted (as source)
	dns                  [dnsLanes]dnsLane
}

// dnsLanes is how many registered domains a host bucket counts query names
// for separately. RITA's tunnel signal is the number of distinct names
// under one domain: counted per host alone, an insider's ordinary lookups
// would inherit its tunnel's count.
const dnsLanes = 2

// dnsLane counts the distinct query names (64-bit linear counting) a host
// asked under one registered domain in one bucket.
type dnsLane struct {
	domain uint64 // 0: unused
	names  uint64
}

// lane returns the lane for domain in b: its own, a free one, or else the
// one with fewer names, cleared (a third domain in 10 s displaces the
// quieter of the two; the busy tunnel domain keeps its lane).
func (b *hostBucket) lane(domain uint64) *dnsLane {
	var pick *dnsLane
	for i := range b.dns {
		l := &b.dns[i]
		if l.domain == domain {
			return l
		}
		if pick == nil || l.domain == 0 && pick.domain != 0 ||
			pick.domain != 0 && bits.OnesCount64(l.names) < bits.OnesCount64(pick.names) {
			pick = l
		}
	}
	*pick = dnsLane{domain: domain}
	return pick
}

type hostState struct{ b [ctxBuckets]hostBucket }

type svcState struct {
	starts [svcRing]int64
	sports [svcRing]uint16 // the initiator's port of each start (0 for ICMP)
	sizes  [svcRing]float32
	n, m   uint32 // starts and sizes recorded (ring heads are n%svcRing, m%svcRing)
}

// bucket returns the bucket for time t, reset when stale, or nil when it
// has already been reused for a later time.
func (h *hostState) bucket(t int64) *hostBucket {
	e := floorDiv(t, ctxBucket)
	b := &h.b[int(uint64(e)%ctxBuckets)]
	switch {
	case b.epoch == e:
	case b.epoch < e:
		*b = hostBucket{epoch: e}
	default:
		return nil
	}
	return b
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// window sums the ctxWin buckets ending with the one holding t.
type hostWindow struct {
	conns, unans, newSvc uint32
	ports                [4]uint64
}

func (h *hostState) window(t int64, w *hostWindow) {
	*w = hostWindow{}
	e := floorDiv(t, ctxBucket)
	for k := int64(0); k < ctxWin; k++ {
		b := &h.b[int(uint64(e-k)%ctxBuckets)]
		if b.epoch != e-k {
			continue
		}
		w.conns += b.conns
		w.unans += b.unans
		w.newSvc += b.newSvc
		for i := range b.ports {
			w.ports[i] |= b.ports[i]
		}
	}
}

// domainNames estimates the distinct query names the host asked under
// domain in the ctxWin buckets ending with the one holding t.
func (h *hostState) domainNames(t int64, domain uint64) float64 {
	var bm [1]uint64
	e := floorDiv(t, ctxBucket)
	for k := int64(0); k < ctxWin; k++ {
		b := &h.b[int(uint64(e-k)%ctxBuckets)]
		if b.epoch != e-k {
			continue
		}
		for i := range b.dns {
			if b.dns[i].domain == domain {
				bm[0] |= b.dns[i].names
			}
		}
	}
	return linearCount(bm[:])
}

func setBit(bm []uint64, h uint64) {
	i := h % uint64(64*len(bm))
	bm[i/64] |= 1 << (i % 64)
}

// linearCount estimates the number of distinct values set in bm (128 or
// 256 bits; other sizes are computed directly).
func linearCount(bm []uint64) float64 {
	ones := 0
	for _, w := range bm {
		ones += bits.OnesCount64(w)
	}
	switch len(bm) {
	case 2:
		return lcTable2[ones]
	case 4:
		return lcTable4[ones]
	}
	return linearCountOf(64*len(bm), ones)
}

func linearCountOf(bits, ones int) float64 {
	m := float64(bits)
	z := m - float64(ones)
	if z == 0 {
		return m * math.Log(m)
	}
	return m * math.Log(m/z)
}

// Linear-counting estimates by number of set bits, for the bitmap sizes
// in use (no logarithm per emitted record).
var lcTable2, lcTable4 = lcTable(128), lcTable(256)

func lcTable(m int) []float64 {
	t := make([]float64, m+1)
	for i := range t {
		t[i] = linearCountOf(m, i)
	}
	return t
}

func mix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	return x ^ x>>33
}

func addrHash(a *[16]byte) uint64 {
	return mix64(binary.LittleEndian.Uint64(a[:8]) ^ mix64(binary.LittleEndian.Uint64(a[8:])))
}

// ctab is a bounded hash table with LRU eviction: open addressing (linear
// probing, backward-shift deletion) over entries stored in chunks.
type ctab[K comparable, V any] struct {
	idx        index // hash high 32 bits << 32 | entry+1
	chunks     [][]centry[K, V]
	n, live    int
	max        int
	head, tail uint32
	evicted    uint64
	last       uint32 // entry of the last get: scans and floods repeat it
}

type centry[K comparable, V any] struct {
	key        K
	h          uint64
	prev, next uint32
	v          V
}

func (t *ctab[K, V]) init(max int) {
	t.max = max
	t.idx.alloc(256)
	t.head, t.tail = nilSlot, nilSlot
}

func (t *ctab[K, V]) at(i uint32) *centry[K, V] { return &t.chunks[i/ctxChunk][i%ctxChunk] }

// find returns the entry of k or nil.
func (t *ctab[K, V]) find(k *K, h uint64) *centry[K, V] {
	if s := t.slot(k, h); s != nilSlot {
		return t.at(s)
	}
	return nil
}

// slot returns the entry index of k or nilSlot.
func (t *ctab[K, V]) slot(k *K, h uint64) uint32 {
	tag := h >> 32
	x := &t.idx
	for i := tag & x.mask; ; i = (i + 1) & x.mask {
		e := x.slots[i]
		if e == 0 {
			return nilSlot
		}
		if e>>32 == tag {
			s := uint32(e) - 1
			if t.at(s).key == *k {
				return s
			}
		}
	}
}

// ref returns the entry at index s if it still holds k, else nil: a
// flow's cached index, checked without hashing (an evicted entry's index
// is reused at once, for another key).
func (t *ctab[K, V]) ref(s uint32, k *K) *centry[K, V] {
	if int(s) < t.n {
		if c := t.at(s); c.key == *k {
			return c
		}
	}
	return nil
}

// get returns the entry of k and its index, creating it (evicting the
// least recently used entry when full) if needed, and marks it most
// recently used.
func (t *ctab[K, V]) get(k *K, h uint64) (c *centry[K, V], s uint32, created bool) {
	if s = t.slot(k, h); s != nilSlot {
		t.touch(s)
		t.last = s
		return t.at(s), s, false
	}
	if t.live >= t.max && t.head != nilSlot {
		s = t.head
		old := t.at(s)
		t.unlink(s)
		t.idx.remove(old.h, int(s))
		t.live--
		t.evicted++
	} else {
		if t.n/ctxChunk == len(t.chunks) {
			t.chunks = append(t.chunks, make([]centry[K, V], ctxChunk))
		}
		s = uint32(t.n)
		t.n++
	}
	c = t.at(s)
	*c = centry[K, V]{key: *k, h: h}
	t.idx.insert(h, int(s))
	t.live++
	t.push(s)
	t.last = s
	return c, s, true
}

// recent returns the entry of the last get if it holds k (no hashing),
// marked most recently used, or nil.
func (t *ctab[K, V]) recent(k *K) (*centry[K, V], uint32) {
	if int(t.last) < t.n {
		if c := t.at(t.last); c.key == *k {
			t.touch(t.last)
			return c, t.last
		}
	}
	return nil, nilSlot
}

// touch marks entry s most recently used.
func (t *ctab[K, V]) touch(s uint32) {
	if t.tail == s {
		return
	}
	t.unlink(s)
	t.push(s)
}

func (t *ctab[K, V]) push(s uint32) {
	c := t.at(s)
	c.prev, c.next = t.tail, nilSlot
	if t.tail != nilSlot {
		t.at(t.tail).next = s
	} else {
		t.head = s
	}
	t.tail = s
}

func (t *ctab[K, V]) unlink(s uint32) {
	c := t.at(s)
	if c.prev != nilSlot {
		t.at(c.prev).next = c.next
	} else {
		t.head = c.next
	}
	if c.next != nilSlot {
		t.at(c.next).prev = c.prev
	} else {
		t.tail = c.prev
	}
	c.prev, c.next = nilSlot, nilSlot
}

// hostCtx holds the context tables of an Extractor.
type hostCtx struct {
	hosts ctab[hostKey, hostState]
	svcs  ctab[svcKey, svcState]
	resps ctab[hostKey, respState] // per responder host (victim.go)
	seed  uint64
	// related holds, after appendContext, the earlier connections of the
	// flow's service in the beacon window when their timing is clockwork
	// (see Record.Related); nrel of them.
	related [svcRing]relatedConn
	nrel    int
}

// relatedConn is an earlier connection of a service: when it started and
// the initiator's port.
type relatedConn struct {
	start int64
	sport uint16
}

func (c *hostCtx) init(maxHosts, maxSvcs, maxResps int, seed uint64) {
	c.hosts.init(maxHosts)
	c.svcs.init(maxSvcs)
	c.resps.init(maxResps)
	c.seed = seed
}

func (c *hostCtx) host(a *[16]byte, v6 bool) *hostState {
	e, _ := c.hostEntry(a, v6)
	return &e.v
}

func (c *hostCtx) hostEntry(a *[16]byte, v6 bool) (*centry[hostKey, hostState], uint32) {
	k := hostKey{*a, v6}
	if e, s := c.hosts.recent(&k); e != nil {
		return e, s
	}
	e, s, _ := c.hosts.get(&k, mix64(addrHash(a)^c.seed))
	return e, s
}

// srcHost returns the context of flow f's initiator through the flow's
// cached index, creating it (touch) or not (nil when absent).
func (c *hostCtx) srcHost(f *flow, touch bool) *hostState {
	src, _, _ := ends(f)
	if int(f.ctxSrc) < c.hosts.n {
		if e := c.hosts.at(f.ctxSrc); e.key.a == *src && e.key.v6 == f.key.v6 {
			if touch {
				c.hosts.touch(f.ctxSrc)
			}
			return &e.v
		}
	}
	k := hostKey{*src, f.key.v6}
	h := mix64(addrHash(src) ^ c.seed)
	if touch {
		e, s, _ := c.hosts.get(&k, h)
		f.ctxSrc = s
		return &e.v
	}
	if s := c.hosts.slot(&k, h); s != nilSlot {
		f.ctxSrc = s
		return &c.hosts.at(s).v
	}
	return nil
}

// svc returns the service state of flow f (nil when evicted).
func (c *hostCtx) svc(f *flow) *svcState {
	src, dst, dport := ends(f)
	if f.key.proto != 6 && f.key.proto != 17 {
		dport = 0
	}
	k := svcKey{*src, *dst, dport, f.key.proto, f.key.v6}
	if e := c.svcs.ref(f.ctxSvc, &k); e != nil {
		return &e.v
	}
	if s := c.svcs.slot(&k, svcHash(&k, c.seed)); s != nilSlot {
		f.ctxSvc = s
		return &c.svcs.at(s).v
	}
	return nil
}

// ends returns the flow's initiator and responder addresses and the
// responder's port.
func ends(f *flow) (src, dst *[16]byte, dport uint16) {
	k := &f.key
	if f.state&stSrcIsA != 0 {
		return &k.a, &k.b, k.pb
	}
	return &k.b, &k.a, k.pa
}

func svcHash(k *svcKey, seed uint64) uint64 {
	return mix64(addrHash(&k.src) ^ mix64(addrHash(&k.dst)^seed) ^ uint64(k.dport)<<8 ^ uint64(k.proto))
}

// flowStart accounts a new flow record starting at ts.
func (c *hostCtx) flowStart(f *flow, ts int64) {
	src, dst, dport := ends(f)
	sport := dport
	if f.key.proto != 6 && f.key.proto != 17 {
		sport = 0
	}
	sk := svcKey{*src, *dst, sport, f.key.proto, f.key.v6}
	se, si := c.svcs.recent(&sk)
	created := false
	if se == nil {
		se, si, created = c.svcs.get(&sk, svcHash(&sk, c.seed))
	}
	f.ctxSvc = si
	sv := &se.v
	sv.starts[sv.n%svcRing] = ts
	sv.sports[sv.n%svcRing] = 0
	if f.key.proto == 6 || f.key.proto == 17 {
		if f.state&stSrcIsA != 0 {
			sv.sports[sv.n%svcRing] = f.key.pa
		} else {
			sv.sports[sv.n%svcRing] = f.key.pb
		}
	}
	sv.n++
	he, hi := c.hostEntry(src, f.key.v6)
	f.ctxSrc = hi
	if b := he.v.bucket(ts); b != nil {
		b.conns++
		if created {
			b.newSvc++
		}
		setBit(b.ports[:], mix64(uint64(dport)+1)) // seed-free: reproducible estimates
	}
}

// packet accounts the per-packet context events: ICMP unreachables (an
// unanswered attempt of the host they are sent to) and DNS query names.
func (c *hostCtx) packet(p *packet, f *flow, a *appState) {
	switch {
	case p.proto == 1 && !p.v6 && p.icmpType == 3, p.proto == 58 && p.v6 && p.icmpType == 1:
		if b := c.host(&p.dst, p.v6).bucket(p.ts); b != nil {
			b.unans++
		}
	case p.dns.ok && !p.dns.response && a != nil && a.dnsNameHash != 0:
		if b := c.host(&p.src, p.v6).bucket(p.ts); b != nil {
			l := b.lane(a.dnsDomainHash | 1) // | 1: never the free marker 0
			l.names |= 1 << (a.dnsNameHash % 64)
		}
	}
}

// unanswered reports a connection attempt that got no answer: a TCP SYN
// without SYN-ACK or refused with RST before the handshake completed, a
// UDP flow or ICMP echo request without any reply.
func unanswered(f *flow) bool {
	switch f.key.proto {
	case 6:
		return f.state&stTCPSyn != 0 && (f.state&stSynAck == 0 || f.state&(stRST|stEstablished) == stRST)
	case 17:
		return f.bwdPkts == 0
	case 1, 58:
		return f.key.pa == icmpEchoMark && f.bwdPkts == 0
	}
	return false
}

// flowEnd accounts the outcome of a final record.
func (c *hostCtx) flowEnd(f *flow) {
	if unanswered(f) {
		if b := c.srcHost(f, true).bucket(f.last); b != nil {
			b.unans++
		}
	}
	if sv := c.svc(f); sv != nil {
		sv.sizes[sv.m%svcRing] = float32(f.fwdBytes + f.bwdBytes)
		sv.m++
	}
}

var contextFeatures = []Feature{
	ft("src_conns_60s", "flows", "flows started by the initiator host in the 60 s up to the flow's last packet", true),
	ft("src_dports_60s", "ports", "distinct destination ports the initiator host contacted in 60 s (linear-counting estimate)", true),
	ft("src_unanswered_60s", "flows", "initiator host's attempts without an answer in 60 s (SYN without SYN-ACK, refused by RST, UDP or echo without reply, ICMP unreachable received)", true),
	ft("src_unanswered_ratio_60s", "ratio", "src_unanswered_60s / src_conns_60s, at most 1", false),
	ft("src_new_services_60s", "services", "(destination, port, protocol) services the initiator host contacted in 60 s that were not in its recent service table", true),
	ft("src_dns_names_60s", "names", "distinct DNS query names the initiator host asked in 60 s under the registered domain of this flow's query (estimate, saturating near 250; RITA's subdomain signal); 0 on non-DNS flows", true),
	ft("svc_conns_10s", "flows", "flows from the initiator to the same destination, port and protocol in the 10 s up to the flow's last packet (at most 16)", true),
	ft("svc_conns_60s", "flows", "as svc_conns_10s over 60 s (at most 16)", true),
	ft("beacon_conns", "flows", "connections from the initiator to the same service in the 10 min up to the flow (at most 16)", true),
	ft("beacon_iat_cv_less_clockwork", "ratio", "coefficient of variation of the intervals between those connections (at most 1), less the evidence of clockwork timing when there is any (−log10 of the chance that a Poisson process's intervals are as even, beyond 1 in 10,000, median interval at least 1 s), so a beacon goes negative and grows more so with every connection; 1 (neutral, as a Poisson process) with fewer than 4", false),
	ft("beacon_iat_mad_ratio", "ratio", "median absolute deviation / median of those intervals; 1 with fewer than 4 connections", false),
	ft("beacon_iat_skew", "ratio", "Bowley quartile skew of those intervals; 0 with fewer than 4 connections", false),
	ft("beacon_size_cv", "ratio", "coefficient of variation of the bytes of the service's last finished flows, at most 1; 1 with fewer than 4", false),
}

// appendContext appends contextFeatures for flow f.
func (c *hostCtx) appendContext(dst []float64, f *flow, a *appState) []float64 {
	c.nrel = 0
	t := f.last
	var w hostWindow
	_, _, dport := ends(f)
	unans := unanswered(f)
	names := 0.0
	if unans || dport == 53 {
		if hs := c.srcHost(f, false); hs != nil {
			if unans {
				hs.window(t, &w)
			}
			if dport == 53 && a != nil && a.dnsDomainHash != 0 {
				names = hs.domainNames(t, a.dnsDomainHash|1)
			}
		}
	}
	ratio := 0.0
	if w.conns > 0 {
		ratio = math.Min(1, float64(w.unans)/float64(w.conns))
	}
	// Not features: the 10 s source count, distinct destination hosts and
	// every destination-side count. They move for benign flows whenever
	// anything else happens on the network (a flood to a server lifts the
	// destination counts of every flow to it), so they mark benign traffic
	// more than attacks (CHANGELOG.md, context features).
	//
	// The source's connection, port, failure and new-service counts are
	// attached only to flows that themselves went unanswered: they tell a
	// scan's or a flood's probes apart from one refused connection, but
	// carried on every flow of the host they would also mark the benign
	// traffic of a host that scans. Answered flows get 0 in training and
	// detection alike.
	// Likewise the distinct DNS names go on DNS flows only, counted under
	// the flow's own registered domain (see dnsLanes).
	if unans {
		dst = append(dst, float64(w.conns), linearCount(w.ports[:]),
			float64(w.unans), ratio, float64(w.newSvc))
	} else {
		dst = append(dst, 0, 0, 0, 0, 0)
	}
	dst = append(dst, names)

	sv := c.svc(f)
	if sv == nil {
		return append(dst, 0, 0, 0, 1, 1, 0, 1)
	}
	var s10, s60 int
	var iv [svcRing]float64
	var st [svcRing]int64
	var sp [svcRing]uint16
	ns := 0
	for i := uint32(0); i < min(sv.n, svcRing); i++ {
		s := sv.starts[(sv.n-1-i)%svcRing]
		if s > t {
			continue
		}
		if t-s <= int64(10*time.Second) {
			s10++
		}
		if t-s <= int64(60*time.Second) {
			s60++
		}
		if t-s <= beaconWin {
			st[ns], sp[ns] = s, sv.sports[(sv.n-1-i)%svcRing]
			ns++
		}
	}
	dst = append(dst, float64(s10), float64(s60), float64(ns))
	if ns < beaconMin {
		return append(dst, 1, 1, 0, 1)
	}
	// st is newest first; intervals between consecutive starts.
	for i := 0; i+1 < ns; i++ {
		iv[i] = float64(st[i]-st[i+1]) / 1e9
	}
	k := ns - 1
	// Both coefficients of variation are capped at 1, a Poisson process's:
	// they measure regularity, and beyond 1 irregular is just irregular.
	// Uncapped, the bursts of a busy host would score as anomalies of a
	// feature that is there to find clockwork.
	cv := cvOf(iv[:k])
	regular := regularity(k, cv)
	cv = min(cv, 1)
	sortSmall(iv[:k])
	med := quant(iv[:k], 0.5)
	var dev [svcRing]float64
	for i := 0; i < k; i++ {
		dev[i] = math.Abs(iv[i] - med)
	}
	sortSmall(dev[:k])
	mad := 1.0
	if med > 0 {
		mad = quant(dev[:k], 0.5) / med
	}
	q1, q3 := quant(iv[:k], 0.25), quant(iv[:k], 0.75)
	skew := 0.0
	if q3 > q1 {
		skew = (q1 + q3 - 2*med) / (q3 - q1)
	}
	sizeCV := 1.0
	if m := int(min(sv.m, svcRing)); m >= beaconMin {
		var sz [svcRing]float64
		for i := 0; i < m; i++ {
			sz[i] = float64(sv.sizes[i])
		}
		sizeCV = min(cvOf(sz[:m]), 1)
	}
	if med >= beaconMinPeriod {
		// One column for both: ordinary services keep their cv (the
		// baseline's spread, and so the models fitted on it, do not move),
		// clockwork leaves that range downwards.
		cv -= regular
		if regular > 0 && (f.key.proto == 6 || f.key.proto == 17) {
			// Clockwork: the earlier connections are part of what this
			// record's timing features describe.
			for i := 0; i < ns; i++ {
				if st[i] == f.start {
					continue // this flow itself
				}
				c.related[c.nrel] = relatedConn{start: st[i], sport: sp[i]}
				c.nrel++
			}
		}
	}
	return append(dst, cv, mad, skew, sizeCV)
}

// regularity is −log10 of the probability that k intervals of a Poisson
// process have a coefficient of variation of at most cv: the evidence that
// the connections are timed by a clock rather than by people.
//
// A coefficient of variation alone does not say how surprising it is: three
// intervals of ordinary traffic are nearly equal now and then, fifteen
// practically never are. Divided by their sum, k exponential intervals are
// uniform on the (k−1)-simplex (density (k−1)!/√k in its own measure), and
// cv = √k·‖p − centre‖, so P(CV ≤ cv) is the simplex's density times the
// volume of a (k−1)-ball of radius cv/√k. The ball overhangs the simplex when
// cv > 1/√(k−1), so the figure is a lower bound on the evidence there
// (clamped at 0). cv is floored at 1e-6 (timestamp resolution against
// intervals of seconds), which bounds the result at about 6.6·(k−1).
//
// The feature is the evidence beyond regularityFloor, so that ordinary
// traffic reads 0 and only clockwork departs from it: people's random gaps
// are more even than Poisson's, so busy benign sessions show some evidence
// too, and without the floor it would spread the baseline and move the
// thresholds calibrated on it.
//
// appendContext subtracts the result from beacon_iat_cv_less_clockwork rather than adding
// a column: a baseline without beacons keeps the same rows, so the models
// fitted on it do too. The measurements behind the floor and this choice
// are in CHANGELOG.md (schema version 4).
func regularity(k int, cv float64) float64 {
	if k < 2 {
		return 0
	}
	cv = max(cv, 1e-6)
	d := float64(k - 1) // dimension of the simplex
	lgk1, _ := math.Lgamma(d + 1)
	lgb, _ := math.Lgamma(d/2 + 1)
	lnP := lgk1 - 0.5*math.Log(float64(k)) + d/2*math.Log(math.Pi) - lgb + d*(math.Log(cv)-0.5*math.Log(float64(k)))
	return max(0, -lnP/math.Ln10-regularityFloor)
}

// regularityFloor is the evidence, in log10 units, that regularity
// subtracts: a chance of 1 in 10,000 that a Poisson process is as regular.
const regularityFloor = 4

// beaconMinPeriod is the shortest median interval, in seconds, whose
// regularity counts as beaconing: a check-in is slow; back-to-back
// connections (a tool's burst, timed by the round trip) are what the
// svc_conns_10s count is for.
const beaconMinPeriod = 1.0

func cvOf(x []float64) float64 {
	var s, sq float64
	for _, v := range x {
		s += v
		sq += v * v
	}
	n := float64(len(x))
	mean, std := meanStd(n, s, sq)
	if mean <= 0 {
		return 1
	}
	return std / mean
}

func sortSmall(x []float64) {
	for i := 1; i < len(x); i++ {
		for j := i; j > 0 && x[j] < x[j-1]; j-- {
			x[j], x[j-1] = x[j-1], x[j]
		}
	}
}

// quant is the linearly interpolated q-quantile of sorted x (len > 0).
func quant(x []float64, q float64) float64 {
	p := q * float64(len(x)-1)
	i := int(p)
	if i+1 >= len(x) {
		return x[len(x)-1]
	}
	return x[i] + (p-float64(i))*(x[i+1]-x[i])
}
