package capture

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReader feeds arbitrary bytes to NewReader and reads every packet:
// it must end with io.EOF or an open error, never panic or loop.
func FuzzReader(f *testing.F) {
	addCaptureSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		// A small bound keeps the buffer (and each execution) small;
		// the code paths are the same as with the default.
		const maxCap = 16 << 10
		r, err := NewReader(bytes.NewReader(b), "fuzz", Options{MaxCaptureLength: maxCap})
		if err != nil {
			return
		}
		for i := 0; i <= len(b); i++ {
			data, ci, err := r.ReadPacket()
			if err != nil {
				if err != io.EOF {
					t.Fatalf("error other than io.EOF: %v", err)
				}
				if _, _, err := r.ReadPacket(); err != io.EOF {
					t.Fatalf("ReadPacket after EOF: %v", err)
				}
				return
			}
			if len(data) != ci.CaptureLength || len(data) > maxCap {
				t.Fatalf("len(data)=%d CaptureLength=%d", len(data), ci.CaptureLength)
			}
		}
		// Each packet consumes at least 8 bytes of input, except from a
		// gzip stream, which can expand.
		if len(b) > 2 && b[0] != 0x1f {
			t.Fatalf("more packets than input bytes (%d)", len(b))
		}
	})
}

// FuzzAheadReader: reading a stream a chunk ahead on another goroutine
// (as Files does) yields the same packets, errors and warnings as
// reading it through bufio.
func FuzzAheadReader(f *testing.F) {
	addCaptureSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		const maxCap = 16 << 10
		var wb, wa []string
		rb, errB := NewReader(bytes.NewReader(b), "fuzz", Options{MaxCaptureLength: maxCap, Warn: func(s string) { wb = append(wb, s) }})
		ra, errA := newReader(bytes.NewReader(b), "fuzz", Options{MaxCaptureLength: maxCap, Warn: func(s string) { wa = append(wa, s) }}, true)
		if (errB == nil) != (errA == nil) || errB != nil && errB.Error() != errA.Error() {
			t.Fatalf("open: bufio %v, ahead %v", errB, errA)
		}
		if errB != nil {
			return
		}
		defer ra.close()
		for i := 0; i <= len(b)*64+64; i++ {
			db, cb, eb := rb.ReadPacket()
			da, ca, ea := ra.ReadPacket()
			if !bytes.Equal(db, da) || cb != ca || eb != ea {
				t.Fatalf("packet %d: bufio %d bytes %+v %v, ahead %d bytes %+v %v", i, len(db), cb, eb, len(da), ca, ea)
			}
			if eb != nil {
				break
			}
		}
		if len(wb) != len(wa) || len(wb) > 0 && wb[0] != wa[0] {
			t.Fatalf("warnings: bufio %q, ahead %q", wb, wa)
		}
	})
}

// addCaptureSeeds adds every capture under testdata/ to f's seed corpus.
func addCaptureSeeds(f *testing.F) {
	for _, glob := range []string{"testdata/*.pcap*", "testdata/*.gz", "testdata/corpus/*"} {
		paths, _ := filepath.Glob(glob)
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
}
