package detect

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/vigil-nids/vigil/capture"
	"github.com/vigil-nids/vigil/features"
)

// frame serializes an Ethernet frame with gopacket (an independent encoder).
func frame(t testing.TB, src, dst string, sport, dport uint16, proto uint8, vlan uint16, payload int) []byte {
	t.Helper()
	s, d := netip.MustParseAddr(src), netip.MustParseAddr(dst)
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}}
	var ls []gopacket.SerializableLayer
	ls = append(ls, eth)
	next := &eth.EthernetType
	if vlan != 0 {
		eth.EthernetType = layers.EthernetTypeDot1Q
		q := &layers.Dot1Q{VLANIdentifier: vlan}
		ls = append(ls, q)
		next = &q.Type
	}
	var nl gopacket.NetworkLayer
	if s.Is4() {
		*next = layers.EthernetTypeIPv4
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocol(proto), SrcIP: s.AsSlice(), DstIP: d.AsSlice()}
		ls, nl = append(ls, ip), ip
	} else {
		*next = layers.EthernetTypeIPv6
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocol(proto), SrcIP: s.AsSlice(), DstIP: d.AsSlice()}
		ls, nl = append(ls, ip), ip
	}
	switch proto {
	case 6:
		tcp := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), SYN: true, Window: 1024}
		tcp.SetNetworkLayerForChecksum(nl)
		ls = append(ls, tcp)
	case 17:
		udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
		udp.SetNetworkLayerForChecksum(nl)
		ls = append(ls, udp)
	case 1:
		ls = append(ls, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: sport})
	}
	ls = append(ls, gopacket.Payload(make([]byte, payload)))
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestPacketKeyHash(t *testing.T) {
	dec := features.NewFrameDecoder()
	cases := []struct {
		name        string
		src, dst    string
		sp, dp      uint16
		proto       uint8
		vlan        uint16
		wantSp, dp2 uint16 // ports as FlowKeyHash sees them
	}{
		{"tcp4", "10.0.0.1", "10.0.0.2", 40000, 80, 6, 0, 40000, 80},
		{"udp4 vlan", "10.0.0.1", "10.0.0.2", 5353, 53, 17, 42, 5353, 53},
		{"tcp6", "2001:db8::1", "2001:db8::2", 1234, 443, 6, 0, 1234, 443},
		{"icmp", "10.0.0.1", "10.0.0.9", 77, 0, 1, 0, 8 << 8, 77},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := features.FlowID{Src: netip.MustParseAddr(c.src), Dst: netip.MustParseAddr(c.dst), Sport: c.wantSp, Dport: c.dp2, Proto: c.proto, VLAN: c.vlan}
			want := features.FlowKeyHash(&id)
			fwd, ok1 := dec.FlowKeyHash(frame(t, c.src, c.dst, c.sp, c.dp, c.proto, c.vlan, 10), layers.LinkTypeEthernet)
			rev, ok2 := dec.FlowKeyHash(frame(t, c.dst, c.src, c.dp, c.sp, c.proto, c.vlan, 10), layers.LinkTypeEthernet)
			if !ok1 || !ok2 || fwd != want || rev != want {
				t.Fatalf("hashes fwd %x (%v) rev %x (%v), want %x", fwd, ok1, rev, ok2, want)
			}
			// Raw IP: the same frame without its Ethernet (and VLAN) header.
			if c.vlan == 0 {
				raw, ok := dec.FlowKeyHash(frame(t, c.src, c.dst, c.sp, c.dp, c.proto, 0, 10)[14:], layers.LinkTypeRaw)
				if !ok || raw != want {
					t.Fatalf("raw IP hash %x, want %x", raw, want)
				}
			}
		})
	}
	if _, ok := dec.FlowKeyHash([]byte{1, 2, 3}, layers.LinkTypeEthernet); ok {
		t.Fatal("short frame hashed")
	}
	f := frame(t, "10.0.0.1", "10.0.0.2", 1, 2, 6, 7, 0)
	if n := testing.AllocsPerRun(1000, func() { dec.FlowKeyHash(f, layers.LinkTypeEthernet) }); n != 0 {
		t.Fatalf("FrameDecoder.FlowKeyHash allocates %v", n)
	}
}

func TestPktRing(t *testing.T) {
	// A 1000-byte arena holding 300-byte packets keeps the last 3.
	r := newPktRing(1000)
	pkt := make([]byte, 300)
	for i := range 10 {
		pkt[0] = byte(i)
		r.push(pkt, &capture.CaptureInfo{Timestamp: int64(i), Length: 300}, uint64(i%2))
		var got []byte
		r.each(func(e *ringEntry, d []byte) {
			if int64(d[0]) != e.ts || len(d) != 300 {
				t.Fatalf("entry ts %d holds packet %d (%d bytes)", e.ts, d[0], len(d))
			}
			got = append(got, d[0])
		})
		want := min(i+1, 3)
		if len(got) != want || got[len(got)-1] != byte(i) {
			t.Fatalf("after %d pushes the ring holds %v", i+1, got)
		}
	}
	// Mixed sizes never overlap: every stored packet reads back intact.
	r = newPktRing(1000)
	for i := range 500 {
		n := 1 + (i*37)%400
		p := bytes.Repeat([]byte{byte(i)}, n)
		r.push(p, &capture.CaptureInfo{Timestamp: int64(i)}, 0)
		r.each(func(e *ringEntry, d []byte) {
			for _, b := range d {
				if b != byte(e.ts) {
					t.Fatalf("packet %d overwritten", e.ts)
				}
			}
		})
	}
}

func TestAnomalyPcapFollow(t *testing.T) {
	// Flow A (10.0.0.1:1000 ↔ 10.0.0.2:80) and flow B interleave; A is
	// marked after its 3rd packet: its 3 earlier packets come from the
	// ring and the later ones follow, up to the per-flow bound of 5. B's
	// packets never appear.
	a := frame(t, "10.0.0.1", "10.0.0.2", 1000, 80, 6, 0, 20)
	aRev := frame(t, "10.0.0.2", "10.0.0.1", 80, 1000, 6, 0, 20)
	b := frame(t, "10.0.0.3", "10.0.0.2", 1000, 80, 6, 0, 20)
	var out bytes.Buffer
	p := newAnomalyPcap(&out, 1<<16, 5)
	ci := func(ts int64, d []byte) *capture.CaptureInfo {
		return &capture.CaptureInfo{Timestamp: ts, CaptureLength: len(d), Length: len(d), LinkType: layers.LinkTypeEthernet}
	}
	seq := [][]byte{a, b, aRev, b, a}
	for i, d := range seq {
		p.packet(d, ci(int64(i), d))
	}
	id := features.FlowID{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), Sport: 1000, Dport: 80, Proto: 6}
	p.mark(features.FlowKeyHash(&id) & flowIDMask)
	for i := range 6 {
		d := [][]byte{a, b}[i%2]
		p.packet(d, ci(int64(10+i), d))
	}
	p.mark(features.FlowKeyHash(&id) & flowIDMask) // a second alert writes nothing twice
	if err := p.close(); err != nil {
		t.Fatal(err)
	}
	r, err := pcapgo.NewReader(&out)
	if err != nil {
		t.Fatal(err)
	}
	var ts []int64
	for {
		d, c, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(d, a) && !bytes.Equal(d, aRev) {
			t.Fatalf("packet at %v is not flow A", c.Timestamp)
		}
		ts = append(ts, c.Timestamp.UnixNano())
	}
	// Ring: 0, 2, 4; followed: 10, 12 (bound 5 reached); 14 dropped.
	want := []int64{0, 2, 4, 10, 12}
	if len(ts) != len(want) {
		t.Fatalf("pcap timestamps %v, want %v", ts, want)
	}
	for i := range want {
		if ts[i] != want[i] {
			t.Fatalf("pcap timestamps %v, want %v", ts, want)
		}
	}
	if p.written != 5 || p.dropped != 1 || r.LinkType() != layers.LinkTypeEthernet {
		t.Fatalf("written %d dropped %d link %v", p.written, p.dropped, r.LinkType())
	}

	// No alert: still a valid, empty pcap.
	out.Reset()
	p = newAnomalyPcap(&out, 1<<10, 5)
	if err := p.close(); err != nil {
		t.Fatal(err)
	}
	if _, err := pcapgo.NewReader(&out); err != nil {
		t.Fatalf("empty anomaly pcap: %v", err)
	}
}

func FuzzPacketKeyHash(f *testing.F) {
	f.Add(frame(f, "10.0.0.1", "10.0.0.2", 1, 2, 6, 0, 4), uint16(layers.LinkTypeEthernet))
	f.Add(frame(f, "2001:db8::1", "2001:db8::2", 1, 2, 17, 9, 4), uint16(layers.LinkTypeEthernet))
	f.Add(frame(f, "10.0.0.1", "10.0.0.2", 1, 2, 1, 0, 4)[14:], uint16(layers.LinkTypeRaw))
	f.Add([]byte{0x60, 0, 0, 0, 0, 8, 0, 64}, uint16(layers.LinkTypeRaw))
	dec := features.NewFrameDecoder()
	f.Fuzz(func(t *testing.T, b []byte, lt uint16) {
		h1, ok1 := dec.FlowKeyHash(b, layers.LinkType(lt))
		h2, ok2 := dec.FlowKeyHash(b, layers.LinkType(lt))
		if h1 != h2 || ok1 != ok2 {
			t.Fatal("not deterministic")
		}
	})
}

// TestPcapKeyMatchesExtractor runs the Extractor over real captures and
// checks that the packets --write-pcap tags with each flow's hash are
// exactly the packets the Extractor counted in that flow: a flow whose
// packets the pcap path hashes differently never reaches the anomaly
// pcap. Each capture is read as recorded (Ethernet) and re-framed as raw
// IP under link types 101, 12 and 14 (the Ethernet header cut off), which
// the Extractor all reads.
func TestPcapKeyMatchesExtractor(t *testing.T) {
	for _, name := range []string{"lab-head.pcap", "lab-scan.pcap"} {
		pkts := readFixture(t, "../features/testdata/"+name)
		for _, lt := range []layers.LinkType{layers.LinkTypeEthernet, layers.LinkTypeRaw, 12, 14} {
			t.Run(fmt.Sprintf("%s/linktype-%d", name, lt), func(t *testing.T) {
				framed := make([]fixturePacket, 0, len(pkts))
				for _, p := range pkts {
					if lt != layers.LinkTypeEthernet {
						if len(p.data) < 14 || (p.data[12] != 0x08 || p.data[13] != 0x00) && (p.data[12] != 0x86 || p.data[13] != 0xdd) {
							continue // not plain IPv4/IPv6 over Ethernet
						}
						p.data = p.data[14:]
					}
					p.ci.LinkType = lt
					framed = append(framed, p)
				}
				want := map[uint64]uint64{} // flow hash → packets the Extractor counted
				e := features.NewExtractor(features.Config{}, func(r *features.Record) {
					if r.Final {
						want[features.FlowKeyHash(&r.FlowID)&flowIDMask] += r.FwdPackets + r.BwdPackets
					}
				})
				got := map[uint64]uint64{}
				dec := features.NewFrameDecoder()
				for _, p := range framed {
					e.Process(p.data, p.ci)
					if h, ok := dec.FlowKeyHash(p.data, lt); ok {
						got[h&flowIDMask]++
					}
				}
				e.Flush()
				if len(want) < 10 {
					t.Fatalf("only %d flows extracted", len(want))
				}
				var lost, short int
				for h, n := range want {
					switch {
					case got[h] == 0:
						lost++
					case got[h] != n:
						short++
					}
				}
				if lost+short > 0 {
					t.Errorf("%d of %d flows have no packet with their hash, %d more a different packet count", lost, len(want), short)
				}
			})
		}
	}
}

type fixturePacket struct {
	data []byte
	ci   capture.CaptureInfo
}

func readFixture(t testing.TB, path string) []fixturePacket {
	t.Helper()
	src, err := capture.Open([]string{path}, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var out []fixturePacket
	for {
		data, ci, err := src.ReadPacket()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fixturePacket{bytes.Clone(data), ci})
	}
}
