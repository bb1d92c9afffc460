package features

import (
	"os"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
)

const labMixed = "/work/shared/data/lab/mixed.pcap"

func benchPackets(b *testing.B, name string) []testPacket {
	switch name {
	case "testdata":
		return readPackets(b, "testdata/lab-head.pcap", "testdata/lab-scan.pcap")
	case "mixed":
		if _, err := os.Stat(labMixed); err != nil {
			b.Skipf("%s not present: %v", labMixed, err)
		}
		return readPackets(b, labMixed)
	}
	panic("unknown capture " + name)
}

// shift moves pass i of a replay later in time so that every pass sees
// fresh flows (as a longer capture would), not the flows of the last.
func shift(pkts []testPacket, pass int) int64 {
	if len(pkts) == 0 {
		return 0
	}
	return int64(pass) * (pkts[len(pkts)-1].ci.Timestamp - pkts[0].ci.Timestamp + int64(time.Hour))
}

func BenchmarkDecode(b *testing.B) {
	for _, name := range []string{"testdata", "mixed"} {
		b.Run(name, func(b *testing.B) {
			pkts := benchPackets(b, name)
			d := newDecoder()
			var p packet
			b.ReportAllocs()
			n, ip := 0, 0
			for b.Loop() {
				for i := range pkts {
					if d.decode(pkts[i].data, pkts[i].ci.LinkType, &p) == ErrNone && p.kind == kindIP {
						ip++
					}
				}
				n += len(pkts)
			}
			if ip == 0 {
				b.Fatal("no IP packets decoded")
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "pkts/s")
		})
	}
}

// BenchmarkFlowTable is decode + flow table (with expiry), without feature
// vectors: flows are removed as Process would, but not emitted.
func BenchmarkFlowTable(b *testing.B) {
	for _, name := range []string{"testdata", "mixed"} {
		b.Run(name, func(b *testing.B) {
			pkts := benchPackets(b, name)
			e := NewExtractor(Config{}, nil)
			noVectors(e)
			b.ReportAllocs()
			n, pass := 0, 0
			for b.Loop() {
				off := shift(pkts, pass)
				for i := range pkts {
					p := &e.pkt
					p.ts = pkts[i].ci.Timestamp + off
					if p.ts > e.now {
						e.now = p.ts
						e.expire()
					}
					if e.dec.decode(pkts[i].data, pkts[i].ci.LinkType, p) == ErrNone && p.kind == kindIP {
						e.update(p, p.ts)
					}
				}
				n += len(pkts)
				pass++
			}
			if e.stats.FlowsCreated == 0 {
				b.Fatal("no flows")
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "pkts/s")
		})
	}
}

// BenchmarkExtractor is the whole extractor: decode, flow table, expiry
// and feature vectors of every emitted flow.
func BenchmarkExtractor(b *testing.B) {
	for _, name := range []string{"testdata", "mixed"} {
		b.Run(name, func(b *testing.B) {
			pkts := benchPackets(b, name)
			flows := 0
			e := NewExtractor(Config{}, func(r *Record) { flows++ })
			b.ReportAllocs()
			n, pass := 0, 0
			for b.Loop() {
				off := shift(pkts, pass)
				for i := range pkts {
					ci := pkts[i].ci
					ci.Timestamp += off
					e.Process(pkts[i].data, ci)
				}
				n += len(pkts)
				pass++
			}
			e.Flush()
			if flows == 0 || e.Stats().Packets != uint64(n) {
				b.Fatalf("%d flows, stats %+v", flows, e.Stats())
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "pkts/s")
			b.ReportMetric(float64(flows)/b.Elapsed().Seconds(), "flows/s")
		})
	}
}

// BenchmarkCSVWriter measures writing rows.
func BenchmarkCSVWriter(b *testing.B) {
	recs, _ := extractAll(Config{CommunityID: true}, readPackets(b, "testdata/lab-scan.pcap"))
	w := NewCSVWriter(discard{}, FlowSchema())
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for i := range recs {
			if err := w.Write(&recs[i]); err != nil {
				b.Fatal(err)
			}
		}
		n += len(recs)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

var _ = layers.LinkTypeEthernet

// noVectors makes e skip feature computation (for BenchmarkFlowTable).
func noVectors(e *Extractor) {
	e.groups = nil
	e.schema = &Schema{Name: "none"}
}
