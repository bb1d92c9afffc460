package features

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
)

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
