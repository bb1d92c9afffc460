package features

import (
	"math"
	"path/filepath"
	"strings"
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
	// Application payloads the hint parsers read: DNS over UDP and TCP
	// (a tunnel-like name), HTTP requests (sqlmap-like, traversal, split
	// headers) and a response, FTP, POP3, IMAP, SSH banners, a TLS
	// ClientHello start.
	tunnel := "mfzwizltoq2gk3tfmvzgc3djnzsxg4dp.ojxgcyloorsxg5dbnvqxezlp.t.evil.test"
	cli, srv := "10.0.0.1", "10.0.0.2"
	for _, fr := range []frame{
		{src: cli, dst: srv, sport: 5353, dport: 53, proto: "udp", data: dnsMsg(f, tunnel, layers.DNSTypeTXT)},
		{src: cli, dst: srv, sport: 5353, dport: 53, proto: "udp", data: dnsMsg(f, "www.lab.test", layers.DNSTypeA)},
		{src: cli, dst: srv, sport: 40000, dport: 53, proto: "tcp", flags: "PA", data: append([]byte{0, 60}, dnsMsg(f, tunnel, layers.DNSTypeNULL)...)},
		{src: cli, dst: srv, sport: 40001, dport: 8080, proto: "tcp", flags: "PA", data: []byte("GET /item?id=1%20AND%201234%3D1234--%20-&x=UNION+ALL+SELECT+NULL%2CCHAR(113)%2CCONCAT(0x71) HTTP/1.1\r\nHost: a\r\nUser-Agent: sqlmap/1.7#stable\r\n\r\n")},
		{src: cli, dst: srv, sport: 40002, dport: 80, proto: "tcp", flags: "PA", data: []byte("POST /a/../../etc/passwd HTTP/1.1\r\nAuthorization: Basic eDp5\r\nContent-Length: 20\r\n\r\nq=1' OR 'a'='a' -- ")},
		{src: cli, dst: srv, sport: 40003, dport: 80, proto: "tcp", flags: "PA", data: []byte("GET /" + strings.Repeat("%27", 600) + " HTTP/1.1\r\nUser-")},
		{src: srv, dst: cli, sport: 80, dport: 40003, proto: "tcp", flags: "PA", data: []byte("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n")},
		{src: cli, dst: srv, sport: 40004, dport: 21, proto: "tcp", flags: "PA", data: []byte("PASS secret\r\n")},
		{src: srv, dst: cli, sport: 21, dport: 40004, proto: "tcp", flags: "PA", data: []byte("331 ok\r\n530 Login incorrect.\r\n")},
		{src: srv, dst: cli, sport: 110, dport: 40005, proto: "tcp", flags: "PA", data: []byte("-ERR auth\r\n")},
		{src: cli, dst: srv, sport: 40006, dport: 143, proto: "tcp", flags: "PA", data: []byte("a1 LOGIN u p\r\n")},
		{src: cli, dst: srv, sport: 40007, dport: 22, proto: "tcp", flags: "PA", data: []byte("SSH-2.0-libssh_0.9.6\r\n")},
		{src: cli, dst: srv, sport: 40008, dport: 443, proto: "tcp", flags: "PA", data: []byte{0x16, 3, 1, 0, 60, 1, 0, 0, 56, 3, 3}},
	} {
		f.Add(fr.bytes(f), uint16(layers.LinkTypeEthernet), uint8(1))
	}
	lts := []layers.LinkType{layers.LinkTypeEthernet, layers.LinkTypeRaw, layers.LinkTypeIPv4, layers.LinkTypeIPv6,
		layers.LinkTypeLinuxSLL, layers.LinkTypeLinuxSLL2, layers.LinkTypeNull, layers.LinkTypeLoop}
	f.Fuzz(func(t *testing.T, data []byte, lt uint16, dt uint8) {
		n := FlowSchema().Len()
		e := NewExtractor(Config{MaxFlows: 4, SnapshotInterval: 1, Usernames: true}, func(r *Record) {
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
