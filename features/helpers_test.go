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

// checkInvariants walks the table: every live flow is in exactly the list
// its closing bit names, the lists link both ways, and the index finds
// every flow.
func checkInvariants(tb testing.TB, e *Extractor) {
	tb.Helper()
	seen := 0
	for _, l := range []struct {
		list    list
		closing bool
	}{{e.lru, false}, {e.closing, true}} {
		prev := nilSlot
		for s := l.list.head; s != nilSlot; s = e.flows.at(int(s)).next {
			f := e.flows.at(int(s))
			if f.state&stInUse == 0 || (f.state&stClosing != 0) != l.closing || f.prev != prev {
				tb.Fatalf("slot %d: state %b prev %d (want %d) in closing=%v list", s, f.state, f.prev, prev, l.closing)
			}
			if got := e.idx.find(&f.key, f.key.hash(e.idx.seed), &e.flows); got != int(s) {
				tb.Fatalf("index finds slot %d for slot %d", got, s)
			}
			prev = s
			if seen++; seen > e.live {
				tb.Fatal("list longer than the live flows (cycle?)")
			}
		}
		if l.list.tail != prev {
			tb.Fatalf("tail %d, last %d", l.list.tail, prev)
		}
	}
	if seen != e.live || e.idx.n != e.live {
		tb.Fatalf("lists hold %d flows, index %d, live %d", seen, e.idx.n, e.live)
	}
}
