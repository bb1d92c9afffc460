package features

import (
	"encoding/binary"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// DecodeError says why a frame could not be turned into a flow update. It
// is a value type: returning one never allocates, and it formats only in
// Error.
type DecodeError uint8

// Decode error kinds, counted per kind in Stats.Malformed.
const (
	ErrNone     DecodeError = iota
	ErrLinkType             // link type not supported
	ErrLink                 // link layer (Ethernet, SLL, SLL2, loopback, 802.1Q) malformed or truncated
	ErrARP                  // ARP malformed
	ErrIPv4                 // IPv4 header malformed or truncated
	ErrIPv6                 // IPv6 header or extension header malformed or truncated
	ErrTCP                  // TCP header malformed or truncated
	ErrUDP                  // UDP header malformed or truncated
	ErrICMP                 // ICMPv4 header malformed or truncated
	ErrICMPv6               // ICMPv6 header malformed or truncated
	ErrDNS                  // DNS message malformed (the flow is still updated)
	numDecodeErrors
)

var decodeErrorNames = [numDecodeErrors]string{"", "unsupported link type", "malformed link layer", "malformed arp", "malformed ipv4", "malformed ipv6", "malformed tcp", "malformed udp", "malformed icmp", "malformed icmpv6", "malformed dns"}

func (e DecodeError) Error() string {
	if e < numDecodeErrors {
		return "features: " + decodeErrorNames[e]
	}
	return "features: unknown decode error"
}

// pktKind classifies a decoded frame.
type pktKind uint8

const (
	kindOther pktKind = iota // non-IP, non-ARP
	kindARP
	kindIP       // IP with a transport we key flows on (or another protocol keyed by addresses)
	kindFragment // IP fragment that is not the first: no transport header
)

// packet is the decoded summary of one frame: everything the flow table
// needs, copied out of the frame (it keeps no slice into it; the
// transport payload is in decoder.payload).
type packet struct {
	ts       int64
	kind     pktKind
	v6       bool
	src, dst [16]byte
	proto    uint8
	sport    uint16
	dport    uint16
	vlan     uint16
	ipLen    uint32 // IP-layer bytes as declared by the header(s)
	hdrLen   uint32 // IP header (with options/extensions) + transport header, at most ipLen
	tcpFlags uint8
	window   uint16
	icmpType uint8
	icmpCode uint8
	icmpID   uint16
	echo     bool // ICMP echo request/reply: keyed by id
	dns      dnsInfo
}

// dnsInfo is what parseDNS reads from a DNS message (UDP port 53).
type dnsInfo struct {
	ok       bool   // a DNS header and first question were parsed
	response bool   // QR bit
	rcode    uint8  // response code
	qdcount  uint16 // questions
	ancount  uint16 // answers
	qtype    uint16 // type of the first question
	qnameLen uint8  // length of the first question's name in dotted form
	labels   uint8  // labels in the first question's name
}

// TCP flag bits as in the TCP header's 13th byte.
const (
	flagFIN = 1 << iota
	flagSYN
	flagRST
	flagPSH
	flagACK
	flagURG
	flagECE
	flagCWR
)

// decoder decodes frames into a packet with gopacket DecodingLayerParsers
// sharing one set of preallocated layers. It is not safe for concurrent use.
//
// DNS is not decoded with gopacket's layers.DNS: it allocates for EDNS OPT
// records (decodeOPTs), several hundred times per pass over the lab
// capture. parseDNS reads the header and first question in place instead.
type decoder struct {
	eth   layers.Ethernet
	dot1q layers.Dot1Q
	sll   layers.LinuxSLL
	sll2  layers.LinuxSLL2
	lo    layers.Loopback
	arp   layers.ARP
	ip4   layers.IPv4
	ip6   layers.IPv6
	ext   layers.IPv6ExtensionSkipper
	frag  layers.IPv6Fragment
	tcp   layers.TCP
	udp   layers.UDP
	icmp4 layers.ICMPv4
	icmp6 layers.ICMPv6

	parsers *linkParsers
	decoded []gopacket.LayerType
	// payload is the TCP/UDP payload of the last frame as captured, a
	// slice of it: valid only during Process (cleared after).
	payload []byte
	// slowOnly turns off the fast path (tests compare the two).
	slowOnly bool
}

func newDecoder() *decoder {
	d := &decoder{decoded: make([]gopacket.LayerType, 0, 16)}
	d.parsers = newLinkParsers(&d.eth, &d.dot1q, &d.sll, &d.sll2, &d.lo, &d.arp, &d.ip4, &d.ip6, &d.ext, &d.frag, &d.tcp, &d.udp, &d.icmp4, &d.icmp6)
	return d
}

// decode fills p from one frame. It returns ErrNone for a frame the caller
// should account (p.kind tells how), ErrDNS for a flow packet whose DNS
// payload did not parse (p is still valid), and any other DecodeError for a
// frame to count and skip.
func (d *decoder) decode(data []byte, lt layers.LinkType, p *packet) DecodeError {
	if lt == layers.LinkTypeEthernet && !d.slowOnly {
		if e, ok := d.fastIPv4(data, p); ok {
			return e
		}
	}
	parser := d.parsers.For(lt, data)
	if parser == nil {
		if len(data) == 0 && (lt == layers.LinkTypeRaw || lt == linkTypeRawBSD || lt == linkTypeRawOpenBSD) {
			return ErrIPv4
		}
		return ErrLinkType
	}
	*p = packet{ts: p.ts}
	d.payload = nil
	err := parser.DecodeLayers(data, &d.decoded)
	var haveIP, haveL4 bool
	l4 := gopacket.LayerTypeZero
	for _, t := range d.decoded {
		switch t {
		case layers.LayerTypeEthernet:
			if et := d.eth.EthernetType; (et == layers.EthernetTypeDot1Q || et == layers.EthernetTypeQinQ) && len(d.eth.Payload) >= 2 {
				// The outermost tag: QinQ decodes both tags into one Dot1Q.
				p.vlan = binary.BigEndian.Uint16(d.eth.Payload[:2]) & 0x0fff
			}
		case layers.LayerTypeARP:
			p.kind = kindARP
		case layers.LayerTypeIPv4:
			if haveIP { // IP in IP: keep the outer header's view
				continue
			}
			haveIP = true
			d.fromIPv4(p)
		case layers.LayerTypeIPv6:
			if haveIP {
				continue
			}
			haveIP = true
			d.fromIPv6(p)
		case layers.LayerTypeIPv6HopByHop, layers.LayerTypeIPv6Routing, layers.LayerTypeIPv6Destination:
			if !haveL4 && p.v6 {
				p.hdrLen += uint32(len(d.ext.Contents))
				p.proto = uint8(d.ext.NextHeader)
			}
		case layers.LayerTypeIPv6Fragment:
			if !haveL4 && p.v6 {
				p.hdrLen += uint32(len(d.frag.Contents))
				p.proto = uint8(d.frag.NextHeader)
				if d.frag.FragmentOffset != 0 {
					p.kind = kindFragment
				}
			}
		case layers.LayerTypeTCP, layers.LayerTypeUDP, layers.LayerTypeICMPv4, layers.LayerTypeICMPv6:
			if haveL4 || !haveIP {
				continue
			}
			haveL4, l4 = true, t
			d.fromL4(p, t)
		}
	}
	if err != nil && !haveL4 {
		return failedLayer(d, p, haveIP)
	}
	if l4 == layers.LayerTypeUDP && (p.sport == 53 || p.dport == 53) && !p.dns.ok {
		return finish(p, ErrDNS) // the flow is still updated
	}
	if haveIP && !haveL4 && p.kind == kindIP {
		switch p.proto {
		case uint8(layers.IPProtocolTCP):
			return ErrTCP
		case uint8(layers.IPProtocolUDP):
			return ErrUDP
		case uint8(layers.IPProtocolICMPv4):
			if !p.v6 {
				return ErrICMP
			}
		case uint8(layers.IPProtocolICMPv6):
			if p.v6 {
				return ErrICMPv6
			}
		}
	}
	return finish(p, ErrNone)
}

// fastIPv4 decodes the most common frame, Ethernet + IPv4 without
// options, not fragmented, + TCP or UDP, with the result of the
// DecodingLayerParser path (same fields, payload and error) but without
// its per-layer interface calls and bookkeeping: a third of the
// extractor's decode time. For any other frame, or one whose headers are
// short, inconsistent or would make a gopacket layer fail or stop, it
// reports false and leaves the frame to the parsers. TestFastPath and
// FuzzFastPath compare the two paths.
func (d *decoder) fastIPv4(data []byte, p *packet) (DecodeError, bool) {
	if len(data) < 14+20 || data[12] != 0x08 || data[13] != 0x00 {
		return ErrNone, false
	}
	ip := data[14:]
	// IHL 5; total length at least the header (0, TSO, takes the parser's
	// path); no fragment bits. Like gopacket, a frame shorter than the
	// total length (snaplen) keeps what it has, one longer (Ethernet
	// padding) is cut to it.
	length := int(binary.BigEndian.Uint16(ip[2:4]))
	if ip[0]&0x0f != 5 || length < 20 || binary.BigEndian.Uint16(ip[6:8])&0x3fff != 0 {
		return ErrNone, false
	}
	l4 := ip[20:min(length, len(ip))]
	switch ip[9] {
	case 6:
		if len(l4) < 20 {
			return ErrNone, false
		}
		off := int(l4[12]>>4) * 4
		if off < 20 || off > len(l4) {
			return ErrNone, false
		}
		*p = packet{ts: p.ts, kind: kindIP, proto: 6,
			sport: binary.BigEndian.Uint16(l4[0:2]), dport: binary.BigEndian.Uint16(l4[2:4]),
			ipLen: uint32(length), hdrLen: 20 + uint32(off),
			tcpFlags: l4[13], window: binary.BigEndian.Uint16(l4[14:16])}
		copy(p.src[:4], ip[12:16])
		copy(p.dst[:4], ip[16:20])
		d.payload = l4[off:]
		return ErrNone, true
	case 17:
		if len(l4) < 8 {
			return ErrNone, false
		}
		var pl []byte
		switch ul := int(binary.BigEndian.Uint16(l4[4:6])); {
		case ul >= 8:
			pl = l4[8:min(ul, len(l4))]
		case ul == 0:
			pl = l4[8:]
		default:
			return ErrNone, false
		}
		*p = packet{ts: p.ts, kind: kindIP, proto: 17,
			sport: binary.BigEndian.Uint16(l4[0:2]), dport: binary.BigEndian.Uint16(l4[2:4]),
			ipLen: uint32(length), hdrLen: 28}
		copy(p.src[:4], ip[12:16])
		copy(p.dst[:4], ip[16:20])
		d.payload = pl
		if p.sport == 53 || p.dport == 53 {
			if p.dns.ok = parseDNS(pl, &p.dns); !p.dns.ok {
				return ErrDNS, true
			}
		}
		return ErrNone, true
	}
	return ErrNone, false
}

func finish(p *packet, e DecodeError) DecodeError {
	if p.hdrLen > p.ipLen {
		p.hdrLen = p.ipLen
	}
	return e
}

// failedLayer names the layer whose decoding failed: the one after the
// last layer decoded.
func failedLayer(d *decoder, p *packet, haveIP bool) DecodeError {
	if !haveIP {
		if len(d.decoded) > 0 {
			last := d.decoded[len(d.decoded)-1]
			if last == layers.LayerTypeARP {
				return ErrARP
			}
			var et layers.EthernetType
			switch last {
			case layers.LayerTypeEthernet:
				et = d.eth.EthernetType
			case layers.LayerTypeDot1Q:
				et = d.dot1q.Type
			case layers.LayerTypeLinuxSLL:
				et = d.sll.EthernetType
			case layers.LayerTypeLinuxSLL2:
				et = d.sll2.ProtocolType
			case layers.LayerTypeLoopback:
				switch d.lo.Family {
				case layers.ProtocolFamilyIPv4:
					return ErrIPv4
				case layers.ProtocolFamilyIPv6BSD, layers.ProtocolFamilyIPv6FreeBSD, layers.ProtocolFamilyIPv6Darwin, layers.ProtocolFamilyIPv6Linux:
					return ErrIPv6
				}
			}
			switch et {
			case layers.EthernetTypeIPv4:
				return ErrIPv4
			case layers.EthernetTypeIPv6:
				return ErrIPv6
			case layers.EthernetTypeARP:
				return ErrARP
			}
			return ErrLink
		}
		switch d.first() {
		case layers.LayerTypeIPv4:
			return ErrIPv4
		case layers.LayerTypeIPv6:
			return ErrIPv6
		}
		return ErrLink
	}
	switch p.proto {
	case uint8(layers.IPProtocolTCP):
		return ErrTCP
	case uint8(layers.IPProtocolUDP):
		return ErrUDP
	case uint8(layers.IPProtocolICMPv4):
		return ErrICMP
	case uint8(layers.IPProtocolICMPv6):
		return ErrICMPv6
	}
	if p.v6 {
		return ErrIPv6
	}
	return ErrIPv4
}

// first reports the layer type the last DecodeLayers call started with, as
// far as it matters for error attribution (raw IP link types).
func (d *decoder) first() gopacket.LayerType {
	if len(d.decoded) == 0 {
		return gopacket.LayerTypeZero
	}
	return d.decoded[0]
}

func (d *decoder) fromIPv4(p *packet) {
	ip := &d.ip4
	p.kind = kindIP
	p.v6 = false
	copy(p.src[:4], ip.SrcIP.To4())
	copy(p.dst[:4], ip.DstIP.To4())
	p.proto = uint8(ip.Protocol)
	p.ipLen = uint32(ip.Length)
	if p.ipLen == 0 { // TSO captures can carry 0; fall back to what we have
		p.ipLen = uint32(len(ip.Contents) + len(ip.Payload))
	}
	p.hdrLen = uint32(ip.IHL) * 4
	if ip.FragOffset != 0 {
		p.kind = kindFragment
	}
}

func (d *decoder) fromIPv6(p *packet) {
	ip := &d.ip6
	p.kind = kindIP
	p.v6 = true
	copy(p.src[:], ip.SrcIP)
	copy(p.dst[:], ip.DstIP)
	p.ipLen = 40 + uint32(ip.Length)
	p.hdrLen = 40
	p.proto = uint8(ip.NextHeader)
	if ip.HopByHop != nil {
		p.hdrLen += uint32(len(ip.HopByHop.Contents))
		p.proto = uint8(ip.HopByHop.NextHeader)
	}
	if ip.Length == 0 { // jumbogram or TSO: use what the frame holds
		p.ipLen = uint32(len(ip.Contents) + len(ip.Payload))
	}
}

func (d *decoder) fromL4(p *packet, t gopacket.LayerType) {
	switch t {
	case layers.LayerTypeTCP:
		c := d.tcp.Contents
		p.proto = uint8(layers.IPProtocolTCP)
		p.sport, p.dport = uint16(d.tcp.SrcPort), uint16(d.tcp.DstPort)
		p.hdrLen += uint32(len(c))
		if len(c) >= 14 {
			p.tcpFlags = c[13]
		}
		p.window = d.tcp.Window
		d.payload = d.tcp.Payload
	case layers.LayerTypeUDP:
		p.proto = uint8(layers.IPProtocolUDP)
		p.sport, p.dport = uint16(d.udp.SrcPort), uint16(d.udp.DstPort)
		p.hdrLen += 8
		d.payload = d.udp.Payload
		if p.sport == 53 || p.dport == 53 {
			p.dns.ok = parseDNS(d.udp.Payload, &p.dns)
		}
	case layers.LayerTypeICMPv4:
		p.proto = uint8(layers.IPProtocolICMPv4)
		tc := d.icmp4.TypeCode
		p.icmpType, p.icmpCode = tc.Type(), tc.Code()
		p.hdrLen += 8
		switch p.icmpType {
		case layers.ICMPv4TypeEchoRequest, layers.ICMPv4TypeEchoReply:
			p.echo, p.icmpID = true, d.icmp4.Id
		}
	case layers.LayerTypeICMPv6:
		p.proto = uint8(layers.IPProtocolICMPv6)
		tc := d.icmp6.TypeCode
		p.icmpType, p.icmpCode = tc.Type(), tc.Code()
		p.hdrLen += 4
		switch p.icmpType {
		case layers.ICMPv6TypeEchoRequest, layers.ICMPv6TypeEchoReply:
			if pl := d.icmp6.Payload; len(pl) >= 2 {
				p.echo, p.icmpID = true, binary.BigEndian.Uint16(pl)
				p.hdrLen += 4
			}
		}
	}
}

// parseDNS reads the header and the first question of a DNS message in
// place. It reports false when the message is shorter than its header or
// the first question runs past the end. Allocation-free.
func parseDNS(b []byte, di *dnsInfo) bool {
	if len(b) < 12 {
		return false
	}
	di.response = b[2]&0x80 != 0
	di.rcode = b[3] & 0x0f
	di.qdcount = binary.BigEndian.Uint16(b[4:])
	di.ancount = binary.BigEndian.Uint16(b[6:])
	if di.qdcount == 0 {
		return true
	}
	i, n := 12, 0
	for {
		if i >= len(b) {
			return false
		}
		l := int(b[i])
		if l == 0 {
			i++
			break
		}
		if l&0xc0 != 0 { // compression pointer or reserved: not in a first question
			return false
		}
		if di.labels < 255 {
			di.labels++
		}
		n += l + 1
		i += l + 1
	}
	if i+4 > len(b) {
		return false
	}
	if n > 0 {
		n-- // no trailing dot
	}
	if n > 255 {
		n = 255
	}
	di.qnameLen = uint8(n)
	di.qtype = binary.BigEndian.Uint16(b[i:])
	return true
}

// FrameDecoder decodes frames with the Extractor's decoder and link-type
// table, for code outside the package that must see a frame as the
// Extractor does: the anomaly pcap tags each packet with the flow the
// Extractor counts it in. It is not safe for concurrent use.
type FrameDecoder struct {
	d *decoder
	p packet
}

// NewFrameDecoder returns a decoder with its own preallocated layers.
func NewFrameDecoder() *FrameDecoder { return &FrameDecoder{d: newDecoder()} }

// FlowKeyHash returns the FlowKeyHash of the flow record the Extractor
// counts the frame in, and false for a frame it counts in no flow
// (malformed, ARP, not IP, an IP fragment after the first). It does not
// allocate.
func (f *FrameDecoder) FlowKeyHash(data []byte, lt layers.LinkType) (uint64, bool) {
	p := &f.p
	err := f.d.decode(data, lt, p)
	f.d.payload = nil // do not keep the frame
	if err != ErrNone && err != ErrDNS || p.kind != kindIP {
		return 0, false
	}
	return p.flowKeyHash(), true
}

// flowKeyHash is FlowKeyHash of the FlowID that fillID makes for p's flow:
// IPv4 addresses as IPv4-mapped IPv6, no ports for ICMP.
func (p *packet) flowKeyHash() uint64 {
	a, b := p.src, p.dst
	if !p.v6 {
		a, b = mapped4(&p.src), mapped4(&p.dst)
	}
	sp, dp := p.sport, p.dport
	if isICMP(p.proto) {
		sp, dp = 0, 0
	}
	return keyHash(a, b, sp, dp, p.proto, p.vlan)
}

// mapped4 returns the IPv4 address in the first four bytes of a as
// IPv4-mapped IPv6 (netip.Addr.As16's form).
func mapped4(a *[16]byte) (m [16]byte) {
	m[10], m[11] = 0xff, 0xff
	copy(m[12:], a[:4])
	return m
}

// FrameEndpoints is what the packet (AfterImage) extractor reads from a
// frame.
type FrameEndpoints struct {
	SrcMAC       [6]byte  // Ethernet source, zero for other link types
	Src, Dst     [16]byte // IPv4 as IPv4-mapped IPv6
	V6           bool
	Proto        uint8  // the transport's protocol number, else the IP header's
	Sport, Dport uint16 // 0 unless TCP or UDP
}

// Endpoints decodes one frame into e and reports whether it carried an
// IPv4 or IPv6 header. A transport header that is missing or malformed
// leaves the ports zero; the frame is still reported (unlike in the flow
// table, which skips it). It does not allocate.
func (f *FrameDecoder) Endpoints(data []byte, lt layers.LinkType, e *FrameEndpoints) bool {
	p := &f.p
	p.kind = kindOther // decode leaves p as it was for a link type it does not read
	f.d.decode(data, lt, p)
	f.d.payload = nil
	if p.kind != kindIP && p.kind != kindFragment {
		return false
	}
	*e = FrameEndpoints{V6: p.v6, Proto: p.proto, Sport: p.sport, Dport: p.dport}
	if lt == layers.LinkTypeEthernet {
		copy(e.SrcMAC[:], data[6:12])
	}
	if p.v6 {
		e.Src, e.Dst = p.src, p.dst
	} else {
		e.Src, e.Dst = mapped4(&p.src), mapped4(&p.dst)
	}
	return true
}
