package detect

import (
	"fmt"

	"github.com/vigil-nids/vigil/capture"
	"github.com/vigil-nids/vigil/features"
	"github.com/vigil-nids/vigil/features/afterimage"
	"github.com/vigil-nids/vigil/models/bundle"
)

// The feature sets a bundle trained on captures can hold, by its
// Schema.Name: flow records (features.FlowSchema) or packets
// (afterimage.Schema, Kitsune's AfterImage).
const (
	FlowFeatures   = "flow"
	PacketFeatures = "packet"
)

// FeatureSet returns the feature set b was trained on: FlowFeatures,
// PacketFeatures, or the name of a table schema (a bundle trained on a
// labeled table, which detect does not score).
func FeatureSet(b *bundle.Bundle) string { return b.Schema.Name }

// PacketConfig returns the packet extractor settings a packet bundle was
// trained with (its Extractor field); a bundle without them yields the
// zero Config (the defaults).
func PacketConfig(b *bundle.Bundle) (afterimage.Config, error) {
	var c afterimage.Config
	if err := extractorSettings(b, &c, "model packet extractor settings"); err != nil {
		return c, err
	}
	if c.MaxKeys < 0 {
		return c, fmt.Errorf("model packet extractor settings: MaxKeys %d", c.MaxKeys)
	}
	return c, nil
}

// NewPacketExtractor returns a NewExtractorFunc for the packet feature
// set, for Config.NewExtractor: the Extractor emits one record per IP
// packet, whose Vector is the packet's afterimage features and whose
// FlowID is the packet's own 5-tuple in its direction (Src the sender;
// Start = End = its capture time; ports 0 unless TCP or UDP, so ICMP
// records carry no type or code). FwdPackets is 1, FwdBytes the wire
// length, and Final is false: the pipeline's dedup keeps one alert per
// direction of a 5-tuple unless its score rises by the realert margin,
// and its map stays bounded by pruning (no final record ever clears it).
// Frames without an IP header update nothing and emit nothing. Flush
// emits nothing: a packet is scored when it arrives.
func NewPacketExtractor(cfg afterimage.Config) NewExtractorFunc {
	return func(emit func(*features.Record)) Extractor {
		n := cfg.MaxKeys
		if n <= 0 {
			n = afterimage.DefaultMaxKeys
		}
		return &packetExtractor{
			x:       afterimage.New(cfg),
			emit:    emit,
			maxKeys: n,
			vec:     make([]float64, 0, afterimage.NumFeatures),
		}
	}
}

type packetExtractor struct {
	x       *afterimage.Extractor
	emit    func(*features.Record)
	maxKeys int
	vec     []float64
	rec     features.Record
	bytes   uint64
	// Packets per protocol: ipv4, ipv6, tcp, udp, icmp, icmpv6, other IP.
	v4, v6, tcp, udp, icmp, icmp6, other uint64
}

func (p *packetExtractor) Process(data []byte, ci capture.CaptureInfo) {
	size := uint64(ci.Length)
	if ci.Length <= 0 {
		size = uint64(len(data))
	}
	p.bytes += size
	v, ok := p.x.Process(data, ci, p.vec[:0])
	p.vec = v
	if !ok {
		return
	}
	id := p.x.Last()
	if id.Src.Is4() {
		p.v4++
	} else {
		p.v6++
	}
	switch id.Proto {
	case 6:
		p.tcp++
	case 17:
		p.udp++
	case 1:
		p.icmp++
	case 58:
		p.icmp6++
	default:
		p.other++
	}
	p.rec = features.Record{
		FlowID: features.FlowID{
			Start: id.Timestamp, End: id.Timestamp,
			Src: id.Src, Dst: id.Dst, Sport: id.SrcPort, Dport: id.DstPort, Proto: id.Proto,
		},
		FwdPackets: 1,
		FwdBytes:   size,
		Vector:     v,
	}
	p.emit(&p.rec)
}

func (p *packetExtractor) Flush() {}

// Stats maps the packet extractor's counters onto FlowStats: Flows is 0
// (no flow records are emitted), Active is the number of socket pairs
// (5-tuples) the extractor holds statistics for, MaxFlows its bound, and
// Evicted the entries dropped from any of its four tables to stay within
// it. Frames without an IP header count as non_ip (ARP included); nothing
// is counted as malformed.
func (p *packetExtractor) Stats() FlowStats {
	s := p.x.Stats()
	return FlowStats{
		Packets:  s.Packets,
		Bytes:    p.bytes,
		Active:   s.Keys[3],
		MaxFlows: p.maxKeys,
		Evicted:  s.Evicted,
		Protocols: map[string]uint64{
			"ipv4": p.v4, "ipv6": p.v6, "non_ip": s.Packets - s.IP,
			"tcp": p.tcp, "udp": p.udp, "icmp": p.icmp, "icmpv6": p.icmp6, "other_ip": p.other,
		},
	}
}
