package features

import (
	"bytes"
	"encoding/binary"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket/layers"
)

// sameDecode decodes frame with the fast path allowed and with the
// DecodingLayerParser path only, and fails if the error, the packet or
// the payload differ. It reports whether the fast path took the frame.
func sameDecode(t testing.TB, fast, slow *decoder, frame []byte) bool {
	t.Helper()
	var pf, ps packet
	_, took := fast.fastIPv4(frame, &packet{})
	ef := fast.decode(frame, layers.LinkTypeEthernet, &pf)
	es := slow.decode(frame, layers.LinkTypeEthernet, &ps)
	if ef != es || pf != ps || !bytes.Equal(fast.payload, slow.payload) {
		t.Fatalf("frame %x:\nfast %v %+v payload %x\nslow %v %+v payload %x", frame, ef, pf, fast.payload, es, ps, slow.payload)
	}
	return took
}

// TestFastPath compares the Ethernet/IPv4/TCP-UDP fast path with the
// parser path on every frame of the test captures, on every truncation
// of some of them, and on frames with each header field that decides the
// path changed: error, packet and payload must be the same.
func TestFastPath(t *testing.T) {
	corpus, _ := filepath.Glob("testdata/corpus/*.pcap")
	pkts := readPackets(t, append([]string{"testdata/lab-head.pcap", "testdata/lab-scan.pcap"}, corpus...)...)
	fast, slow := newDecoder(), newDecoder()
	slow.slowOnly = true
	took, seen := 0, 0
	for i, p := range pkts {
		if p.ci.LinkType != layers.LinkTypeEthernet {
			continue
		}
		seen++
		if sameDecode(t, fast, slow, p.data) {
			took++
		}
		if i%7 != 0 {
			continue
		}
		for n := range len(p.data) {
			sameDecode(t, fast, slow, p.data[:n])
		}
	}
	if seen == 0 || took < seen*9/10 {
		t.Fatalf("fast path took %d of %d Ethernet frames; want most", took, seen)
	}

	// Header fields the fast path tests, each set to the values at its
	// edges, on a TCP, a UDP and a DNS frame.
	base := []frame{
		{src: "10.0.0.1", dst: "10.0.0.2", sport: 1234, dport: 80, proto: "tcp", flags: "PA", payload: 30},
		{src: "10.0.0.1", dst: "10.0.0.2", sport: 1234, dport: 5000, proto: "udp", payload: 30},
		{src: "10.0.0.1", dst: "10.0.0.2", sport: 1234, dport: 53, proto: "udp", data: dnsMsg(t, "www.lab.test", layers.DNSTypeA)},
	}
	type edit struct {
		off  int // from the start of the IP header
		vals []uint16
		wide bool // 16-bit field
	}
	ipEdits := []edit{
		{0, []uint16{0x45, 0x44, 0x46, 0x4f, 0x40, 0x65, 0x05}, false},                 // version/IHL
		{2, []uint16{0, 1, 19, 20, 21, 27, 28, 29, 39, 40, 41, 60, 200, 0xffff}, true}, // total length
		{6, []uint16{0, 0x4000, 0x2000, 0x0001, 0x1fff, 0x8000}, true},                 // flags, fragment offset
		{9, []uint16{6, 17, 1, 0, 41, 4}, false},                                       // protocol
		{32, []uint16{0, 0x10, 0x40, 0x50, 0x60, 0xf0, 0xff}, false},                   // TCP data offset (or UDP payload)
		{24, []uint16{0, 1, 7, 8, 9, 30, 38, 0xffff}, true},                            // UDP length (or TCP seq)
		{12 - 14 + 14, []uint16{0x0800, 0x86dd, 0x8100, 0x0806, 0x05dc}, true},
	}
	for _, fr := range base {
		orig := fr.bytes(t)
		for _, e := range ipEdits {
			for _, v := range e.vals {
				b := bytes.Clone(orig)
				off := 14 + e.off
				if e.off == 12-14+14 { // EtherType
					off = 12
				}
				if e.wide {
					binary.BigEndian.PutUint16(b[off:], v)
				} else {
					b[off] = byte(v)
				}
				sameDecode(t, fast, slow, b)
				sameDecode(t, fast, slow, b[:len(b)-1])
				sameDecode(t, fast, slow, append(b, 0, 0, 0, 0)) // Ethernet padding
			}
		}
	}
}

// FuzzFastPath: on any Ethernet frame the fast path and the parser path
// agree.
func FuzzFastPath(f *testing.F) {
	for _, p := range readPackets(f, "testdata/lab-head.pcap") {
		f.Add(p.data)
	}
	fast, slow := newDecoder(), newDecoder()
	slow.slowOnly = true
	f.Fuzz(func(t *testing.T, frame []byte) {
		sameDecode(t, fast, slow, frame)
	})
}

// TestFrameDecoderNoAllocs: the anomaly pcap's and the packet extractor's
// per-packet decode allocates nothing.
func TestFrameDecoderNoAllocs(t *testing.T) {
	pkts := readPackets(t, "testdata/lab-head.pcap")
	d := NewFrameDecoder()
	var e FrameEndpoints
	var hashed, ip int
	i := 0
	n := testing.AllocsPerRun(5000, func() {
		p := &pkts[i%len(pkts)]
		i++
		if _, ok := d.FlowKeyHash(p.data, p.ci.LinkType); ok {
			hashed++
		}
		if d.Endpoints(p.data, p.ci.LinkType, &e) {
			ip++
		}
	})
	if n != 0 {
		t.Fatalf("%v allocations per frame", n)
	}
	if hashed == 0 || ip < hashed {
		t.Fatalf("%d frames hashed, %d with an IP header", hashed, ip)
	}
}
