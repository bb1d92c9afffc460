package features

import (
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// linkParsers is vigil's link-type table: one gopacket DecodingLayerParser
// per link type it reads (Ethernet, Linux SLL and SLL2, BSD null/loopback,
// raw IPv4/IPv6), all decoding into the same preallocated layers. The
// decoder is its only user, and the flow extractor, the packet
// (AfterImage) extractor and the anomaly pcap all decode with that
// (FrameDecoder), so they agree on which frames they understand. It is not
// safe for concurrent use.
type linkParsers struct {
	eth, sll, sll2, lo, ip4, ip6 *gopacket.DecodingLayerParser
}

// newLinkParsers returns parsers over the given layers (the caller owns
// them and reads the decoded values). Unsupported layers are ignored, so a
// frame decodes as far as the layers allow. The container is sparse: a
// slice indexed by layer type is about 20% faster than gopacket's default
// map (pprof: mapaccess2_fast64).
func newLinkParsers(decoders ...gopacket.DecodingLayer) *linkParsers {
	mk := func(first gopacket.LayerType) *gopacket.DecodingLayerParser {
		dlc := gopacket.DecodingLayerContainer(gopacket.DecodingLayerSparse(nil))
		for _, l := range decoders {
			dlc = dlc.Put(l)
		}
		p := gopacket.NewDecodingLayerParser(first)
		p.SetDecodingLayerContainer(dlc)
		p.IgnoreUnsupported = true
		return p
	}
	return &linkParsers{
		eth: mk(layers.LayerTypeEthernet), sll: mk(layers.LayerTypeLinuxSLL), sll2: mk(layers.LayerTypeLinuxSLL2),
		lo: mk(layers.LayerTypeLoopback), ip4: mk(layers.LayerTypeIPv4), ip6: mk(layers.LayerTypeIPv6),
	}
}

// Link types of raw IP captures besides LinkTypeRaw (101): DLT_RAW is 12 on
// most BSDs and 14 on OpenBSD.
const (
	linkTypeRawBSD     layers.LinkType = 12
	linkTypeRawOpenBSD layers.LinkType = 14
)

// For returns the parser for a frame of link type lt, or nil for a link
// type vigil does not read (or an empty raw-IP frame). Raw IP frames pick
// IPv4 or IPv6 by their version nibble.
func (lp *linkParsers) For(lt layers.LinkType, data []byte) *gopacket.DecodingLayerParser {
	switch lt {
	case layers.LinkTypeEthernet:
		return lp.eth
	case layers.LinkTypeLinuxSLL:
		return lp.sll
	case layers.LinkTypeLinuxSLL2:
		return lp.sll2
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		return lp.lo
	case layers.LinkTypeIPv4:
		return lp.ip4
	case layers.LinkTypeIPv6:
		return lp.ip6
	case layers.LinkTypeRaw, linkTypeRawBSD, linkTypeRawOpenBSD:
		if len(data) == 0 {
			return nil
		}
		if data[0]>>4 == 6 {
			return lp.ip6
		}
		return lp.ip4
	}
	return nil
}
