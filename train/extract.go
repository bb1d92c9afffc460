package train

import (
	"errors"
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
		res.Add(r.Vector)
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
