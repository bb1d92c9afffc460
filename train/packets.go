package train

import (
	"bytes"
	"errors"
	"io"

	"github.com/vigil-nids/vigil/capture"
	"github.com/vigil-nids/vigil/features/afterimage"
)

// ExtractPackets reads src to its end through an afterimage Extractor
// configured by cfg and offers every IP packet's vector to res, grouped by
// the packet's bidirectional 5-tuple, so cross-fitting folds split the
// baseline by conversation rather than by packet. It returns the
// extractor's statistics and the number of vectors offered.
func ExtractPackets(src capture.Source, cfg afterimage.Config, res *Reservoir) (afterimage.Stats, int64, error) {
	x := afterimage.New(cfg)
	v := make([]float64, 0, afterimage.NumFeatures)
	var n int64
	for {
		data, ci, err := src.ReadPacket()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return x.Stats(), n, err
		}
		var ok bool
		if v, ok = x.Process(data, ci, v[:0]); !ok {
			continue
		}
		res.AddGroup(v, PacketGroup(x.Last()))
		n++
	}
	return x.Stats(), n, nil
}

// PacketGroup hashes a packet's 5-tuple in canonical order (lower address,
// then lower port, first), so both directions of a conversation share it.
func PacketGroup(id afterimage.PacketID) uint64 {
	a, b := id.Src.As16(), id.Dst.As16()
	pa, pb := id.SrcPort, id.DstPort
	if c := bytes.Compare(a[:], b[:]); c > 0 || c == 0 && pa > pb {
		a, b, pa, pb = b, a, pb, pa
	}
	// FNV-1a, inline: no hasher or slice per packet.
	h := uint64(14695981039346656037)
	add := func(c byte) { h = (h ^ uint64(c)) * 1099511628211 }
	for _, c := range a {
		add(c)
	}
	for _, c := range b {
		add(c)
	}
	for _, c := range [...]byte{byte(pa >> 8), byte(pa), byte(pb >> 8), byte(pb), id.Proto} {
		add(c)
	}
	return h
}
