package features

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"testing"

	"github.com/vigil-nids/vigil/capture"
)

var update = flag.Bool("update", false, "rewrite golden files and docs/features.md")

type testPacket struct {
	data []byte
	ci   capture.CaptureInfo
}

// readPackets reads every packet of the captures at paths into memory.
func readPackets(tb testing.TB, paths ...string) []testPacket {
	tb.Helper()
	src, err := capture.Open(paths, capture.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	defer src.Close()
	var pkts []testPacket
	for {
		data, ci, err := src.ReadPacket()
		if errors.Is(err, io.EOF) {
			return pkts
		}
		if err != nil {
			tb.Fatal(err)
		}
		pkts = append(pkts, testPacket{bytes.Clone(data), ci})
	}
}

// extractAll runs an Extractor over pkts and returns copies of the final
// records.
func extractAll(cfg Config, pkts []testPacket) ([]Record, *Extractor) {
	var out []Record
	e := NewExtractor(cfg, func(r *Record) {
		c := *r
		c.Vector = append([]float64(nil), r.Vector...)
		out = append(out, c)
	})
	for _, p := range pkts {
		e.Process(p.data, p.ci)
	}
	e.Flush()
	return out, e
}

// value returns the named feature of r.
func value(tb testing.TB, r *Record, name string) float64 {
	tb.Helper()
	i := FlowSchema().Index(name)
	if i < 0 {
		tb.Fatalf("no feature %q", name)
	}
	return r.Vector[i]
}

func mustRead(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
