package features

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"net/netip"
	"strconv"
)

// A flow's identity in one place: the FlowID columns, the direction-free
// FlowKeyHash (the alert's flow_id and the anomaly pcap's packet tag), the
// protocol's name and the Community ID. The Extractor's own table key
// (flowKey, table.go) orders endpoints the same way: the (address, port)
// that sorts lower first.

// FlowID holds a flow record's identity columns. Src is the sender of the
// flow's first packet (the forward direction).
type FlowID struct {
	Start, End int64 // capture time of the first and last packet, Unix ns
	Src, Dst   netip.Addr
	Sport      uint16 // for ICMP: type<<8 | code of the first packet
	Dport      uint16 // for ICMP: echo identifier (0 when none)
	Proto      uint8  // IP protocol number
	VLAN       uint16 // outermost 802.1Q VLAN ID, 0 when untagged
}

var protoNames = map[uint8]string{1: "ICMP", 2: "IGMP", 6: "TCP", 17: "UDP", 47: "GRE", 50: "ESP", 58: "IPV6-ICMP", 132: "SCTP"}

// ProtoName returns Suricata's name for an IP protocol number, or the
// number in decimal.
func ProtoName(p uint8) string {
	if n, ok := protoNames[p]; ok {
		return n
	}
	return strconv.Itoa(int(p))
}

func isICMP(p uint8) bool { return p == 1 || p == 58 }

// FlowKeyHash returns a direction-independent 64-bit hash of a flow's key
// (addresses, ports, protocol, VLAN), the same for both directions and
// stable across runs and machines (FNV-1a). For ICMP the ports are left
// out, so all ICMP between two hosts shares one hash. Alerts carry it as
// their flow_id (masked to 53 bits) and the anomaly pcap tags packets with
// it (FrameDecoder.FlowKeyHash).
func FlowKeyHash(id *FlowID) uint64 {
	sp, dp := id.Sport, id.Dport
	if isICMP(id.Proto) {
		sp, dp = 0, 0
	}
	return keyHash(id.Src.As16(), id.Dst.As16(), sp, dp, id.Proto, id.VLAN)
}

// keyHash hashes the canonical (ordered) form of a bidirectional key.
func keyHash(a, b [16]byte, pa, pb uint16, proto uint8, vlan uint16) uint64 {
	if c := bytes.Compare(a[:], b[:]); c > 0 || (c == 0 && pa > pb) {
		a, b, pa, pb = b, a, pb, pa
	}
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for _, x := range a {
		h = (h ^ uint64(x)) * prime
	}
	for _, x := range b {
		h = (h ^ uint64(x)) * prime
	}
	var t [7]byte
	binary.BigEndian.PutUint16(t[0:], pa)
	binary.BigEndian.PutUint16(t[2:], pb)
	t[4] = proto
	binary.BigEndian.PutUint16(t[5:], vlan)
	for _, x := range t {
		h = (h ^ uint64(x)) * prime
	}
	return h
}

// ICMP types with a counterpart, for Community ID's port mapping.
var (
	icmp4Pair = map[uint8]uint8{8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 10: 9, 9: 10, 17: 18, 18: 17}
	icmp6Pair = map[uint8]uint8{128: 129, 129: 128, 133: 134, 134: 133, 135: 136, 136: 135, 130: 131, 131: 130, 144: 145, 145: 144}
)

// CommunityID returns the Community ID v1 (seed 0) of a flow, "1:" and the
// base64 SHA-1 of the ordered endpoints
// (https://github.com/corelight/community-id-spec). For ICMP, id.Sport
// holds type<<8|code as in FlowID.
func CommunityID(id *FlowID) string {
	var buf [30]byte
	return string(AppendCommunityID(buf[:0], id))
}

// AppendCommunityID appends CommunityID(id) to b without allocating (when
// b has room for its 30 bytes).
func AppendCommunityID(b []byte, id *FlowID) []byte {
	src, dst := id.Src.As16(), id.Dst.As16()
	n := 16
	if id.Src.Is4() {
		n = 4
		s4, d4 := id.Src.As4(), id.Dst.As4()
		copy(src[:], s4[:])
		copy(dst[:], d4[:])
	}
	sp, dp := id.Sport, id.Dport
	oneWay := false
	switch {
	case id.Proto == 1 && id.Src.Is4(), id.Proto == 58 && !id.Src.Is4():
		t, c := uint8(id.Sport>>8), uint8(id.Sport)
		pairs := icmp4Pair
		if id.Proto == 58 {
			pairs = icmp6Pair
		}
		sp = uint16(t)
		if o, ok := pairs[t]; ok {
			dp = uint16(o)
		} else {
			dp, oneWay = uint16(c), true
		}
	case id.Proto == 6, id.Proto == 17, id.Proto == 132:
	default:
		sp, dp = 0, 0
	}
	c := bytes.Compare(src[:n], dst[:n])
	if !oneWay && (c > 0 || c == 0 && sp > dp) {
		src, dst, sp, dp = dst, src, dp, sp
	}
	var buf [2 + 16 + 16 + 2 + 4]byte
	h := buf[:2] // seed 0
	h = append(h, src[:n]...)
	h = append(h, dst[:n]...)
	h = append(h, id.Proto, 0)
	h = binary.BigEndian.AppendUint16(h, sp)
	h = binary.BigEndian.AppendUint16(h, dp)
	if id.Proto != 1 && id.Proto != 6 && id.Proto != 17 && id.Proto != 58 && id.Proto != 132 {
		h = h[:len(h)-4]
	}
	sum := sha1.Sum(h)
	b = append(b, "1:"...)
	return base64.StdEncoding.AppendEncode(b, sum[:])
}
