package afterimage

import (
	"math"
	"testing"

	"github.com/gopacket/gopacket/layers"
	"github.com/vigil-nids/vigil/capture"
)

// FuzzProcess feeds arbitrary frames (two per input, so pairs get both
// directions) under several link types: never a panic, and a vector is
// either absent or NumFeatures finite, non-negative-where-defined values.
func FuzzProcess(f *testing.F) {
	for _, p := range tiny {
		f.Add(frame(f, p), int64(1e9), uint8(0))
	}
	f.Add(frame(f, tiny[0])[14:], int64(-5), uint8(3))
	f.Add([]byte{0x60, 0, 0, 0, 0, 0, 58, 64}, int64(0), uint8(3))
	lts := []layers.LinkType{layers.LinkTypeEthernet, layers.LinkTypeLinuxSLL, layers.LinkTypeNull, layers.LinkTypeRaw, layers.LinkTypeIPv4, layers.LinkTypeIPv6, layers.LinkTypeLinuxSLL2}
	names := Schema().Names()
	f.Fuzz(func(t *testing.T, data []byte, ts int64, lt uint8) {
		x := New(Config{MaxKeys: 4})
		ci := capture.CaptureInfo{Timestamp: ts, Length: len(data), CaptureLength: len(data), LinkType: lts[int(lt)%len(lts)]}
		var v []float64
		for i := range 3 {
			var ok bool
			v, ok = x.Process(data, ci, v[:0])
			if !ok {
				if len(v) != 0 {
					t.Fatal("vector appended for a rejected frame")
				}
				return
			}
			if len(v) != NumFeatures {
				t.Fatalf("len %d", len(v))
			}
			for j, y := range v {
				if math.IsNaN(y) || math.IsInf(y, 0) {
					t.Fatalf("round %d: %s = %v", i, names[j], y)
				}
			}
			ci.Timestamp += int64(i) * 3e8
		}
	})
}
