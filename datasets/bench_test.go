package datasets

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"testing"

	"github.com/vigil-nids/vigil/features"
)

// benchFlows makes n flows over the span of l's rows: every other one is a
// row's own flow seen from the other side (it must match that row), the
// rest are flows of the same hosts on ports no row uses (they must stay
// benign). It returns the flows and how many should match.
func benchFlows(l *Labels, n int) ([]features.FlowID, int) {
	rng := rand.New(rand.NewPCG(1, 2))
	ids := make([]features.FlowID, n)
	want := 0
	for i := range ids {
		r := &l.Rows[rng.IntN(len(l.Rows))]
		id := features.FlowID{Start: r.Start, End: r.End, Src: r.Dst.Addr(), Dst: r.Src.Addr(),
			Sport: uint16(r.Dport), Dport: uint16(r.Sport), Proto: uint8(r.Proto)}
		if i%2 == 1 {
			id.Sport, id.Dport = 1, 9 // discard from tcpmux: no row has these
		} else {
			want++
		}
		ids[i] = id
	}
	return ids, want
}

func benchMatch(b *testing.B, l *Labels) {
	ids, want := benchFlows(l, 100_000)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		got := 0
		for i := range ids {
			if _, row := l.Match(ids[i]); row >= 0 {
				got++
			}
		}
		if got != want {
			b.Fatalf("%d flows matched, want %d", got, want)
		}
		n += len(ids)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "flows/s")
}

func BenchmarkMatch(b *testing.B) {
	b.Run("cut", func(b *testing.B) {
		l, err := LoadLabelsFile("testdata/insider-labels-cut.csv")
		if err != nil {
			b.Fatal(err)
		}
		benchMatch(b, l)
	})
	b.Run("insider", func(b *testing.B) {
		l, err := LoadLabelsFile(sharedFile(b, "lab-insider/labels.csv"))
		if err != nil {
			b.Fatal(err)
		}
		benchMatch(b, l)
	})
	b.Run("windows", func(b *testing.B) {
		// The lab's 9 windows, flows between its hosts.
		l, err := LoadLabelsFile("testdata/lab-labels.csv")
		if err != nil {
			b.Fatal(err)
		}
		ids := make([]features.FlowID, 100_000)
		want := 0
		for i := range ids {
			r := &l.Rows[i%len(l.Rows)]
			ids[i] = features.FlowID{Start: r.Start, End: r.Start + 1e6, Src: r.Dst.Addr(), Dst: r.Src.Addr(), Proto: 6}
			if i%2 == 1 {
				ids[i].Src = netip.MustParseAddr("10.77.0.21")
			} else {
				want++
			}
		}
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			got := 0
			for i := range ids {
				if _, row := l.Match(ids[i]); row >= 0 {
					got++
				}
			}
			if got < want {
				b.Fatalf("%d flows matched, want >= %d", got, want)
			}
			n += len(ids)
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "flows/s")
	})
}

func BenchmarkLoadLabels(b *testing.B) {
	data, err := os.ReadFile(sharedFile(b, "lab-insider/labels.csv"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		l, err := LoadLabels(bytes.NewReader(data), "labels.csv")
		if err != nil || len(l.Rows) != 21419 {
			b.Fatalf("%v, %d rows", err, len(l.Rows))
		}
		n += len(l.Rows)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkNSLKDD(b *testing.B) {
	e, err := FitEncoderFile("nsl-kdd", "testdata/nslkdd-train-head200.txt")
	if err != nil {
		b.Fatal(err)
	}
	one, err := os.ReadFile("testdata/nslkdd-test-head200.txt")
	if err != nil {
		b.Fatal(err)
	}
	data := bytes.Repeat(one, 100) // 20,000 rows
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	n := 0
	var dst []float64
	for b.Loop() {
		tr, err := e.Open(bytes.NewReader(data), "bench")
		if err != nil {
			b.Fatal(err)
		}
		rows := 0
		for {
			row, _, err := tr.Next(dst)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			dst = row
			rows++
		}
		if rows != 20000 {
			b.Fatalf("%d rows, want 20000", rows)
		}
		n += rows
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
}
