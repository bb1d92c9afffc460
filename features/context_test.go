package features

import (
	"encoding/binary"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// TestContextFlood: one SYN from each of 100,000 spoofed sources never
// grows the host table past MaxHosts, and evictions are counted.
func TestContextFlood(t *testing.T) {
	const max = 1000
	e := NewExtractor(Config{MaxFlows: 2000, MaxHosts: max, MaxServices: max}, func(*Record) {})
	b := frame{src: cli, dst: srv, sport: 1, dport: 80, proto: "tcp", flags: "S"}.bytes(t)
	for i := range 100_000 {
		binary.BigEndian.PutUint32(b[14+12:], uint32(i)|0x0a000000)
		e.Process(b, ci(time.Duration(i)*time.Microsecond, len(b)))
	}
	if e.ctx.hosts.live > max || e.ctx.svcs.live > max || e.ctx.hosts.n > max || e.ctx.hosts.evicted == 0 {
		t.Fatalf("hosts live %d (slots %d) svcs %d evicted %d, cap %d", e.ctx.hosts.live, e.ctx.hosts.n, e.ctx.svcs.live, e.ctx.hosts.evicted, max)
	}
	// Every remaining entry is still findable (index consistent after evictions).
	for s := e.ctx.hosts.head; s != nilSlot; s = e.ctx.hosts.at(s).next {
		c := e.ctx.hosts.at(s)
		if e.ctx.hosts.find(&c.key, c.h) != c {
			t.Fatal("host entry lost from the index")
		}
	}
}

// TestContextAllocs: steady-state packets through the context tables do
// not allocate.
func TestContextAllocs(t *testing.T) {
	e := NewExtractor(Config{MaxHosts: 64, MaxServices: 64}, func(*Record) {})
	b := frame{src: cli, dst: srv, sport: 1, dport: 80, proto: "tcp", flags: "S"}.bytes(t)
	i := 0
	step := func() {
		binary.BigEndian.PutUint16(b[14+20:], uint16(i%5000)) // new source port: a new flow
		binary.BigEndian.PutUint32(b[14+12:], uint32(i%200))  // 200 sources > MaxHosts: evictions
		e.Process(b, ci(time.Duration(i)*time.Millisecond, len(b)))
		i++
	}
	for range 20000 {
		step()
	}
	if n := testing.AllocsPerRun(5000, step); n != 0 {
		t.Fatalf("%v allocations per packet", n)
	}
}

// TestContextPortScan: a source touching 300 ports, most refused by RST,
// shows many distinct ports and a high unanswered ratio.
func TestContextPortScan(t *testing.T) {
	var last []float64
	s := FlowSchema()
	e := NewExtractor(Config{}, func(r *Record) { last = append(last[:0], r.Vector...) })
	for p := range 300 {
		syn := frame{src: cli, dst: srv, sport: 40000, dport: uint16(1 + p), proto: "tcp", flags: "S"}.bytes(t)
		rst := frame{src: srv, dst: cli, sport: uint16(1 + p), dport: 40000, proto: "tcp", flags: "RA"}.bytes(t)
		e.Process(syn, ci(time.Duration(p)*time.Millisecond, len(syn)))
		e.Process(rst, ci(time.Duration(p)*time.Millisecond+time.Microsecond, len(rst)))
	}
	e.Flush()
	get := func(n string) float64 { return last[s.Index(n)] }
	if d := get("src_dports_60s"); d < 250 || d > 360 {
		t.Errorf("src_dports_60s %v, want about 300", d)
	}
	if r := get("src_unanswered_ratio_60s"); r < 0.99 {
		t.Errorf("unanswered ratio %v", r)
	}
	if n := get("src_conns_60s"); n != 300 {
		t.Errorf("src_conns_60s %v", n)
	}
	// The scanning host's own answered flow (a UDP exchange after the
	// scan) does not inherit the scan's counts: source context is for
	// flows that themselves went unanswered.
	q := frame{src: cli, dst: srv, sport: 41000, dport: 123, proto: "udp"}.bytes(t)
	a := frame{src: srv, dst: cli, sport: 123, dport: 41000, proto: "udp"}.bytes(t)
	e.Process(q, ci(400*time.Millisecond, len(q)))
	e.Process(a, ci(401*time.Millisecond, len(a)))
	e.Flush()
	for _, n := range []string{"src_conns_60s", "src_dports_60s", "src_unanswered_60s", "src_unanswered_ratio_60s", "src_new_services_60s", "src_dns_names_60s"} {
		if v := get(n); v != 0 {
			t.Errorf("answered non-DNS flow of a scanning host: %s = %v, want 0", n, v)
		}
	}
}

// TestBeacon: connections every 5 s exactly give interval CV 0; fewer
// than 4 give the neutral values.
func TestBeacon(t *testing.T) {
	s := FlowSchema()
	var vs [][]float64
	var rel [][]FlowID
	e := NewExtractor(Config{}, func(r *Record) {
		vs = append(vs, append([]float64(nil), r.Vector...))
		rel = append(rel, append([]FlowID(nil), r.Related...))
	})
	for k := range 8 {
		at := time.Duration(k) * 5 * time.Second
		for _, fr := range []frame{
			{src: cli, dst: srv, sport: uint16(30000 + k), dport: 8000, proto: "tcp", flags: "S"},
			{src: srv, dst: cli, sport: 8000, dport: uint16(30000 + k), proto: "tcp", flags: "SA"},
			{src: cli, dst: srv, sport: uint16(30000 + k), dport: 8000, proto: "tcp", flags: "R"},
		} {
			b := fr.bytes(t)
			e.Process(b, ci(at, len(b)))
			at += time.Millisecond
		}
	}
	e.Flush()
	if len(vs) != 8 {
		t.Fatalf("%d records", len(vs))
	}
	cv, conns := s.Index("beacon_iat_cv_less_clockwork"), s.Index("beacon_conns")
	if vs[1][cv] != 1 || vs[1][conns] != 2 {
		t.Errorf("second beacon: cv %v conns %v, want neutral 1 and 2", vs[1][cv], vs[1][conns])
	}
	// Eight connections 5 s apart (to the microsecond): 7 intervals whose
	// cv is at the 1e-6 floor, evidence −log10 P ≈ 6·log10(1e6) − 5.6 ≈ 30,
	// less the floor of 4.
	if v := vs[7][cv]; v > -20 || vs[7][conns] != 8 {
		t.Errorf("eighth beacon: cv %v conns %v, want below -20 and 8", v, vs[7][conns])
	}
	if v := vs[3][cv]; v >= 0 {
		t.Errorf("fourth beacon: cv %v, want negative (clockwork)", v)
	}
	// Related: none before the timing is clockwork; then every earlier
	// connection of the beacon, by its own port and start.
	if len(rel[1]) != 0 || len(rel[2]) != 0 {
		t.Errorf("second and third beacons: related %v %v, want none", rel[1], rel[2])
	}
	for _, k := range []int{3, 7} {
		if len(rel[k]) != k {
			t.Errorf("beacon %d: %d related connections, want %d", k+1, len(rel[k]), k)
			continue
		}
		seen := map[uint16]bool{}
		for _, id := range rel[k] {
			j := int(id.Sport) - 30000
			if j < 0 || j >= k || seen[id.Sport] || id.Start != t0+int64(j)*5e9 || id.End != 0 ||
				id.Dport != 8000 || id.Src.String() != cli || id.Dst.String() != srv || id.Proto != 6 {
				t.Errorf("beacon %d: related %+v is not one of the earlier connections", k+1, id)
			}
			seen[id.Sport] = true
		}
	}
}

// TestBeaconBurstCapped: four connections 0.1 s apart with equal sizes
// read as even (both coefficients of variation near 0: the statistics
// are computed, not defaulted); a fifth 90 s later with 40 kB lifts the
// interval CV to about 1.7 and the size CV to about 2, and both read 1,
// as irregular as a Poisson process and no further (beacon features look
// for clockwork, not for bursts).
func TestBeaconBurstCapped(t *testing.T) {
	s := FlowSchema()
	var vs [][]float64
	e := NewExtractor(Config{}, func(r *Record) { vs = append(vs, append([]float64(nil), r.Vector...)) })
	starts := []time.Duration{0, 100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond, 90 * time.Second}
	for k, at := range starts {
		pay := 10
		if k == len(starts)-1 {
			pay = 40000
		}
		for _, fr := range []frame{
			{src: cli, dst: srv, sport: uint16(30000 + k), dport: 8000, proto: "tcp", flags: "S"},
			{src: srv, dst: cli, sport: 8000, dport: uint16(30000 + k), proto: "tcp", flags: "SA"},
			{src: cli, dst: srv, sport: uint16(30000 + k), dport: 8000, proto: "tcp", flags: "PA", payload: pay},
			{src: cli, dst: srv, sport: uint16(30000 + k), dport: 8000, proto: "tcp", flags: "R"},
		} {
			b := fr.bytes(t)
			e.Process(b, ci(at, len(b)))
			at += time.Millisecond
		}
	}
	e.Flush()
	if len(vs) != len(starts) {
		t.Fatalf("%d records", len(vs))
	}
	iat, size := s.Index("beacon_iat_cv_less_clockwork"), s.Index("beacon_size_cv")
	if even := vs[3]; even[iat] > 0.01 || even[size] > 0.01 {
		t.Errorf("four even connections: beacon_iat_cv_less_clockwork %v, beacon_size_cv %v, want both near 0", even[iat], even[size])
	}
	last := vs[len(vs)-1]
	if last[iat] != 1 {
		t.Errorf("burst then pause: beacon_iat_cv_less_clockwork %v, want the cap 1", last[iat])
	}
	if last[size] != 1 {
		t.Errorf("sizes 10 B then 40 kB: beacon_size_cv %v, want the cap 1", last[size])
	}
}

// TestRegularity checks regularity against probabilities known in closed
// form and against its intended behaviour.
func TestRegularity(t *testing.T) {
	// Two exponential intervals: x1/(x1+x2) is uniform on [0,1] and
	// cv = |x1−x2|/(x1+x2), so P(CV ≤ c) = c exactly.
	for _, c := range []float64{1e-5, 1e-6, 3e-5} {
		if got, want := regularity(2, c), -math.Log10(c)-regularityFloor; math.Abs(got-want) > 1e-9 {
			t.Errorf("regularity(2, %g) = %v, want %v", c, got, want)
		}
	}
	// Three intervals: uniform on the triangle of side √2 (area √3/2); the
	// disc of radius c/√3 has area π c²/3.
	c := 1e-4
	if got, want := regularity(3, c), -math.Log10(math.Pi*c*c/3/(math.Sqrt(3)/2))-regularityFloor; math.Abs(got-want) > 1e-9 {
		t.Errorf("regularity(3, %g) = %v, want %v", c, got, want)
	}
	tests := []struct {
		name string
		k    int
		cv   float64
		zero bool
	}{
		{"one interval", 1, 0, true},
		{"Poisson-like", 15, 1, true},
		{"busy human session", 15, 0.5, true},
		{"three nearly equal by chance", 3, 0.045, true},
		{"beacon, 3 intervals", 3, 2e-4, false},
		{"beacon, 15 intervals", 15, 3e-4, false},
	}
	for _, tt := range tests {
		if got := regularity(tt.k, tt.cv); (got == 0) != tt.zero || got < 0 || math.IsNaN(got) {
			t.Errorf("%s: regularity(%d, %g) = %v, want zero %v", tt.name, tt.k, tt.cv, got, tt.zero)
		}
	}
	if a, b := regularity(5, 1e-3), regularity(10, 1e-3); !(b > a) {
		t.Errorf("evidence does not grow with intervals: %v then %v", a, b)
	}
}

// TestDNSNamesPerDomain: RITA's tunnel signal counts names under one
// registered domain, so a host that tunnels through evil.test does not
// lend that count to its ordinary lab.test lookups.
func TestDNSNamesPerDomain(t *testing.T) {
	s := FlowSchema()
	col := s.Index("src_dns_names_60s")
	var lab, evil float64
	at := time.Duration(0)
	var e *Extractor
	query := func(name string, sport uint16) {
		q := frame{src: cli, dst: srv, sport: sport, dport: 53, proto: "udp", data: dnsMsg(t, name, layers.DNSTypeA)}.bytes(t)
		e.Process(q, ci(at, len(q)))
		at += 10 * time.Millisecond
	}
	e2 := NewExtractor(Config{}, func(r *Record) {
		if r.Sport == 30000 {
			lab = r.Vector[col]
		} else if r.Sport == 20119 {
			evil = r.Vector[col]
		}
	})
	e = e2
	for i := 0; i < 120; i++ {
		query(fmt.Sprintf("x%03dqq7zz.evil.test", i), uint16(20000+i))
	}
	query("www.lab.test", 30000)
	query("mail.lab.test", 30001)
	e.Flush()
	if evil < 80 {
		t.Errorf("tunnel flow: %v distinct names under evil.test, want about 120 (64-bit linear counting saturates gently)", evil)
	}
	if lab < 1 || lab > 3 {
		t.Errorf("lab.test flow of the same host: %v names, want 1-2: the tunnel's count leaked", lab)
	}
}
