package afterimage

import (
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// packet is what the statistics need from one frame, copied out of it.
type packet struct {
	srcMAC       [6]byte
	src, dst     [16]byte // IPv4 as IPv4-mapped IPv6
	v6           bool
	proto        uint8
	sport, dport uint16
}

// Link types of raw IP captures besides LinkTypeRaw (101): DLT_RAW is 12 on
// most BSDs and 14 on OpenBSD.
const (
	linkTypeRawBSD     layers.LinkType = 12
	linkTypeRawOpenBSD layers.LinkType = 14
)

// decoder decodes frames with gopacket DecodingLayerParsers sharing one set
// of preallocated layers. It is not safe for concurrent use.
type decoder struct {
	eth   layers.Ethernet
	dot1q layers.Dot1Q
	sll   layers.LinuxSLL
	sll2  layers.LinuxSLL2
	lo    layers.Loopback
	ip4   layers.IPv4
	ip6   layers.IPv6
	ext   layers.IPv6ExtensionSkipper
	tcp   layers.TCP
	udp   layers.UDP
	icmp4 layers.ICMPv4
	icmp6 layers.ICMPv6

	pEth, pSLL, pSLL2, pLo, pIP4, pIP6 *gopacket.DecodingLayerParser
	decoded                            []gopacket.LayerType
}

func newDecoder() *decoder {
	d := &decoder{decoded: make([]gopacket.LayerType, 0, 16)}
	all := []gopacket.DecodingLayer{&d.eth, &d.dot1q, &d.sll, &d.sll2, &d.lo, &d.ip4, &d.ip6, &d.ext, &d.tcp, &d.udp, &d.icmp4, &d.icmp6}
	mk := func(first gopacket.LayerType) *gopacket.DecodingLayerParser {
		dlc := gopacket.DecodingLayerContainer(gopacket.DecodingLayerSparse(nil))
		for _, l := range all {
			dlc = dlc.Put(l)
		}
		p := gopacket.NewDecodingLayerParser(first)
		p.SetDecodingLayerContainer(dlc)
		p.IgnoreUnsupported = true
		return p
	}
	d.pEth = mk(layers.LayerTypeEthernet)
	d.pSLL = mk(layers.LayerTypeLinuxSLL)
	d.pSLL2 = mk(layers.LayerTypeLinuxSLL2)
	d.pLo = mk(layers.LayerTypeLoopback)
	d.pIP4 = mk(layers.LayerTypeIPv4)
	d.pIP6 = mk(layers.LayerTypeIPv6)
	return d
}

// decode fills p from one frame and reports whether it carried an IPv4 or
// IPv6 header. A transport header that is missing or malformed leaves the
// ports zero.
func (d *decoder) decode(data []byte, lt layers.LinkType, p *packet) bool {
	var parser *gopacket.DecodingLayerParser
	switch lt {
	case layers.LinkTypeEthernet:
		parser = d.pEth
	case layers.LinkTypeLinuxSLL:
		parser = d.pSLL
	case layers.LinkTypeLinuxSLL2:
		parser = d.pSLL2
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		parser = d.pLo
	case layers.LinkTypeIPv4:
		parser = d.pIP4
	case layers.LinkTypeIPv6:
		parser = d.pIP6
	case layers.LinkTypeRaw, linkTypeRawBSD, linkTypeRawOpenBSD:
		if len(data) == 0 {
			return false
		}
		if data[0]>>4 == 6 {
			parser = d.pIP6
		} else {
			parser = d.pIP4
		}
	default:
		return false
	}
	*p = packet{}
	_ = parser.DecodeLayers(data, &d.decoded) // partial decodes are used
	ip := false
	for _, t := range d.decoded {
		switch t {
		case layers.LayerTypeEthernet:
			copy(p.srcMAC[:], d.eth.SrcMAC)
		case layers.LayerTypeIPv4:
			if ip { // tunnelled: keep the outer header
				continue
			}
			ip = true
			p.src = mapped4(d.ip4.SrcIP)
			p.dst = mapped4(d.ip4.DstIP)
			p.proto = uint8(d.ip4.Protocol)
		case layers.LayerTypeIPv6:
			if ip {
				continue
			}
			ip, p.v6 = true, true
			copy(p.src[:], d.ip6.SrcIP)
			copy(p.dst[:], d.ip6.DstIP)
			p.proto = uint8(d.ip6.NextHeader)
		case layers.LayerTypeTCP:
			p.proto, p.sport, p.dport = 6, uint16(d.tcp.SrcPort), uint16(d.tcp.DstPort)
		case layers.LayerTypeUDP:
			p.proto, p.sport, p.dport = 17, uint16(d.udp.SrcPort), uint16(d.udp.DstPort)
		case layers.LayerTypeICMPv4:
			p.proto = 1
		case layers.LayerTypeICMPv6:
			p.proto = 58
		}
	}
	return ip
}

func mapped4(b []byte) (a [16]byte) {
	a[10], a[11] = 0xff, 0xff
	copy(a[12:], b)
	return a
}
