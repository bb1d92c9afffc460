package features

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"os"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/vigil-nids/vigil/capture"
)

// TestTsharkConversations cross-checks flow and packet counts against
// tshark's conversation tables for the same capture
// (testdata/lab-head.tshark-conv.txt). tshark keys a conversation by its
// 5-tuple over the whole file, without timeouts; we sum our records per
// unordered 5-tuple to compare. Differences by design:
//   - tshark's Bytes are frame lengths; ours are IP-layer lengths, so per
//     conversation tshark's bytes minus ours lie between 14 (Ethernet
//     header) and 20 (header + padding of a 40-byte IP packet to the
//     60-byte Ethernet minimum) bytes per packet.
//   - ICMP and ARP are not in conv,tcp/conv,udp; we check only TCP/UDP.
func TestTsharkConversations(t *testing.T) {
	recs, _ := extractAll(Config{}, readPackets(t, "testdata/lab-head.pcap"))
	type agg struct{ pkts, bytes uint64 }
	ours := map[string]agg{}
	key := func(proto string, a string, ap int, b string, bp int) string {
		x, y := fmt.Sprintf("%s:%d", a, ap), fmt.Sprintf("%s:%d", b, bp)
		if x > y {
			x, y = y, x
		}
		return proto + " " + x + " " + y
	}
	for _, r := range recs {
		var p string
		switch r.Proto {
		case 6:
			p = "tcp"
		case 17:
			p = "udp"
		default:
			continue
		}
		k := key(p, r.Src.String(), int(r.Sport), r.Dst.String(), int(r.Dport))
		a := ours[k]
		a.pkts += r.FwdPackets + r.BwdPackets
		a.bytes += r.FwdBytes + r.BwdBytes
		ours[k] = a
	}
	f, err := os.Open("testdata/lab-head.tshark-conv.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	unit := `(?:bytes|kB|MB)`
	line := regexp.MustCompile(`^(\S+):(\d+)\s+<->\s+(\S+):(\d+)\s+\d+ \d+ ` + unit + `\s+\d+ \d+ ` + unit + `\s+(\d+) (\d+) (bytes|kB|MB)`)
	proto, n := "", 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		s := sc.Text()
		switch {
		case strings.HasPrefix(s, "TCP Conversations"):
			proto = "tcp"
		case strings.HasPrefix(s, "UDP Conversations"):
			proto = "udp"
		}
		m := line.FindStringSubmatch(s)
		if m == nil {
			continue
		}
		ap, _ := strconv.Atoi(m[2])
		bp, _ := strconv.Atoi(m[4])
		k := key(proto, m[1], ap, m[3], bp)
		frames, _ := strconv.ParseUint(m[5], 10, 64)
		bytes, _ := strconv.ParseUint(m[6], 10, 64)
		slack := uint64(0) // tshark rounds to whole kB from 10,000 bytes on
		switch m[7] {
		case "kB":
			bytes, slack = bytes*1000, 1000
		case "MB":
			bytes, slack = bytes*1000_000, 1000_000
		}
		a, ok := ours[k]
		if !ok {
			t.Errorf("tshark conversation %s not among our flows", k)
			continue
		}
		n++
		if a.pkts != frames {
			t.Errorf("%s: %d packets, tshark %d", k, a.pkts, frames)
		}
		if d := int64(bytes) - int64(a.bytes); d < 14*int64(frames)-int64(slack) || d > 20*int64(frames)+int64(slack) {
			t.Errorf("%s: %d IP bytes, tshark %d frame bytes (diff %d for %d frames)", k, a.bytes, bytes, d, frames)
		}
		delete(ours, k)
	}
	if n == 0 {
		t.Fatal("no conversations parsed from the tshark fixture")
	}
	for k := range ours {
		t.Errorf("our flow %s not in tshark's conversations", k)
	}
}

// TestCommunityIDTshark compares our Community IDs with tshark's
// (testdata/lab-head.tshark-cid.txt: tshark --enable-protocol communityid
// -Y "tcp or udp or icmp" -T fields -e communityid | sort -u).
func TestCommunityIDTshark(t *testing.T) {
	recs, _ := extractAll(Config{CommunityID: true}, readPackets(t, "testdata/lab-head.pcap"))
	want := map[string]bool{}
	for _, l := range strings.Fields(string(mustRead(t, "testdata/lab-head.tshark-cid.txt"))) {
		want[l] = true
	}
	got := map[string]bool{}
	for _, r := range recs {
		got[r.CommunityID] = true
		if !want[r.CommunityID] {
			t.Errorf("flow %v %s:%d > %s:%d: community id %s not in tshark's", r.Proto, r.Src, r.Sport, r.Dst, r.Dport, r.CommunityID)
		}
	}
	for id := range want {
		if !got[id] {
			t.Errorf("tshark community id %s not produced", id)
		}
	}
}

// frame builds an Ethernet frame (optionally VLAN-tagged) with an IPv4 or
// IPv6 packet and the given transport layer.
type frame struct {
	src, dst     string
	sport, dport uint16
	proto        string // tcp, udp, icmp, icmp6
	flags        string // tcp flags: S A F R P
	payload      int
	data         []byte // payload bytes; when set, payload is ignored
	vlans        []uint16
	icmpType     uint8
	icmpID       uint16
	ext          bool // IPv6: hop-by-hop + destination options + fragment(offset 0) headers
}

func (fr frame) bytes(t testing.TB) []byte {
	t.Helper()
	src, dst := netip.MustParseAddr(fr.src), netip.MustParseAddr(fr.dst)
	var ls []gopacket.SerializableLayer
	eth := &layers.Ethernet{SrcMAC: []byte{2, 0, 0, 0, 0, 1}, DstMAC: []byte{2, 0, 0, 0, 0, 2}}
	ls = append(ls, eth)
	ipType := layers.EthernetTypeIPv4
	if src.Is6() {
		ipType = layers.EthernetTypeIPv6
	}
	if len(fr.vlans) > 0 {
		eth.EthernetType = layers.EthernetTypeQinQ
		if len(fr.vlans) == 1 {
			eth.EthernetType = layers.EthernetTypeDot1Q
		}
		for i, v := range fr.vlans {
			next := layers.EthernetTypeDot1Q
			if i == len(fr.vlans)-1 {
				next = ipType
			}
			ls = append(ls, &layers.Dot1Q{VLANIdentifier: v, Type: next})
		}
	} else {
		eth.EthernetType = ipType
	}
	var l4proto layers.IPProtocol
	switch fr.proto {
	case "tcp":
		l4proto = layers.IPProtocolTCP
	case "udp":
		l4proto = layers.IPProtocolUDP
	case "icmp":
		l4proto = layers.IPProtocolICMPv4
	case "icmp6":
		l4proto = layers.IPProtocolICMPv6
	}
	var nl gopacket.NetworkLayer
	if src.Is4() {
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: l4proto, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
		ls = append(ls, ip)
		nl = ip
	} else {
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: l4proto, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
		ls = append(ls, ip)
		nl = ip
		if fr.ext {
			ip.NextHeader = layers.IPProtocolIPv6HopByHop
			// hop-by-hop (8 bytes, PadN) → destination options (8) → fragment (8, offset 0) → l4
			ext := []byte{
				byte(layers.IPProtocolIPv6Destination), 0, 1, 4, 0, 0, 0, 0,
				byte(layers.IPProtocolIPv6Fragment), 0, 1, 4, 0, 0, 0, 0,
				byte(l4proto), 0, 0, 0, 0, 0, 0, 1,
			}
			ls = append(ls, gopacket.Payload(ext))
			nl = nil
		}
	}
	pay := gopacket.Payload(make([]byte, fr.payload))
	if fr.data != nil {
		pay = gopacket.Payload(fr.data)
	}
	switch fr.proto {
	case "tcp":
		tcp := &layers.TCP{SrcPort: layers.TCPPort(fr.sport), DstPort: layers.TCPPort(fr.dport), Window: 1000 + fr.sport, DataOffset: 5}
		for _, c := range fr.flags {
			switch c {
			case 'S':
				tcp.SYN = true
			case 'A':
				tcp.ACK = true
			case 'F':
				tcp.FIN = true
			case 'R':
				tcp.RST = true
			case 'P':
				tcp.PSH = true
			}
		}
		if nl != nil {
			tcp.SetNetworkLayerForChecksum(nl)
		}
		ls = append(ls, tcp)
	case "udp":
		udp := &layers.UDP{SrcPort: layers.UDPPort(fr.sport), DstPort: layers.UDPPort(fr.dport)}
		if nl != nil {
			udp.SetNetworkLayerForChecksum(nl)
		}
		ls = append(ls, udp)
	case "icmp":
		ls = append(ls, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(fr.icmpType, 0), Id: fr.icmpID})
	case "icmp6":
		ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(fr.icmpType, 0)}
		if nl != nil {
			ic.SetNetworkLayerForChecksum(nl)
		}
		ls = append(ls, ic, gopacket.Payload(binary.BigEndian.AppendUint16(nil, fr.icmpID)), gopacket.Payload{0, 1})
	}
	ls = append(ls, pay)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: nl != nil}, ls...); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if src.Is6() && fr.ext {
		// FixLengths set the IPv6 payload length over ext+l4; nothing else to do.
		_ = b
	}
	return append([]byte(nil), b...)
}

const t0 = int64(1_700_000_000) * 1e9

func ci(ts time.Duration, n int) capture.CaptureInfo {
	return capture.CaptureInfo{Timestamp: t0 + int64(ts), CaptureLength: n, Length: n, LinkType: layers.LinkTypeEthernet}
}

type step struct {
	at time.Duration
	fr frame
}

func run(t *testing.T, cfg Config, steps []step, flush bool) ([]Record, *Extractor) {
	t.Helper()
	var out []Record
	e := NewExtractor(cfg, func(r *Record) {
		c := *r
		c.Vector = append([]float64(nil), r.Vector...)
		out = append(out, c)
	})
	for _, s := range steps {
		b := s.fr.bytes(t)
		e.Process(b, ci(s.at, len(b)))
		checkInvariants(t, e)
	}
	if flush {
		e.Flush()
	}
	return out, e
}

var (
	cli = "10.0.0.1"
	srv = "10.0.0.2"
)

func tcp(src, dst string, sp, dp uint16, flags string, pay int) frame {
	return frame{src: src, dst: dst, sport: sp, dport: dp, proto: "tcp", flags: flags, payload: pay}
}

func handshakeAndClose(at time.Duration, sp uint16) []step {
	ms := time.Millisecond
	return []step{
		{at, tcp(cli, srv, sp, 80, "S", 0)},
		{at + 1*ms, tcp(srv, cli, 80, sp, "SA", 0)},
		{at + 2*ms, tcp(cli, srv, sp, 80, "A", 0)},
		{at + 3*ms, tcp(cli, srv, sp, 80, "PA", 100)},
		{at + 4*ms, tcp(srv, cli, 80, sp, "PA", 1000)},
		{at + 5*ms, tcp(cli, srv, sp, 80, "FA", 0)},
		{at + 6*ms, tcp(srv, cli, 80, sp, "FA", 0)},
		{at + 7*ms, tcp(cli, srv, sp, 80, "A", 0)},
	}
}

func TestFlowTable(t *testing.T) {
	ms, s := time.Millisecond, time.Second
	type check struct {
		recs    int
		reasons []EndReason
		fwd     []uint64 // fwd packets per record
		bwd     []uint64
		seqs    []uint32
		src     string // src of the first record
		sport   uint16
		dport   uint16
		vlan    uint16
		vals    map[string]float64 // features of the first record
	}
	cases := []struct {
		name  string
		cfg   Config
		steps []step
		flush bool
		want  check
	}{
		{
			name: "handshake, data, FIN both ways: one flow, closed after the grace",
			steps: append(handshakeAndClose(0, 40000),
				step{3 * s, tcp("10.9.9.9", "10.9.9.8", 1, 2, "S", 0)}), // advances time past the grace
			want: check{recs: 1, reasons: []EndReason{EndFIN}, fwd: []uint64{5}, bwd: []uint64{3}, src: cli, sport: 40000, dport: 80,
				vals: map[string]float64{"tcp_established": 1, "tcp_closed": 1, "fin_flag_cnt": 2, "syn_flag_cnt": 2, "syn_ack_cnt": 1,
					"fwd_pkt_len_max": 100, "bwd_pkt_len_max": 1000, "flow_duration": 0.007, "init_fwd_win_byts": 41000, "init_bwd_win_byts": 1080,
					"dport_well_known": 1, "proto_tcp": 1, "down_up_ratio": 0.6, "fwd_header_len": 5 * 40, "fwd_bytes": 5*40 + 100}},
		},
		{
			name: "first packet's sender is forward even when it is the server",
			steps: []step{
				{0, tcp(srv, cli, 80, 40000, "A", 10)},
				{ms, tcp(cli, srv, 40000, 80, "A", 0)},
			},
			flush: true,
			want:  check{recs: 1, reasons: []EndReason{EndFlush}, fwd: []uint64{1}, bwd: []uint64{1}, src: srv, sport: 80, dport: 40000, vals: map[string]float64{"tcp_midstream": 1, "dport_registered": 1}},
		},
		{
			name: "RST ends the flow after the grace",
			steps: []step{
				{0, tcp(cli, srv, 40001, 81, "S", 0)},
				{ms, tcp(srv, cli, 81, 40001, "RA", 0)},
				{5 * s, tcp("10.9.9.9", "10.9.9.8", 1, 2, "S", 0)},
			},
			want: check{recs: 1, reasons: []EndReason{EndRST}, fwd: []uint64{1}, bwd: []uint64{1}, vals: map[string]float64{"tcp_reset": 1, "tcp_syn_only": 1, "rst_flag_cnt": 1}},
		},
		{
			name: "packet after the grace starts a new flow; single-packet flows are kept",
			steps: []step{
				{0, tcp(cli, srv, 40002, 80, "S", 0)},
				{ms, tcp(srv, cli, 80, 40002, "R", 0)},
				{3 * s, tcp(cli, srv, 40002, 80, "A", 0)},
			},
			flush: true,
			want:  check{recs: 2, reasons: []EndReason{EndRST, EndFlush}, fwd: []uint64{1, 1}, bwd: []uint64{1, 0}},
		},
		{
			name: "idle timeout splits and emits",
			steps: []step{
				{0, frame{src: cli, dst: srv, sport: 5000, dport: 53, proto: "udp", payload: 30}},
				{ms, frame{src: srv, dst: cli, sport: 53, dport: 5000, proto: "udp", payload: 60}},
				{62 * s, frame{src: cli, dst: srv, sport: 5000, dport: 53, proto: "udp", payload: 30}},
			},
			flush: true,
			want: check{recs: 2, reasons: []EndReason{EndIdle, EndFlush}, fwd: []uint64{1, 1}, bwd: []uint64{1, 0}, seqs: []uint32{0, 0},
				vals: map[string]float64{"proto_udp": 1, "fwd_pkt_len_mean": 30, "bwd_pkt_len_mean": 60, "fwd_bytes": 20 + 8 + 30}},
		},
		{
			name: "active timeout splits a long flow into records with growing Seq",
			cfg:  Config{ActiveTimeout: 10 * s},
			steps: func() []step {
				var st []step
				for i := range 25 {
					st = append(st, step{time.Duration(i) * s, frame{src: cli, dst: srv, sport: 5001, dport: 514, proto: "udp", payload: 10}})
				}
				return st
			}(),
			flush: true,
			want: check{recs: 3, reasons: []EndReason{EndActive, EndActive, EndFlush}, fwd: []uint64{10, 10, 5}, bwd: []uint64{0, 0, 0}, seqs: []uint32{0, 1, 2},
				vals: map[string]float64{"flow_duration": 9, "flow_iat_mean": 1, "flow_iat_std": 0, "fwd_iat_max": 1, "bwd_iat_max": 0, "dport_well_known": 1}},
		},
		{
			name: "a closing flow that outlives the active timeout continues as an open record",
			cfg:  Config{ActiveTimeout: 2 * s},
			steps: []step{
				{0, tcp(cli, srv, 40003, 80, "R", 0)},
				{500 * ms, tcp(cli, srv, 40003, 80, "R", 0)},
				{1000 * ms, tcp(cli, srv, 40003, 80, "R", 0)},
				{1500 * ms, tcp(cli, srv, 40003, 80, "R", 0)},
				{2000 * ms, tcp(cli, srv, 40003, 80, "A", 0)},
				{2500 * ms, tcp(cli, srv, 40003, 80, "A", 0)},
				{2600 * ms, tcp(cli, srv, 40004, 80, "A", 0)},
			},
			flush: true,
			want:  check{recs: 3, reasons: []EndReason{EndActive, EndFlush, EndFlush}, fwd: []uint64{4, 2, 1}, bwd: []uint64{0, 0, 0}, seqs: []uint32{0, 1, 0}},
		},
		{
			name: "ICMP echo request and reply share a flow keyed by id; another id is another flow",
			steps: []step{
				{0, frame{src: cli, dst: srv, proto: "icmp", icmpType: 8, icmpID: 7, payload: 56}},
				{ms, frame{src: srv, dst: cli, proto: "icmp", icmpType: 0, icmpID: 7, payload: 56}},
				{2 * ms, frame{src: cli, dst: srv, proto: "icmp", icmpType: 8, icmpID: 8, payload: 56}},
			},
			flush: true,
			want:  check{recs: 2, fwd: []uint64{1, 1}, bwd: []uint64{1, 0}, sport: 8 << 8, dport: 7, vals: map[string]float64{"proto_icmp": 1, "dport_well_known": 0}},
		},
		{
			name: "ICMPv6 echo with IPv6 extension headers",
			steps: []step{
				{0, frame{src: "fd00::1", dst: "fd00::2", proto: "icmp6", icmpType: 128, icmpID: 9, payload: 8, ext: true}},
				{ms, frame{src: "fd00::2", dst: "fd00::1", proto: "icmp6", icmpType: 129, icmpID: 9, payload: 8}},
			},
			flush: true,
			want:  check{recs: 1, fwd: []uint64{1}, bwd: []uint64{1}, src: "fd00::1", sport: 128 << 8, dport: 9, vals: map[string]float64{"proto_icmp": 1, "fwd_header_len": 40 + 24 + 8}},
		},
		{
			name: "TCP over IPv6 extension headers",
			steps: []step{
				{0, frame{src: "fd00::1", dst: "fd00::2", sport: 1234, dport: 443, proto: "tcp", flags: "S", ext: true}},
				{ms, frame{src: "fd00::2", dst: "fd00::1", sport: 443, dport: 1234, proto: "tcp", flags: "SA"}},
			},
			flush: true,
			want:  check{recs: 1, fwd: []uint64{1}, bwd: []uint64{1}, sport: 1234, dport: 443, vals: map[string]float64{"tcp_half_open": 1, "fwd_header_len": 40 + 24 + 20, "bwd_header_len": 60}},
		},
		{
			name: "VLANs separate flows; QinQ keys on the outer tag",
			steps: []step{
				{0, frame{src: cli, dst: srv, sport: 1, dport: 2, proto: "udp", vlans: []uint16{10}}},
				{ms, frame{src: srv, dst: cli, sport: 2, dport: 1, proto: "udp", vlans: []uint16{20}}},
				{2 * ms, frame{src: cli, dst: srv, sport: 1, dport: 2, proto: "udp", vlans: []uint16{30, 10}}},
			},
			flush: true,
			want:  check{recs: 3, fwd: []uint64{1, 1, 1}, bwd: []uint64{0, 0, 0}, vlan: 10},
		},
		{
			name: "table full: the oldest idle flow is evicted",
			cfg:  Config{MaxFlows: 2},
			steps: []step{
				{0, frame{src: cli, dst: srv, sport: 1, dport: 2, proto: "udp"}},
				{ms, frame{src: cli, dst: srv, sport: 3, dport: 4, proto: "udp"}},
				{2 * ms, frame{src: cli, dst: srv, sport: 1, dport: 2, proto: "udp"}}, // 1→2 is now the newest
				{3 * ms, frame{src: cli, dst: srv, sport: 5, dport: 6, proto: "udp"}}, // evicts 3→4
			},
			flush: true,
			want:  check{recs: 3, reasons: []EndReason{EndEvicted, EndFlush, EndFlush}, fwd: []uint64{1, 2, 1}, bwd: []uint64{0, 0, 0}, sport: 3, dport: 4},
		},
		{
			name: "out-of-order timestamps are clamped to the flow's time",
			steps: []step{
				{time.Second, frame{src: cli, dst: srv, sport: 1, dport: 2, proto: "udp"}},
				{0, frame{src: srv, dst: cli, sport: 2, dport: 1, proto: "udp"}},
				{2 * time.Second, frame{src: cli, dst: srv, sport: 1, dport: 2, proto: "udp"}},
			},
			flush: true,
			want:  check{recs: 1, fwd: []uint64{2}, bwd: []uint64{1}, vals: map[string]float64{"flow_duration": 1, "flow_iat_min": 0, "flow_iat_max": 1, "bwd_iat_max": 0}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			recs, e := run(t, tc.cfg, tc.steps, tc.flush)
			w := tc.want
			if len(recs) != w.recs {
				for _, r := range recs {
					t.Logf("%+v", r.FlowID)
				}
				t.Fatalf("%d records, want %d", len(recs), w.recs)
			}
			for i, r := range recs {
				if !r.Final {
					t.Errorf("record %d not final", i)
				}
				if len(r.Vector) != FlowSchema().Len() {
					t.Fatalf("vector length %d, schema %d", len(r.Vector), FlowSchema().Len())
				}
				if w.reasons != nil && r.Reason != w.reasons[i] {
					t.Errorf("record %d reason %v, want %v", i, r.Reason, w.reasons[i])
				}
				if r.FwdPackets != w.fwd[i] || r.BwdPackets != w.bwd[i] {
					t.Errorf("record %d packets fwd %d bwd %d, want %d %d", i, r.FwdPackets, r.BwdPackets, w.fwd[i], w.bwd[i])
				}
				if w.seqs != nil && r.Seq != w.seqs[i] {
					t.Errorf("record %d seq %d, want %d", i, r.Seq, w.seqs[i])
				}
				if r.Start > r.End {
					t.Errorf("record %d starts after it ends", i)
				}
			}
			r := &recs[0]
			if w.src != "" && r.Src.String() != w.src {
				t.Errorf("src %v, want %s", r.Src, w.src)
			}
			if w.sport != 0 && (r.Sport != w.sport || r.Dport != w.dport) {
				t.Errorf("ports %d→%d, want %d→%d", r.Sport, r.Dport, w.sport, w.dport)
			}
			if r.VLAN != w.vlan {
				t.Errorf("vlan %d, want %d", r.VLAN, w.vlan)
			}
			for name, want := range w.vals {
				if got := value(t, r, name); math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
					t.Errorf("%s = %v, want %v", name, got, want)
				}
			}
			if e.ActiveFlows() != 0 && tc.flush {
				t.Errorf("%d flows left after Flush", e.ActiveFlows())
			}
		})
	}
}

func TestStatsPerProtocol(t *testing.T) {
	pkts := readPackets(t, "testdata/lab-head.pcap")
	recs, e := extractAll(Config{}, pkts)
	s := e.Stats()
	if s.Packets != uint64(len(pkts)) {
		t.Errorf("packets %d, want %d", s.Packets, len(pkts))
	}
	// Independent counts: tshark -r lab-head.pcap -q -z io,phs gives
	// 1200 frames, arp 2, ip 1198 (tcp 1112, udp 82, icmp 4).
	want := map[string]uint64{"arp": 2, "ipv4": 1198, "tcp": 1112, "udp": 82, "icmp": 4}
	got := map[string]uint64{"arp": s.ARP.Packets, "ipv4": s.IPv4.Packets, "tcp": s.TCP.Packets, "udp": s.UDP.Packets, "icmp": s.ICMP.Packets}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s packets %d, want %d", k, got[k], v)
		}
	}
	var inFlows uint64
	for _, r := range recs {
		inFlows += r.FwdPackets + r.BwdPackets
	}
	if inFlows != s.IPv4.Packets+s.IPv6.Packets-s.Fragments {
		t.Errorf("%d packets in flows, %d IP packets", inFlows, s.IPv4.Packets+s.IPv6.Packets)
	}
	if s.FlowsEmitted != uint64(len(recs)) || s.Malformed != 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestDecodeTwice decodes different frames into the same decoder: state
// from the first must not leak into the second (stale buffers).
func TestDecodeTwice(t *testing.T) {
	d := newDecoder()
	v6 := frame{src: "fd00::1", dst: "fd00::2", sport: 1234, dport: 443, proto: "tcp", flags: "S", ext: true, vlans: []uint16{5}}.bytes(t)
	v4 := frame{src: cli, dst: srv, sport: 7, dport: 9, proto: "udp", payload: 3}.bytes(t)
	var a, b, c packet
	if err := d.decode(v6, layers.LinkTypeEthernet, &a); err != ErrNone {
		t.Fatal(err)
	}
	if err := d.decode(v4, layers.LinkTypeEthernet, &b); err != ErrNone {
		t.Fatal(err)
	}
	if err := d.decode(v6, layers.LinkTypeEthernet, &c); err != ErrNone {
		t.Fatal(err)
	}
	if a != c {
		t.Errorf("decoding the same frame twice differs:\n%+v\n%+v", a, c)
	}
	if b.v6 || b.vlan != 0 || b.proto != 17 || b.tcpFlags != 0 || b.ipLen != 20+8+3 || b.hdrLen != 28 || b.src != [16]byte{10, 0, 0, 1} {
		t.Errorf("stale state in second decode: %+v", b)
	}
	if !a.v6 || a.vlan != 5 || a.proto != 6 || a.tcpFlags != flagSYN || a.hdrLen != 40+24+20 {
		t.Errorf("ipv6 decode: %+v", a)
	}
}

func TestMalformedCounted(t *testing.T) {
	good := frame{src: cli, dst: srv, sport: 7, dport: 9, proto: "tcp", flags: "S"}.bytes(t)
	cases := []struct {
		name string
		data []byte
		lt   layers.LinkType
		want DecodeError
	}{
		{"truncated tcp header", good[:14+20+10], layers.LinkTypeEthernet, ErrTCP},
		{"truncated ipv4 header", good[:14+10], layers.LinkTypeEthernet, ErrIPv4},
		{"short ethernet", good[:5], layers.LinkTypeEthernet, ErrLink},
		{"unknown link type", good, layers.LinkType(147), ErrLinkType},
		{"empty raw", nil, layers.LinkTypeRaw, ErrIPv4},
	}
	for _, tc := range cases {
		e := NewExtractor(Config{}, nil)
		e.Process(tc.data, capture.CaptureInfo{Timestamp: t0, LinkType: tc.lt, Length: len(tc.data)})
		s := e.Stats()
		if s.Malformed != 1 || s.MalformedBy[tc.want] != 1 || e.ActiveFlows() != 0 {
			t.Errorf("%s: malformed %d, by kind %v, want 1 of %v", tc.name, s.Malformed, s.MalformedBy, tc.want)
		}
		if m := s.MalformedByKind(); len(m) != 1 || m[decodeErrorNames[tc.want]] != 1 {
			t.Errorf("%s: by kind %v", tc.name, m)
		}
		if tc.want.Error() == "" {
			t.Error("empty error text")
		}
	}
}

// TestLinkTypes feeds the same IPv4 UDP packet under every supported link
// type.
func TestLinkTypes(t *testing.T) {
	eth := frame{src: cli, dst: srv, sport: 7, dport: 9, proto: "udp", payload: 3}.bytes(t)
	ip := eth[14:]
	sll := append([]byte{0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 8, 0}, ip...)
	sll2 := append([]byte{8, 0, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0}, ip...)
	null := append([]byte{2, 0, 0, 0}, ip...)
	cases := []struct {
		lt   layers.LinkType
		data []byte
	}{
		{layers.LinkTypeEthernet, eth}, {layers.LinkTypeRaw, ip}, {layers.LinkTypeIPv4, ip}, {12, ip},
		{layers.LinkTypeLinuxSLL, sll}, {layers.LinkTypeLinuxSLL2, sll2}, {layers.LinkTypeNull, null}, {layers.LinkTypeLoop, null},
	}
	for _, tc := range cases {
		recs := 0
		e := NewExtractor(Config{}, func(r *Record) {
			recs++
			if r.Src.String() != cli || r.Dport != 9 || r.FwdBytes != 31 {
				t.Errorf("link type %v: %+v", tc.lt, r.FlowID)
			}
		})
		e.Process(tc.data, capture.CaptureInfo{Timestamp: t0, LinkType: tc.lt, Length: len(tc.data)})
		e.Flush()
		if recs != 1 || e.Stats().Malformed != 0 {
			t.Errorf("link type %v: %d records, stats %+v", tc.lt, recs, e.Stats().MalformedBy)
		}
	}
}

func TestSnapshots(t *testing.T) {
	var interim, final int
	e := NewExtractor(Config{SnapshotInterval: time.Second}, func(r *Record) {
		if r.Final {
			final++
		} else {
			interim++
			if r.Reason != EndNone {
				t.Errorf("interim reason %v", r.Reason)
			}
		}
	})
	b := frame{src: cli, dst: srv, sport: 1, dport: 2, proto: "udp"}.bytes(t)
	for i := range 10 { // 4.5 s of one busy flow
		e.Process(b, ci(time.Duration(i)*500*time.Millisecond, len(b)))
	}
	e.Flush()
	if final != 1 || interim != 4 {
		t.Errorf("final %d interim %d, want 1 and 4", final, interim)
	}
}

func TestNoAllocs(t *testing.T) {
	pkts := readPackets(t, "testdata/lab-head.pcap", "testdata/lab-scan.pcap")
	e := NewExtractor(Config{}, func(*Record) {})
	for _, p := range pkts { // grow the tables to the working set
		e.Process(p.data, p.ci)
	}
	e.Flush()
	i := 0
	n := testing.AllocsPerRun(5000, func() {
		p := pkts[i%len(pkts)]
		p.ci.Timestamp += int64(i/len(pkts)) * int64(time.Hour) // each pass is a fresh set of flows
		e.Process(p.data, p.ci)
		i++
	})
	if n != 0 {
		t.Fatalf("Process allocates %v times per packet; want 0", n)
	}
}

// TestFloodBounded sends one packet from each of many spoofed sources: the
// table never holds more than MaxFlows and the evictions are counted.
func TestFloodBounded(t *testing.T) {
	const max = 1000
	// The host-context tables have their own caps (TestContextFlood): here
	// they are set to the flow cap so the heap is steady after warm-up.
	e := NewExtractor(Config{MaxFlows: max, MaxHosts: max, MaxServices: max}, func(*Record) {})
	b := frame{src: cli, dst: srv, sport: 1, dport: 80, proto: "tcp", flags: "S"}.bytes(t)
	var ms runtime.MemStats
	for i := range 200_000 {
		binary.BigEndian.PutUint32(b[14+12:], uint32(i)) // spoofed source
		e.Process(b, ci(time.Duration(i)*time.Microsecond, len(b)))
		if e.ActiveFlows() > max {
			t.Fatalf("%d flows > MaxFlows", e.ActiveFlows())
		}
		if i%50_000 == 0 {
			checkInvariants(t, e)
		}
		if i == 10_000 {
			runtime.GC()
			runtime.ReadMemStats(&ms)
		}
	}
	before := ms.HeapAlloc
	runtime.GC()
	runtime.ReadMemStats(&ms)
	if ms.HeapAlloc > before+1<<20 {
		t.Errorf("heap grew from %d to %d during the flood", before, ms.HeapAlloc)
	}
	if s := e.Stats(); s.Evicted != 200_000-max || s.TableFill != 1 {
		t.Errorf("evicted %d fill %v", s.Evicted, s.TableFill)
	}
}

// TestMemoryPerFlow holds 1M flows and measures the heap per flow.
func TestMemoryPerFlow(t *testing.T) {
	if testing.Short() {
		t.Skip("holds 1M flows")
	}
	const n = 1_000_000
	b := frame{src: cli, dst: srv, sport: 1, dport: 80, proto: "tcp", flags: "S"}.bytes(t)
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	// The host-context tables are bounded separately (TestContextFlood);
	// keep them small here so this measures the flow table.
	e := NewExtractor(Config{MaxFlows: n, MaxHosts: 1024, MaxServices: 1024}, func(*Record) { t.Fatal("no flow should be emitted") })
	for i := range n {
		binary.BigEndian.PutUint32(b[14+12:], uint32(i))
		e.Process(b, ci(time.Duration(i)*10*time.Nanosecond, len(b)))
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	if e.ActiveFlows() != n {
		t.Fatalf("%d flows", e.ActiveFlows())
	}
	per := float64(m1.HeapAlloc-m0.HeapAlloc) / n
	t.Logf("%.1f bytes per flow (flow struct %d bytes)", per, unsafeSizeofFlow)
	// Issue 2's bound. Flows that carry payload add their hint state (80
	// bytes, hints.go's appStore); these synthetic flows carry none.
	if per > 300 {
		t.Errorf("%.1f bytes per active flow > 300", per)
	}
	runtime.KeepAlive(e)
}

func TestSchema(t *testing.T) {
	s := FlowSchema()
	seen := map[string]bool{}
	for _, f := range s.Features {
		if f.Name == "" || f.Unit == "" || f.Description == "" || seen[f.Name] || strings.ContainsAny(f.Name, " ,") {
			t.Errorf("bad or duplicate feature %+v", f)
		}
		seen[f.Name] = true
	}
	for _, c := range IdentityColumns {
		if seen[c] {
			t.Errorf("feature %q collides with an identity column", c)
		}
	}
	// Each group appends exactly its features.
	var f flow
	f.reset(t0)
	f.state = stInUse | stSrcIsA
	a := &appState{seen: true}
	for _, g := range flowGroups {
		for _, st := range []*appState{nil, a} {
			if n := len(g.append(nil, &f, st)); n != len(g.features) {
				t.Errorf("group %s appends %d values for %d features (hint state %v)", g.name, n, len(g.features), st != nil)
			}
		}
	}
	if s.Name != "flow" || s.Version != FlowSchemaVersion || len(s.Hash()) != 64 {
		t.Errorf("schema %s v%d", s.Name, s.Version)
	}
}

// TestGoldenSane checks properties of the golden records that must hold
// whatever the numbers: finite values, counts non-negative, sorted
// timestamps within the capture.
func TestGoldenSane(t *testing.T) {
	pkts := readPackets(t, "testdata/lab-scan.pcap")
	recs, _ := extractAll(Config{}, pkts)
	first, last := pkts[0].ci.Timestamp, pkts[len(pkts)-1].ci.Timestamp
	s := FlowSchema()
	synOnly := 0
	for _, r := range recs {
		if r.Start < first || r.End > last {
			t.Errorf("record outside capture: %+v", r.FlowID)
		}
		for i, v := range r.Vector {
			if math.IsNaN(v) || math.IsInf(v, 0) || s.Features[i].Count && v < 0 {
				t.Errorf("%s = %v", s.Features[i].Name, v)
			}
		}
		if value(t, &r, "tcp_syn_only") == 1 || value(t, &r, "tcp_reset") == 1 && value(t, &r, "tcp_established") == 0 {
			synOnly++
		}
	}
	// The nmap -sS scan: most flows are a SYN answered by RST or nothing.
	if synOnly < len(recs)/2 {
		t.Errorf("%d of %d flows look like scan probes", synOnly, len(recs))
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Start < recs[j].Start })
}
