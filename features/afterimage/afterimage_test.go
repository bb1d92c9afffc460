package afterimage

import (
	"math"
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/vigil-nids/vigil/capture"
)

// pk is one synthetic packet of the hand-computed capture.
type pk struct {
	t        float64 // seconds
	src, dst string
	sport    uint16
	dport    uint16
	proto    string // "tcp", "udp", "icmp"
	size     int    // wire length
	srcMAC   byte   // last byte of the source MAC
}

func frame(t testing.TB, p pk) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, p.srcMAC}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 0xee}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, SrcIP: net.ParseIP(p.src).To4(), DstIP: net.ParseIP(p.dst).To4()}
	var l4 gopacket.SerializableLayer
	switch p.proto {
	case "tcp":
		ip.Protocol = layers.IPProtocolTCP
		tcp := &layers.TCP{SrcPort: layers.TCPPort(p.sport), DstPort: layers.TCPPort(p.dport), ACK: true, Window: 1000}
		_ = tcp.SetNetworkLayerForChecksum(ip)
		l4 = tcp
	case "udp":
		ip.Protocol = layers.IPProtocolUDP
		udp := &layers.UDP{SrcPort: layers.UDPPort(p.sport), DstPort: layers.UDPPort(p.dport)}
		_ = udp.SetNetworkLayerForChecksum(ip)
		l4 = udp
	default:
		ip.Protocol = layers.IPProtocolICMPv4
		l4 = &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0)}
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, l4); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// The tiny capture: a TCP socket pair with packets both ways, a UDP
// socket on the same channel, and an ICMP packet to a third host, from
// two MACs.
var tiny = []pk{
	{0.0, "10.0.0.1", "10.0.0.2", 1000, 80, "tcp", 100, 1},
	{0.5, "10.0.0.2", "10.0.0.1", 80, 1000, "tcp", 1500, 2},
	{0.7, "10.0.0.1", "10.0.0.2", 1000, 80, "tcp", 60, 1},
	{1.2, "10.0.0.2", "10.0.0.1", 80, 1000, "tcp", 700, 2},
	{2.0, "10.0.0.1", "10.0.0.2", 1000, 53, "udp", 300, 1},
	{2.25, "10.0.0.1", "10.0.0.3", 0, 0, "icmp", 98, 3},
	{3.0, "10.0.0.1", "10.0.0.2", 1000, 80, "tcp", 1000, 1},
	{3.0, "10.0.0.2", "10.0.0.1", 80, 1000, "tcp", 40, 2},
}

// Expected values, computed in closed form from the definitions over each
// packet's history (not incrementally, as the code does): with
// d_k = 2^(−λ(t−t_k)) for the earlier packets k of a stream,
//
//	w = Σ d_k,  mean = Σ d_k v_k / w,  variance = |Σ d_k v_k² / w − mean²|
//
// and, for a pair of directions, residual r_k = v_k − mean of k's
// direction just after k, cov = Σ_k d_k r_k r'_k / Σ_k d_k over all
// packets k of both directions, r'_k being the last residual of the other
// direction before k (0 if none), and pcc = cov / (σ σ').

type hist struct{ t, v []float64 }

func (h *hist) stats(l, now float64) (w, mean, variance float64) {
	var ls, ss float64
	for k := range h.t {
		d := math.Pow(2, -l*(now-h.t[k]))
		w += d
		ls += d * h.v[k]
		ss += d * h.v[k] * h.v[k]
	}
	if w == 0 {
		return 0, 0, 0
	}
	mean = ls / w
	return w, mean, math.Abs(ss/w - mean*mean)
}

// pairHist is the history of both directions with each packet's direction.
type pairHist struct {
	dir  []int
	t, v []float64
}

func (p *pairHist) expect(l float64, d int, out []float64) {
	now := p.t[len(p.t)-1]
	var side [2]hist
	var res [2]float64
	var cf3, w3 float64
	for k := range p.t {
		dk := p.dir[k]
		side[dk].t = append(side[dk].t, p.t[k])
		side[dk].v = append(side[dk].v, p.v[k])
		_, m, _ := side[dk].stats(l, p.t[k])
		r := p.v[k] - m
		dec := math.Pow(2, -l*(now-p.t[k]))
		cf3 += dec * r * res[1-dk]
		w3 += dec
		res[dk] = r
	}
	w, m, v := side[d].stats(l, now)
	_, om, ov := side[1-d].stats(l, now)
	cov := cf3 / w3
	pcc := 0.0
	if s := math.Sqrt(v) * math.Sqrt(ov); s != 0 {
		pcc = cov / s
	}
	copy(out, []float64{w, m, math.Sqrt(v), math.Sqrt(m*m + om*om), math.Sqrt(v*v + ov*ov), cov, pcc})
}

func TestHandComputed(t *testing.T) {
	x := New(Config{})
	mi := map[string]*hist{}
	host := map[string]*hist{}
	jit := map[string]*hist{}
	ch := map[string]*pairHist{}
	sock := map[string]*pairHist{}
	lastJ := map[string]float64{}
	get := func(m map[string]*hist, k string) *hist {
		if m[k] == nil {
			m[k] = &hist{}
		}
		return m[k]
	}
	getP := func(m map[string]*pairHist, k string) *pairHist {
		if m[k] == nil {
			m[k] = &pairHist{}
		}
		return m[k]
	}
	var got []float64
	for n, p := range tiny {
		ci := capture.CaptureInfo{Timestamp: int64(math.Round(p.t * 1e9)), Length: p.size, LinkType: layers.LinkTypeEthernet}
		data := frame(t, p)
		ci.CaptureLength = len(data)
		var ok bool
		got, ok = x.Process(data, ci, got[:0])
		if !ok || len(got) != NumFeatures {
			t.Fatalf("packet %d: ok=%v len=%d", n, ok, len(got))
		}
		v := float64(p.size)
		want := make([]float64, NumFeatures)
		h := get(mi, p.src+string(rune(p.srcMAC)))
		h.t, h.v = append(h.t, p.t), append(h.v, v)
		for i, l := range Lambdas {
			want[offMI+3*i], want[offMI+3*i+1], want[offMI+3*i+2] = h.stats(l, p.t)
		}
		h = get(host, p.src)
		h.t, h.v = append(h.t, p.t), append(h.v, v)
		for i, l := range Lambdas {
			want[offH+3*i], want[offH+3*i+1], want[offH+3*i+2] = h.stats(l, p.t)
		}
		chKey, d := p.src+">"+p.dst, 0
		if p.dst < p.src { // string order equals byte order for these addresses
			chKey, d = p.dst+">"+p.src, 1
		}
		c := getP(ch, chKey)
		c.dir, c.t, c.v = append(c.dir, d), append(c.t, p.t), append(c.v, v)
		for i, l := range Lambdas {
			c.expect(l, d, want[offHH+7*i:])
		}
		jk := p.src + ">" + p.dst
		gap := 0.0
		if lt, ok := lastJ[jk]; ok {
			gap = p.t - lt
		}
		lastJ[jk] = p.t
		h = get(jit, jk)
		h.t, h.v = append(h.t, p.t), append(h.v, gap)
		for i, l := range Lambdas {
			want[offJit+3*i], want[offJit+3*i+1], want[offJit+3*i+2] = h.stats(l, p.t)
		}
		sk, d := p.src+":"+itoa(p.sport)+">"+p.dst+":"+itoa(p.dport)+p.proto, 0
		if p.dst < p.src {
			sk, d = p.dst+":"+itoa(p.dport)+">"+p.src+":"+itoa(p.sport)+p.proto, 1
		}
		s := getP(sock, sk)
		s.dir, s.t, s.v = append(s.dir, d), append(s.t, p.t), append(s.v, v)
		for i, l := range Lambdas {
			s.expect(l, d, want[offHpHp+7*i:])
		}
		names := Schema().Names()
		for i := range want {
			if !close(got[i], want[i], 1e-9) {
				t.Errorf("packet %d %s: got %.12g, want %.12g", n, names[i], got[i], want[i])
			}
		}
		id := x.Last()
		if id.Src.String() != p.src || id.Dst.String() != p.dst || id.SrcPort != p.sport || id.DstPort != p.dport || id.Timestamp != ci.Timestamp {
			t.Errorf("packet %d: Last() = %+v", n, id)
		}
	}
	// Spot checks by hand (λ = 1, packet 4 is B→A 700 at 1.2 s, after
	// B→A 1500 at 0.5 s): H weight = 1 + 2^−0.7.
	x2 := New(Config{})
	var v []float64
	for _, p := range tiny[:4] {
		ci := capture.CaptureInfo{Timestamp: int64(math.Round(p.t * 1e9)), Length: p.size, LinkType: layers.LinkTypeEthernet}
		v, _ = x2.Process(frame(t, p), ci, v[:0])
	}
	w := 1 + math.Pow(2, -0.7)
	mean := (700 + 1500*math.Pow(2, -0.7)) / w
	if i := Schema().Index("H_L1_weight"); !close(v[i], w, 1e-12) {
		t.Errorf("H_L1_weight = %v, want %v", v[i], w)
	}
	if i := Schema().Index("HH_L1_mean"); !close(v[i], mean, 1e-12) {
		t.Errorf("HH_L1_mean = %v, want %v", v[i], mean)
	}
	// The other direction (A→B: 100 at 0, 60 at 0.7) decayed to 1.2 s.
	wa := math.Pow(2, -1.2) + math.Pow(2, -0.5)
	ma := (100*math.Pow(2, -1.2) + 60*math.Pow(2, -0.5)) / wa
	if i := Schema().Index("HH_L1_magnitude"); !close(v[i], math.Hypot(mean, ma), 1e-12) {
		t.Errorf("HH_L1_magnitude = %v, want %v", v[i], math.Hypot(mean, ma))
	}
	if i := Schema().Index("HH_jit_L1_mean"); !close(v[i], 0.7*1/(1+math.Pow(2, -0.7)), 1e-12) {
		t.Errorf("HH_jit_L1_mean = %v", v[i])
	}
}

func itoa(p uint16) string {
	if p == 0 {
		return "0"
	}
	var b []byte
	for ; p > 0; p /= 10 {
		b = append([]byte{byte('0' + p%10)}, b...)
	}
	return string(b)
}

func close(a, b, tol float64) bool {
	return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b))
}

func TestSchema(t *testing.T) {
	s := Schema()
	if s.Len() != NumFeatures || s.Name != "packet" || s.Version != 1 {
		t.Fatalf("schema %s v%d with %d features", s.Name, s.Version, s.Len())
	}
	seen := map[string]bool{}
	for _, f := range s.Features {
		if seen[f.Name] || f.Unit == "" || f.Description == "" {
			t.Errorf("feature %+v duplicated or incomplete", f)
		}
		seen[f.Name] = true
	}
	for _, tc := range []struct {
		name string
		idx  int
	}{
		{"MI_dir_L5_weight", 0}, {"MI_dir_L0.01_variance", 14}, {"H_L5_weight", 15}, {"H_L3_mean", 19},
		{"HH_L5_weight", 30}, {"HH_L5_magnitude", 33}, {"HH_L5_radius", 34}, {"HH_L0.01_pcc", 64},
		{"HH_jit_L5_weight", 65}, {"HH_jit_L0.01_variance", 79}, {"HpHp_L5_weight", 80}, {"HpHp_L0.01_pcc", 114},
	} {
		if got := s.Index(tc.name); got != tc.idx {
			t.Errorf("Index(%s) = %d, want %d", tc.name, got, tc.idx)
		}
	}
}

func TestNonIP(t *testing.T) {
	x := New(Config{})
	arp := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1}
	for _, tc := range []struct {
		name string
		data []byte
		lt   layers.LinkType
	}{
		{"arp", arp, layers.LinkTypeEthernet},
		{"empty", nil, layers.LinkTypeEthernet},
		{"empty raw", nil, layers.LinkTypeRaw},
		{"unknown link type", frame(t, tiny[0]), layers.LinkType(147)},
		{"truncated ip", frame(t, tiny[0])[:20], layers.LinkTypeEthernet},
	} {
		dst := []float64{42}
		got, ok := x.Process(tc.data, capture.CaptureInfo{Timestamp: 1, Length: len(tc.data), LinkType: tc.lt}, dst)
		if ok || len(got) != 1 || got[0] != 42 {
			t.Errorf("%s: ok=%v len=%d", tc.name, ok, len(got))
		}
	}
	if s := x.Stats(); s.IP != 0 || s.Keys != [4]int{} {
		t.Errorf("non-IP frames changed state: %+v", s)
	}
}

func TestRawIPAndTruncatedTransport(t *testing.T) {
	x := New(Config{})
	f := frame(t, tiny[0])[14:] // raw IPv4
	got, ok := x.Process(f, capture.CaptureInfo{Timestamp: 5, Length: 77, LinkType: layers.LinkTypeRaw}, nil)
	if !ok || got[0] != 1 || got[1] != 77 {
		t.Fatalf("raw ip: ok=%v %v", ok, got[:3])
	}
	if id := x.Last(); id.SrcPort != 1000 || id.Proto != 6 {
		t.Errorf("raw ip identity %+v", id)
	}
	// IP header intact, TCP header cut: a vector with ports 0.
	_, ok = x.Process(f[:24], capture.CaptureInfo{Timestamp: 6, Length: 60, LinkType: layers.LinkTypeRaw}, nil)
	if id := x.Last(); !ok || id.SrcPort != 0 || id.Src.String() != "10.0.0.1" {
		t.Errorf("truncated tcp: ok=%v %+v", ok, id)
	}
}

// A flood of spoofed sources must not grow the tables past MaxKeys.
func TestBoundedState(t *testing.T) {
	const max = 64
	x := New(Config{MaxKeys: max})
	base := frame(t, tiny[0])
	data := append([]byte(nil), base...)
	var v []float64
	for i := range 5000 {
		data[14+12], data[14+13], data[14+14], data[14+15] = 11, byte(i>>16), byte(i>>8), byte(i)
		data[6+5] = byte(i)
		var ok bool
		v, ok = x.Process(data, capture.CaptureInfo{Timestamp: int64(i) * 1000, Length: 60, LinkType: layers.LinkTypeEthernet}, v[:0])
		if !ok {
			t.Fatal("spoofed packet not processed")
		}
		if v[offH] != 1 {
			t.Fatalf("packet %d: new source has H weight %v", i, v[offH])
		}
	}
	s := x.Stats()
	for i, n := range s.Keys {
		if n > max {
			t.Errorf("table %d has %d keys, cap %d", i, n, max)
		}
	}
	if s.Evicted < 4*(5000-max) {
		t.Errorf("evicted %d, want ≥ %d", s.Evicted, 4*(5000-max))
	}
	// A recent source is still tracked: its weight grows.
	v, _ = x.Process(data, capture.CaptureInfo{Timestamp: 5000 * 1000, Length: 60, LinkType: layers.LinkTypeEthernet}, v[:0])
	if v[offH] <= 1.5 {
		t.Errorf("recent source lost: H weight %v", v[offH])
	}
}

// The table keeps every live key findable across evictions and
// backward-shift deletions.
func TestTableLRU(t *testing.T) {
	tb := newTable[int](50, maphashSeed())
	var k key
	for i := range 10000 {
		k[0], k[1] = byte(i), byte(i>>8)
		v, created := tb.get(&k)
		if !created {
			t.Fatalf("key %d found before insertion", i)
		}
		*v = i
		// The 50 most recent keys are all present with their values.
		if i%97 == 0 {
			for j := max(0, i-49); j <= i; j++ {
				var q key
				q[0], q[1] = byte(j), byte(j>>8)
				v, created := tb.get(&q)
				if created || *v != j {
					t.Fatalf("after %d: key %d created=%v v=%d", i, j, created, *v)
				}
			}
		}
	}
	if tb.len() != 50 {
		t.Errorf("len %d", tb.len())
	}
}

func TestNoAllocs(t *testing.T) {
	x := New(Config{})
	frames := make([][]byte, len(tiny))
	for i, p := range tiny {
		frames[i] = frame(t, p)
	}
	dst := make([]float64, 0, NumFeatures)
	ts := int64(0)
	run := func() {
		for i, f := range frames {
			ts += 1e6
			dst, _ = x.Process(f, capture.CaptureInfo{Timestamp: ts, Length: tiny[i].size, LinkType: layers.LinkTypeEthernet}, dst[:0])
		}
	}
	run()
	if a := testing.AllocsPerRun(100, run); a != 0 {
		t.Errorf("%v allocations per %d packets", a, len(frames))
	}
}
