package train

import (
	"encoding/binary"
	"errors"
	"hash/fnv"
	"io"

	"github.com/vigil-nids/vigil/capture"
	"github.com/vigil-nids/vigil/features"
)

// Extract reads src to its end through an Extractor configured by cfg and
// offers every emitted record's vector to res: final records and, when
// cfg.SnapshotInterval is set, the interim records of active flows, so the
// models learn the same kinds of vectors detect scores. It returns the
// extractor's statistics and the number of records offered.
func Extract(src capture.Source, cfg features.Config, res *Reservoir) (features.Stats, int64, error) {
	var n int64
	x := features.NewExtractor(cfg, func(r *features.Record) {
		res.AddGroup(r.Vector, flowGroup(r))
		n++
	})
	for {
		data, ci, err := src.ReadPacket()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			x.Flush()
			return x.Stats(), n, err
		}
		x.Process(data, ci)
	}
	x.Flush()
	return x.Stats(), n, nil
}

// flowGroup identifies the flow record r belongs to: its interim and final
// records share the key, the start time and Seq.
func flowGroup(r *features.Record) uint64 {
	h := fnv.New64a()
	var b [8]byte
	a, d := r.Src.As16(), r.Dst.As16()
	h.Write(a[:])
	h.Write(d[:])
	binary.LittleEndian.PutUint64(b[:], uint64(r.Start))
	h.Write(b[:])
	binary.LittleEndian.PutUint64(b[:], uint64(r.Sport)<<48|uint64(r.Dport)<<32|uint64(r.Proto)<<24|uint64(r.Seq))
	h.Write(b[:])
	return h.Sum64()
}
