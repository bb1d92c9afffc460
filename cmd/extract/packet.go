package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/vigil-nids/vigil/capture"
	"github.com/vigil-nids/vigil/features/afterimage"
)

// extractPackets writes one row of afterimage features per IP packet.
func extractPackets(src capture.Source, o options, out io.Writer, commit func() error, stderr io.Writer, warns *int) error {
	x := afterimage.New(afterimage.Config{MaxKeys: o.maxFlows})
	w := afterimage.NewCSVWriter(out)
	v := make([]float64, 0, afterimage.NumFeatures)
	start := time.Now()
	for {
		data, ci, err := src.ReadPacket()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read capture: %w", err)
		}
		var ok bool
		if v, ok = x.Process(data, ci, v[:0]); !ok {
			continue
		}
		if err := w.Write(x.Last(), v); err != nil {
			return fmt.Errorf("write %s: %w", o.out, err)
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("write %s: %w", o.out, err)
	}
	if err := commit(); err != nil {
		return err
	}
	s := x.Stats()
	el := time.Since(start).Seconds()
	fmt.Fprintf(stderr, "extract: %d packets, %d IP rows, %d evicted, %d warnings; %.2fs (%.0f pkts/s)\n",
		s.Packets, s.IP, s.Evicted, *warns, el, float64(s.Packets)/el)
	return nil
}
