package features

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket/layers"
	"github.com/vigil-nids/vigil/capture"
)

// FuzzProcess feeds arbitrary frames, under a link type chosen by the
// fuzzer, through decode and the flow table, then flushes: nothing may
// panic, every record must have a full, finite vector, and the packet
// accounting must balance.
func FuzzProcess(f *testing.F) {
	pkts := readPackets(f, "testdata/lab-head.pcap", "testdata/lab-scan.pcap")
	for i := 0; i < len(pkts); i += 97 {
		f.Add(pkts[i].data, uint16(layers.LinkTypeEthernet), uint8(0))
		f.Add(pkts[i].data[14:], uint16(layers.LinkTypeRaw), uint8(1))
	}
	corpus, _ := filepath.Glob("testdata/corpus/*.pcap")
	for _, p := range readPackets(f, corpus...) {
		f.Add(p.data, uint16(p.ci.LinkType), uint8(3))
	}
	v6 := frame{src: "fd00::1", dst: "fd00::2", sport: 1, dport: 2, proto: "tcp", flags: "S", ext: true, vlans: []uint16{1, 2}}.bytes(f)
	f.Add(v6, uint16(layers.LinkTypeEthernet), uint8(2))
	lts := []layers.LinkType{layers.LinkTypeEthernet, layers.LinkTypeRaw, layers.LinkTypeIPv4, layers.LinkTypeIPv6,
		layers.LinkTypeLinuxSLL, layers.LinkTypeLinuxSLL2, layers.LinkTypeNull, layers.LinkTypeLoop}
	f.Fuzz(func(t *testing.T, data []byte, lt uint16, dt uint8) {
		n := FlowSchema().Len()
		e := NewExtractor(Config{MaxFlows: 4, SnapshotInterval: 1}, func(r *Record) {
			if len(r.Vector) != n {
				t.Fatalf("vector length %d", len(r.Vector))
			}
			for i, v := range r.Vector {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("feature %d = %v", i, v)
				}
			}
		})
		link := layers.LinkType(lt)
		if int(lt) < len(lts) {
			link = lts[lt]
		}
		// The frame, a reply with swapped halves, and the frame again later.
		var ts int64 = 1e18
		for i, d := range [][]byte{data, swapped(data), data} {
			e.Process(d, capture.CaptureInfo{Timestamp: ts + int64(i)*int64(dt)*1e8, LinkType: link, Length: len(d)})
		}
		checkInvariants(t, e)
		e.Flush()
		checkInvariants(t, e)
		s := e.Stats()
		if s.Packets != 3 || e.ActiveFlows() != 0 {
			t.Fatalf("stats %+v", s)
		}
		links := s.ARP.Packets + s.IPv4.Packets + s.IPv6.Packets + s.NonIP.Packets + s.Malformed
		if links != 3 {
			t.Fatalf("link accounting %d != 3: %+v", links, s)
		}
	})
}

// swapped returns data with its bytes reversed in 4-byte blocks past the
// first 12, a cheap way to get a different but related frame.
func swapped(data []byte) []byte {
	b := append([]byte(nil), data...)
	for i := 12; i+8 <= len(b); i += 8 {
		for j := 0; j < 4; j++ {
			b[i+j], b[i+4+j] = b[i+4+j], b[i+j]
		}
	}
	return b
}
