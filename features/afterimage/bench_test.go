package afterimage

import (
	"errors"
	"io"
	"testing"

	"github.com/vigil-nids/vigil/capture"
)

type frameCI struct {
	data []byte
	ci   capture.CaptureInfo
}

func loadFrames(tb testing.TB, path string, max int) []frameCI {
	tb.Helper()
	src, err := capture.Open([]string{path}, capture.Options{})
	if err != nil {
		tb.Skipf("%s not readable: %v", path, err)
	}
	defer src.Close()
	var out []frameCI
	for len(out) < max {
		data, ci, err := src.ReadPacket()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, frameCI{append([]byte(nil), data...), ci})
	}
	return out
}

// BenchmarkProcess measures packets per second over the lab sample's
// mixed cut (benign traffic, scans, a SYN flood), in capture order.
func BenchmarkProcess(b *testing.B) {
	frames := loadFrames(b, "../../testdata/lab/mixed.pcap.gz", 1<<20)
	if len(frames) == 0 {
		b.Skip("no packets")
	}
	b.ReportAllocs()
	dst := make([]float64, 0, NumFeatures)
	var ip int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		x := New(Config{})
		for _, f := range frames {
			var ok bool
			if dst, ok = x.Process(f.data, f.ci, dst[:0]); ok {
				ip++
			}
		}
	}
	b.StopTimer()
	if ip == 0 {
		b.Fatal("no IP packets")
	}
	b.ReportMetric(float64(len(frames))*float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
}
