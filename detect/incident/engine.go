package incident

import (
	"cmp"
	"encoding/binary"
	"hash/fnv"
	"net/netip"
	"slices"
	"strconv"
	"time"
)

// Flow is one flow alert as the engine reads it.
type Flow struct {
	At           int64 // the alert's time (capture time, Unix ns)
	Src, Dst     netip.Addr
	Sport, Dport uint16 // 0 for ICMP
	Proto        uint8
	// Record identifies the flow record (detect: flow key hash and Seq), to
	// count distinct flows: a flow alerted while active and again at its end
	// is one flow.
	Record      uint64
	Packets     uint64 // both directions
	Bytes       uint64
	BwdPackets  uint64 // packets from the responder
	Score       float64
	Top         []string // top feature names, strongest first
	CommunityID string
	// CommunityIDOf, when set and CommunityID is empty, computes it; the
	// engine calls it only for the samples it keeps.
	CommunityIDOf func() string
}

// Config configures an Engine. Zero fields take the defaults shown.
type Config struct {
	// Update is the least capture time between two update events of one
	// incident (default 10 s).
	Update time.Duration
	// Idle ends an incident after this much capture time without an alert
	// (default 60 s).
	Idle time.Duration
	// MaxOpen bounds the open incidents (default 10,000): opening one more
	// ends the least recently alerted first (reason "evicted").
	MaxOpen int
	// Samples is the number of flow alerts of each incident that are
	// written (Add's sample result; default 5; negative: none).
	Samples int
	// Rules is the kind table (default DefaultRules).
	Rules []Rule
}

// Defaults.
const (
	DefaultUpdate  = 10 * time.Second
	DefaultIdle    = 60 * time.Second
	DefaultMaxOpen = 10000
	DefaultSamples = 5
	topList        = 5 // hosts, ports and features listed per event
)

func (c Config) withDefaults() Config {
	if c.Update <= 0 {
		c.Update = DefaultUpdate
	}
	if c.Idle <= 0 {
		c.Idle = DefaultIdle
	}
	if c.MaxOpen <= 0 {
		c.MaxOpen = DefaultMaxOpen
	}
	if c.Samples == 0 {
		c.Samples = DefaultSamples
	}
	if c.Samples < 0 {
		c.Samples = 0
	}
	if c.Rules == nil {
		c.Rules = DefaultRules
	}
	return c
}

// Stats counts what an engine did.
type Stats struct {
	Opened  uint64 `json:"opened"`
	Evicted uint64 `json:"evicted"` // ended early by MaxOpen
	Merged  uint64 `json:"merged"`  // pair incidents folded into a target or source incident
	// ByKind counts the incidents ended (merged ones excluded) by their
	// final kind.
	ByKind     map[string]uint64 `json:"by_kind"`
	Alerts     uint64            `json:"alerts"`     // flow alerts added
	Samples    uint64            `json:"samples"`    // of them, written as samples
	Suppressed uint64            `json:"suppressed"` // of them, counted into their incident only
	Events     uint64            `json:"events"`     // incident events emitted
}

type key struct {
	shape Shape
	a, b  netip.Addr // target: a = dest; source: a = src; pair: a = src, b = dest
	fam   string
}

type famAddr struct {
	a   netip.Addr
	fam string
}

// inc is one open incident. prev/next link the engine's recency list.
type inc struct {
	key        key
	id         string
	first      int64
	last       int64
	lastEmit   int64
	emitAlerts uint64 // alerts at the last event
	alerts     uint64
	unanswered uint64 // alerts with unanswered evidence
	packets    uint64
	bytes      uint64
	flows      card
	srcs, dsts card
	dports     card
	topSrc     heavy[netip.Addr]
	topDst     heavy[netip.Addr]
	topPort    heavy[uint16]
	features   map[string]uint64
	bin        int64 // current second of capture time and its packets
	binPkts    uint64
	peak       uint64
	maxScore   float64
	samples    []string
	lastPort   uint16 // the last alert's destination port
	run        int    // consecutive alerts on it
	prev, next *inc
}

// Engine groups flow alerts into incidents and emits their events.
type Engine struct {
	cfg  Config
	emit func(*Event) error
	now  int64

	open      map[key]*inc
	target    map[netip.Addr]*inc    // most recent open target incident of a host (any family)
	source    map[netip.Addr]*inc    // most recent open source incident of a host
	pair      map[[2]netip.Addr]*inc // most recent open pair incident of a pair
	pairByDst map[famAddr]*inc       // most recent open pair incident of a family per dest
	pairBySrc map[famAddr]*inc       // and per source
	head      *inc                   // most recently alerted
	tail      *inc                   // least recently alerted
	stats     Stats
	err       error
}

// New returns an engine that passes every event to emit, in order. emit
// must not keep the event after it returns. The first error emit returns
// is kept and returned by Add, Advance and Close.
func New(cfg Config, emit func(*Event) error) *Engine {
	return &Engine{
		cfg: cfg.withDefaults(), emit: emit,
		open: map[key]*inc{}, target: map[netip.Addr]*inc{}, source: map[netip.Addr]*inc{},
		pair: map[[2]netip.Addr]*inc{}, pairByDst: map[famAddr]*inc{}, pairBySrc: map[famAddr]*inc{},
		stats: Stats{ByKind: map[string]uint64{}},
	}
}

// Stats returns the counts so far.
func (e *Engine) Stats() Stats {
	s := e.stats
	s.ByKind = make(map[string]uint64, len(e.stats.ByKind))
	for k, v := range e.stats.ByKind {
		s.ByKind[k] = v
	}
	return s
}

// Open returns the number of open incidents.
func (e *Engine) Open() int { return len(e.open) }

// Add counts f into its incident, opening one (and emitting its start)
// when none fits, after ending the incidents idle at f's time. It returns
// the incident's id and whether f is one of its first Config.Samples
// alerts, to be written as a flow alert. Alert times may go back a little
// (detect's workers score in parallel): the engine's clock is the latest
// time it has seen.
func (e *Engine) Add(f *Flow) (id string, sample bool, err error) {
	e.Advance(f.At)
	fam, shape := classify(e.cfg.Rules, f)
	in := e.find(f, fam)
	if in != nil && e.phaseChange(in, f) {
		// A scan's source turned to one port: the flood that follows is
		// an incident of its own, under the same key.
		e.end(in, "split", "", f.At)
		in = nil
	}
	fresh := in == nil
	if fresh {
		in = e.openFor(f, fam, shape)
	}
	in.add(f, e.cfg.Samples)
	e.touch(in)
	e.stats.Alerts++
	sample = in.alerts <= uint64(e.cfg.Samples)
	if sample {
		e.stats.Samples++
	} else {
		e.stats.Suppressed++
	}
	switch {
	case fresh:
		e.send(in, "start", "", "", f.At)
	case in.alerts > in.emitAlerts && f.At-in.lastEmit >= int64(e.cfg.Update):
		e.send(in, "update", "", "", f.At)
	}
	return in.id, sample, e.err
}

// floodRun is the number of consecutive alerts on one destination port
// after which a probe incident that counts as a port scan is split.
const floodRun = 50

// phaseChange reports whether f ends in's port scan: the floodRun-th
// alert in a row on one port of an incident whose counts say port_scan.
func (e *Engine) phaseChange(in *inc, f *Flow) bool {
	if f.Dport == in.lastPort {
		in.run++
	} else {
		in.lastPort, in.run = f.Dport, 1
	}
	return in.run == floodRun && (in.key.fam == TCPProbe || in.key.fam == UDPProbe) && in.kind() == "port_scan"
}

// find returns the open incident f belongs to, or nil. An alert of a named
// family joins an incident of that family keyed by its target, its source
// or its pair; an anomaly joins any open incident on its target, source or
// pair, whatever the family.
func (e *Engine) find(f *Flow, fam string) *inc {
	if fam == Anomaly {
		if in := e.pair[[2]netip.Addr{f.Src, f.Dst}]; in != nil {
			return in
		}
		if in := e.source[f.Src]; in != nil {
			return in
		}
		return e.target[f.Dst]
	}
	if in := e.open[key{Target, f.Dst, netip.Addr{}, fam}]; in != nil {
		return in
	}
	if in := e.open[key{Source, f.Src, netip.Addr{}, fam}]; in != nil {
		return in
	}
	return e.open[key{Pair, f.Src, f.Dst, fam}]
}

// openFor opens the incident of a new alert. A pair incident whose family
// already has an open pair incident on the same destination from another
// source becomes a target incident (many to one), and one with the same
// source to another destination a source incident (one to many); the
// earlier pair incident is merged into it.
func (e *Engine) openFor(f *Flow, fam string, shape Shape) *inc {
	k := key{shape: shape, fam: fam}
	var merge *inc
	switch shape {
	case Target:
		k.a = f.Dst
	case Source:
		k.a = f.Src
	default:
		k.a, k.b = f.Src, f.Dst
		if p := e.pairByDst[famAddr{f.Dst, fam}]; p != nil && p.key.a != f.Src {
			k, merge = key{shape: Target, a: f.Dst, fam: fam}, p
		} else if p := e.pairBySrc[famAddr{f.Src, fam}]; p != nil && p.key.b != f.Dst {
			k, merge = key{shape: Source, a: f.Src, fam: fam}, p
		}
	}
	if len(e.open) >= e.cfg.MaxOpen && e.tail != nil {
		victim := e.tail
		if victim == merge {
			merge = nil
		}
		e.stats.Evicted++
		e.end(victim, "evicted", "", e.now)
	}
	in := &inc{key: k, first: f.At, features: map[string]uint64{}}
	in.id = incidentID(k, f.At)
	e.open[k] = in
	e.index(in)
	e.stats.Opened++
	if merge != nil {
		in.absorb(merge)
		e.stats.Merged++
		e.end(merge, "end", "merged", f.At, in.id)
	}
	return in
}

func (e *Engine) index(in *inc) {
	k := in.key
	switch k.shape {
	case Target:
		e.target[k.a] = in
	case Source:
		e.source[k.a] = in
	default:
		e.pair[[2]netip.Addr{k.a, k.b}] = in
		e.pairBySrc[famAddr{k.a, k.fam}] = in
		e.pairByDst[famAddr{k.b, k.fam}] = in
	}
}

// unindex removes in from the indexes that point at it; a key reused by
// a later incident (after a split) keeps pointing at that one.
func (e *Engine) unindex(in *inc) {
	k := in.key
	del := func(m map[netip.Addr]*inc, a netip.Addr) {
		if m[a] == in {
			delete(m, a)
		}
	}
	delFam := func(m map[famAddr]*inc, fa famAddr) {
		if m[fa] == in {
			delete(m, fa)
		}
	}
	if e.open[k] == in {
		delete(e.open, k)
	}
	switch k.shape {
	case Target:
		del(e.target, k.a)
	case Source:
		del(e.source, k.a)
	default:
		if p := [2]netip.Addr{k.a, k.b}; e.pair[p] == in {
			delete(e.pair, p)
		}
		delFam(e.pairBySrc, famAddr{k.a, k.fam})
		delFam(e.pairByDst, famAddr{k.b, k.fam})
	}
}

// incidentID derives an incident's id from its key and first time: 16 hex
// digits of FNV-1a, the same for the same alerts in a replay.
func incidentID(k key, first int64) string {
	h := fnv.New64a()
	h.Write([]byte{byte(k.shape)})
	a, b := k.a.As16(), k.b.As16()
	h.Write(a[:])
	h.Write(b[:])
	h.Write([]byte(k.fam))
	var t [8]byte
	binary.BigEndian.PutUint64(t[:], uint64(first))
	h.Write(t[:])
	s := strconv.FormatUint(h.Sum64(), 16)
	for len(s) < 16 {
		s = "0" + s
	}
	return s
}

func addrHash(a netip.Addr) uint64 {
	b := a.As16()
	return mix64(binary.BigEndian.Uint64(b[:8]) ^ mix64(binary.BigEndian.Uint64(b[8:])))
}

func (in *inc) add(f *Flow, samples int) {
	in.alerts++
	if f.At > in.last {
		in.last = f.At
	}
	in.packets += f.Packets
	in.bytes += f.Bytes
	in.flows.add(mix64(f.Record))
	in.srcs.add(addrHash(f.Src))
	in.dsts.add(addrHash(f.Dst))
	in.topSrc.add(f.Src)
	in.topDst.add(f.Dst)
	if f.Proto != ICMP && f.Proto != ICMPv6 {
		in.dports.add(mix64(uint64(f.Dport) + 1))
		in.topPort.add(f.Dport)
	}
	answered := true
	for i, t := range f.Top {
		if i == 3 {
			break
		}
		in.features[t]++
		if slices.Contains(unansweredEvidence, t) {
			answered = false
		}
	}
	if !answered {
		in.unanswered++
	}
	if sec := f.At / int64(time.Second); sec == in.bin {
		in.binPkts += f.Packets
	} else if sec > in.bin {
		in.bin, in.binPkts = sec, f.Packets
	}
	in.peak = max(in.peak, in.binPkts)
	in.maxScore = max(in.maxScore, f.Score)
	if len(in.samples) < samples {
		cid := f.CommunityID
		if cid == "" && f.CommunityIDOf != nil {
			cid = f.CommunityIDOf()
		}
		if cid != "" {
			in.samples = append(in.samples, cid)
		}
	}
}

// absorb adds p's counts to in (p is merged into it).
func (in *inc) absorb(p *inc) {
	in.first = min(in.first, p.first)
	in.last = max(in.last, p.last)
	in.alerts += p.alerts
	in.unanswered += p.unanswered
	in.packets += p.packets
	in.bytes += p.bytes
	in.flows.merge(&p.flows)
	in.srcs.merge(&p.srcs)
	in.dsts.merge(&p.dsts)
	in.dports.merge(&p.dports)
	for _, h := range p.topSrc.items {
		in.topSrc.addN(h.item, h.count)
	}
	for _, h := range p.topDst.items {
		in.topDst.addN(h.item, h.count)
	}
	for _, h := range p.topPort.items {
		in.topPort.addN(h.item, h.count)
	}
	for k, v := range p.features {
		in.features[k] += v
	}
	in.peak = max(in.peak, p.peak)
	if p.bin == in.bin {
		in.binPkts += p.binPkts
	}
	in.maxScore = max(in.maxScore, p.maxScore)
	in.samples = append(in.samples, p.samples...)
}

// kind is the incident's kind now.
func (in *inc) kind() string {
	return Settle(in.key.fam, Counts{
		Flows: in.flows.count(), Dests: in.dsts.count(), DestPorts: in.dports.count(), PeakPPS: in.peak,
		Unanswered: float64(in.unanswered) / float64(max(in.alerts, 1)),
	})
}

// touch moves in to the head of the recency list.
func (e *Engine) touch(in *inc) {
	if e.head == in {
		return
	}
	e.unlink(in)
	in.next = e.head
	if e.head != nil {
		e.head.prev = in
	}
	e.head = in
	if e.tail == nil {
		e.tail = in
	}
}

func (e *Engine) unlink(in *inc) {
	if in.prev != nil {
		in.prev.next = in.next
	} else if e.head == in {
		e.head = in.next
	}
	if in.next != nil {
		in.next.prev = in.prev
	} else if e.tail == in {
		e.tail = in.prev
	}
	in.prev, in.next = nil, nil
}

// Advance moves the engine's clock to now (capture time) if it is later,
// ending every incident idle for Config.Idle by then; the end event's time
// is the incident's last alert plus Config.Idle. detect calls it with each
// alert and, on a live capture, as capture time passes without alerts.
func (e *Engine) Advance(now int64) error {
	if now > e.now {
		e.now = now
	}
	idle := int64(e.cfg.Idle)
	// The recency list is in the order alerts arrived; with alert times
	// that go back a little, an incident may end up to that much late.
	for e.tail != nil && e.tail.last+idle <= e.now {
		e.end(e.tail, "idle", "", e.tail.last+idle)
	}
	return e.err
}

// Close ends every open incident, least recently alerted first (reason
// "close"), at the engine's clock.
func (e *Engine) Close() error {
	for e.tail != nil {
		e.end(e.tail, "close", "", e.now)
	}
	return e.err
}

// end emits in's end event and forgets it.
func (e *Engine) end(in *inc, reason, merged string, at int64, into ...string) {
	if merged == "merged" {
		e.unlink(in)
		e.unindex(in)
		e.send(in, "end", "merged", into[0], at)
		return
	}
	e.unlink(in)
	e.unindex(in)
	e.stats.ByKind[in.kind()]++
	e.send(in, "end", reason, "", at)
}

func (e *Engine) send(in *inc, state, reason, into string, at int64) {
	if state != "end" {
		in.lastEmit, in.emitAlerts = at, in.alerts
	}
	ev := in.event(state, reason, into, at, e.cfg.Samples)
	e.stats.Events++
	if e.emit == nil {
		return
	}
	if err := e.emit(ev); err != nil && e.err == nil {
		e.err = err
	}
}

func (in *inc) event(state, reason, into string, at int64, samples int) *Event {
	k := in.key
	ev := &Event{Timestamp: Time(at), EventType: "incident"}
	switch k.shape {
	case Target:
		ev.DestIP = k.a
	case Source:
		ev.SrcIP = k.a
	default:
		ev.SrcIP, ev.DestIP = k.a, k.b
	}
	b := &ev.Incident
	*b = Body{
		ID: in.id, State: state, Kind: in.kind(), Key: k.shape.String(), Reason: reason, MergedInto: into,
		FirstSeen: Time(in.first), LastSeen: Time(in.last),
		Alerts: in.alerts, AlertsSuppressed: in.alerts - min(in.alerts, uint64(samples)),
		Flows: in.count(&in.flows), Packets: in.packets, Bytes: in.bytes,
		Src:       Hosts{Count: in.count(&in.srcs), Top: hostTop(&in.topSrc)},
		Dest:      Hosts{Count: in.count(&in.dsts), Top: hostTop(&in.topDst)},
		DestPorts: Ports{Count: in.count(&in.dports), Top: []PortCount{}},
		PeakPPS:   in.peak, MaxScore: in.maxScore,
		Samples: append([]string{}, in.samples...),
	}
	for _, h := range in.topPort.top(topList) {
		b.DestPorts.Top = append(b.DestPorts.Top, PortCount{Port: h.item, Flows: h.count})
	}
	b.TopFeatures = make([]FeatureCount, 0, len(in.features))
	for n, c := range in.features {
		b.TopFeatures = append(b.TopFeatures, FeatureCount{Name: n, Alerts: c})
	}
	slices.SortFunc(b.TopFeatures, func(x, y FeatureCount) int {
		if c := cmp.Compare(y.Alerts, x.Alerts); c != 0 {
			return c
		}
		return cmp.Compare(x.Name, y.Name)
	})
	if len(b.TopFeatures) > topList {
		b.TopFeatures = b.TopFeatures[:topList]
	}
	return ev
}

// count is c's estimate, at most the incident's alerts: an estimate above
// them is the sketch's error, never more distinct values.
func (in *inc) count(c *card) uint64 { return min(c.count(), in.alerts) }

func hostTop(h *heavy[netip.Addr]) []HostCount {
	out := []HostCount{}
	for _, x := range h.top(topList) {
		out = append(out, HostCount{IP: x.item, Flows: x.count})
	}
	return out
}
