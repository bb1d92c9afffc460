package afterimage

import (
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/vigil-nids/vigil/features"
)

// packet is what the statistics need from one frame, copied out of it.
type packet struct {
	srcMAC       [6]byte
	src, dst     [16]byte // IPv4 as IPv4-mapped IPv6
	v6           bool
	proto        uint8
	sport, dport uint16
}

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

	parsers *features.LinkParsers
	decoded []gopacket.LayerType
}

func newDecoder() *decoder {
	d := &decoder{decoded: make([]gopacket.LayerType, 0, 16)}
	d.parsers = features.NewLinkParsers(&d.eth, &d.dot1q, &d.sll, &d.sll2, &d.lo, &d.ip4, &d.ip6, &d.ext, &d.tcp, &d.udp, &d.icmp4, &d.icmp6)
	return d
}

// decode fills p from one frame and reports whether it carried an IPv4 or
// IPv6 header. A transport header that is missing or malformed leaves the
// ports zero.
func (d *decoder) decode(data []byte, lt layers.LinkType, p *packet) bool {
	parser := d.parsers.For(lt, data)
	if parser == nil {
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
