package flowexport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"

	"github.com/gopacket/gopacket/layers"

	"github.com/vigil-nids/vigil/capture"
)

// Datagram extracts the UDP payload and sender address of one captured
// frame of an export stream. Ethernet (with up to two VLAN tags), raw IP,
// Linux cooked (SLL) and BSD loopback frames are understood; ok is false
// for anything that is not an unfragmented IPv4 or IPv6 UDP datagram.
func Datagram(frame []byte, link layers.LinkType) (from netip.Addr, payload []byte, ok bool) {
	var ip []byte
	switch link {
	case layers.LinkTypeEthernet:
		if len(frame) < 14 {
			return from, nil, false
		}
		et, off := binary.BigEndian.Uint16(frame[12:]), 14
		for i := 0; i < 2 && (et == 0x8100 || et == 0x88a8) && len(frame) >= off+4; i++ {
			et, off = binary.BigEndian.Uint16(frame[off+2:]), off+4
		}
		ip = frame[off:]
	case layers.LinkTypeRaw, layers.LinkTypeIPv4, layers.LinkTypeIPv6, 12:
		ip = frame
	case layers.LinkTypeLinuxSLL:
		if len(frame) < 16 {
			return from, nil, false
		}
		ip = frame[16:]
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		if len(frame) < 4 {
			return from, nil, false
		}
		ip = frame[4:]
	default:
		return from, nil, false
	}
	if len(ip) < 1 {
		return from, nil, false
	}
	var udp []byte
	switch ip[0] >> 4 {
	case 4:
		ihl := int(ip[0]&0x0f) * 4
		if len(ip) < 20 || ihl < 20 || len(ip) < ihl || ip[9] != 17 {
			return from, nil, false
		}
		if binary.BigEndian.Uint16(ip[6:])&0x3fff != 0 { // fragment
			return from, nil, false
		}
		from = netip.AddrFrom4([4]byte(ip[12:16]))
		udp = ip[ihl:]
	case 6:
		if len(ip) < 40 || ip[6] != 17 {
			return from, nil, false
		}
		from = netip.AddrFrom16([16]byte(ip[8:24]))
		udp = ip[40:]
	default:
		return from, nil, false
	}
	if len(udp) < 8 {
		return from, nil, false
	}
	n := int(binary.BigEndian.Uint16(udp[4:]))
	if n < 8 || n > len(udp) {
		return from, nil, false
	}
	return from, udp[8:n], true
}

// ReadAll decodes every export datagram of a capture source into records,
// appended to dst. Frames that are not UDP datagrams are counted as
// "not_udp" drops; undecodable datagrams are counted by the Collector and
// skipped. It returns at the source's io.EOF.
func (c *Collector) ReadAll(dst []Record, src capture.Source) ([]Record, error) {
	for {
		frame, ci, err := src.ReadPacket()
		if errors.Is(err, io.EOF) {
			return dst, nil
		}
		if err != nil {
			return dst, fmt.Errorf("flowexport: %w", err)
		}
		from, payload, ok := Datagram(frame, ci.LinkType)
		if !ok {
			c.drop(DropNotUDP)
			continue
		}
		dst, _ = c.Decode(dst, from, payload, ci.Timestamp)
	}
}
