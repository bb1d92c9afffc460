package features

import (
	"encoding/binary"
	"math"
	"runtime"
	"testing"
	"time"
)

func TestFirstKind(t *testing.T) {
	for _, c := range []struct {
		name string
		fr   frame
		want int
	}{
		{"tcp syn", frame{src: cli, dst: srv, sport: 40000, dport: 80, proto: "tcp", flags: "S"}, vkTCPSyn},
		{"tcp syn-ack backscatter", frame{src: srv, dst: cli, sport: 80, dport: 40000, proto: "tcp", flags: "SA"}, vkUnsol},
		{"tcp rst backscatter", frame{src: srv, dst: cli, sport: 80, dport: 40000, proto: "tcp", flags: "RA"}, vkUnsol},
		{"tcp mid-stream ack", frame{src: cli, dst: srv, sport: 40000, dport: 80, proto: "tcp", flags: "A"}, vkOther},
		{"udp request", frame{src: cli, dst: srv, sport: 40000, dport: 53, proto: "udp", payload: 30}, vkUDP},
		{"udp dns response to ephemeral", frame{src: srv, dst: cli, sport: 53, dport: 40000, proto: "udp", payload: 300}, vkUnsol},
		{"udp ntp response", frame{src: srv, dst: cli, sport: 123, dport: 80, proto: "udp", payload: 400}, vkUnsol},
		{"udp dns server to server", frame{src: srv, dst: cli, sport: 53, dport: 53, proto: "udp", payload: 40}, vkUDP},
		{"icmp echo request", frame{src: cli, dst: srv, proto: "icmp", icmpType: 8, icmpID: 7}, vkICMP},
		{"icmp echo reply", frame{src: srv, dst: cli, proto: "icmp", icmpType: 0, icmpID: 7}, vkUnsol},
		{"icmp unreachable", frame{src: srv, dst: cli, proto: "icmp", icmpType: 3}, vkUnsol},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := newDecoder()
			var p packet
			b := c.fr.bytes(t)
			if err := d.decode(b, ci(0, len(b)).LinkType, &p); err != ErrNone {
				t.Fatalf("decode: %v", err)
			}
			if k := firstKind(&p); k != c.want {
				t.Fatalf("kind %d, want %d", k, c.want)
			}
		})
	}
}

// TestHLL32 checks the sketch's estimates against the true count, from one
// to a million distinct values (relative error about 18 % at one sigma).
func TestHLL32(t *testing.T) {
	for _, n := range []int{0, 1, 5, 20, 100, 1000, 10_000, 100_000, 1_000_000} {
		var s hll32
		for i := range n {
			s.add(mix64(uint64(i)*0x9e3779b97f4a7c15 + 1))
		}
		got := s.estimate()
		if n == 0 {
			if got != 0 {
				t.Errorf("empty sketch: %v", got)
			}
			continue
		}
		if rel := math.Abs(got-float64(n)) / float64(n); rel > 0.5 {
			t.Errorf("n=%d: estimate %.0f (%.0f%% off)", n, got, 100*rel)
		}
		var m hll32
		m.merge(&s)
		m.merge(&s)
		if m.estimate() != got {
			t.Errorf("n=%d: a sketch merged with itself moved", n)
		}
	}
}

// victimRun feeds a spoofed SYN flood at srv:80 (each SYN answered with a
// SYN-ACK the spoofed source never acknowledges), and during it a benign
// connection from cli to srv:443 with a full handshake, a probe of srv:23
// from one more source, and a SYN to a quiet host; it returns the last
// record of each flow keyed by initiator and destination port.
func victimRun(t *testing.T, sources int) map[[2]uint32]map[string]float64 {
	t.Helper()
	s := FlowSchema()
	out := map[[2]uint32]map[string]float64{}
	e := NewExtractor(Config{}, func(r *Record) {
		if !r.Final {
			return
		}
		a := r.Src.As4()
		m := map[string]float64{}
		for i, f := range s.Features {
			m[f.Name] = r.Vector[i]
		}
		out[[2]uint32{binary.BigEndian.Uint32(a[:]), uint32(r.Dport)}] = m
	})
	syn := frame{src: "1.0.0.0", dst: srv, sport: 1234, dport: 80, proto: "tcp", flags: "S"}.bytes(t)
	synAck := frame{src: srv, dst: "1.0.0.0", sport: 80, dport: 1234, proto: "tcp", flags: "SA"}.bytes(t)
	at := time.Duration(0)
	for i := range sources {
		ip := uint32(0x01000000 + i*7919)
		binary.BigEndian.PutUint32(syn[14+12:], ip)
		binary.BigEndian.PutUint32(synAck[14+16:], ip)
		e.Process(syn, ci(at, len(syn)))
		e.Process(synAck, ci(at+time.Millisecond, len(synAck)))
		at += 100 * time.Microsecond
		if i == sources/2 {
			for j, fr := range []frame{
				{src: cli, dst: srv, sport: 50000, dport: 443, proto: "tcp", flags: "S"},
				{src: srv, dst: cli, sport: 443, dport: 50000, proto: "tcp", flags: "SA"},
				{src: cli, dst: srv, sport: 50000, dport: 443, proto: "tcp", flags: "A"},
				{src: cli, dst: srv, sport: 50000, dport: 443, proto: "tcp", flags: "PA", payload: 200},
				{src: srv, dst: cli, sport: 443, dport: 50000, proto: "tcp", flags: "PA", payload: 900},
				{src: "9.9.9.9", dst: srv, sport: 40000, dport: 23, proto: "tcp", flags: "S"},
				{src: "9.9.9.8", dst: "10.0.0.99", sport: 40000, dport: 22, proto: "tcp", flags: "S"},
				{src: "8.8.8.8", dst: cli, sport: 53, dport: 33333, proto: "udp", payload: 400},
			} {
				b := fr.bytes(t)
				e.Process(b, ci(at+time.Duration(j)*time.Microsecond, len(b)))
			}
		}
	}
	e.Flush()
	return out
}

func ip4(s string) uint32 {
	var a [4]byte
	var n, k int
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			a[k] = byte(n)
			k, n = k+1, 0
			continue
		}
		n = n*10 + int(s[i]-'0')
	}
	return binary.BigEndian.Uint32(a[:])
}

// TestVictimFlood: the flood's flows show the fan-in; the benign
// connection to the same host, a probe of another port of it during the
// flood and a lone SYN elsewhere do not.
func TestVictimFlood(t *testing.T) {
	const n = 20000 // 2 s of flood
	recs := victimRun(t, n)
	flood := recs[[2]uint32{0x01000000 + 100*7919, 80}]
	benign := recs[[2]uint32{ip4(cli), 443}]
	probe := recs[[2]uint32{ip4("9.9.9.9"), 23}]
	lone := recs[[2]uint32{ip4("9.9.9.8"), 22}]
	unsol := recs[[2]uint32{ip4("8.8.8.8"), 33333}]
	for name, r := range map[string]map[string]float64{"flood": flood, "benign": benign, "probe": probe, "lone": lone, "unsolicited": unsol} {
		if r == nil {
			t.Fatalf("no final record of the %s flow", name)
		}
	}
	if v := flood["dst_svc_initiators_10s"]; v < n/2 || v > 2*n {
		t.Errorf("flood flow: dst_svc_initiators_10s %v, want about %d", v, n)
	}
	if v := flood["dst_like_unanswered_share_10s"]; v < 0.99 {
		t.Errorf("flood flow: unanswered share %v", v)
	}
	if v := flood["dst_syn_only_share_10s"]; v > 0.01 {
		t.Errorf("flood flow: syn-only share %v (every SYN got a SYN-ACK)", v)
	}
	if v := flood["dst_like_pkts_in_s_10s"]; v < 500 {
		t.Errorf("flood flow: dst_like_pkts_in_s_10s %v", v)
	}
	for _, name := range victimFeatureNames() {
		if benign[name] != 0 {
			t.Errorf("benign connection to the flooded host: %s = %v, want 0", name, benign[name])
		}
		if lone[name] != 0 {
			t.Errorf("lone SYN to a quiet host: %s = %v, want 0", name, lone[name])
		}
	}
	// The probe of port 23 shares the host's fan-in but not the flooded
	// service's.
	if v := probe["dst_svc_initiators_10s"]; v != 0 {
		t.Errorf("probe of another port: dst_svc_initiators_10s %v, want 0", v)
	}
	if v := probe["dst_like_initiators_10s"]; v < n/2 {
		t.Errorf("probe of another port: dst_like_initiators_10s %v, want the host's", v)
	}
	if unsol["unsolicited_response"] != 1 || flood["unsolicited_response"] != 0 || benign["unsolicited_response"] != 0 {
		t.Errorf("unsolicited_response: DNS answer out of nowhere %v, flood SYN %v, benign %v",
			unsol["unsolicited_response"], flood["unsolicited_response"], benign["unsolicited_response"])
	}
}

func victimFeatureNames() []string {
	var n []string
	for _, f := range victimFeatures {
		if f.Name != "unsolicited_response" {
			n = append(n, f.Name)
		}
	}
	return n
}

// TestVictimFloodBounded: a flood from 1.2 million distinct spoofed sources
// keeps the heap flat once the bounded tables are full, and steady-state
// packets allocate nothing.
func TestVictimFloodBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("1.2M packets; run without -short")
	}
	cfg := Config{MaxFlows: 1 << 16, MaxHosts: 1 << 14, MaxServices: 1 << 14, MaxResponders: 1 << 10, SnapshotInterval: 5 * time.Second}
	e := NewExtractor(cfg, func(*Record) {})
	b := frame{src: "1.0.0.0", dst: srv, sport: 1234, dport: 80, proto: "udp", payload: 20}.bytes(t)
	i := 0
	step := func() {
		binary.BigEndian.PutUint32(b[14+12:], uint32(0x01000000+i))
		binary.BigEndian.PutUint32(b[14+16:], uint32(0x0a000000+i%4096)) // 4096 victims > MaxResponders
		e.Process(b, ci(time.Duration(i)*2*time.Microsecond, len(b)))
		i++
	}
	heap := func() uint64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	for range 400_000 {
		step()
	}
	h1 := heap()
	for range 800_000 {
		step()
	}
	h2 := heap()
	if h2 > h1+h1/10 {
		t.Errorf("heap grew from %d to %d bytes between 400k and 1.2M spoofed sources", h1, h2)
	}
	if e.ctx.resps.live > cfg.MaxResponders || e.ctx.resps.evicted == 0 {
		t.Errorf("responders live %d (cap %d), evicted %d", e.ctx.resps.live, cfg.MaxResponders, e.ctx.resps.evicted)
	}
	if n := testing.AllocsPerRun(20000, step); n != 0 {
		t.Errorf("%v allocations per packet", n)
	}
	t.Logf("heap %d -> %d bytes; %d responders, %d evicted", h1, h2, e.ctx.resps.live, e.ctx.resps.evicted)
}
