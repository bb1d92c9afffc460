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

// FuzzMemReader: on any input that is not gzip, the in-place reader of
// mapped files yields the same packets, errors and warnings as the
// buffered reader.
func FuzzMemReader(f *testing.F) {
	for _, glob := range []string{"testdata/*.pcap*", "testdata/corpus/*"} {
		paths, _ := filepath.Glob(glob)
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b {
			return
		}
		const maxCap = 16 << 10
		var wb, wm []string
		rb, errB := NewReader(bytes.NewReader(b), "fuzz", Options{MaxCaptureLength: maxCap, Warn: func(s string) { wb = append(wb, s) }})
		rm, errM := newMemReader(&memSource{b: b}, "fuzz", Options{MaxCaptureLength: maxCap, Warn: func(s string) { wm = append(wm, s) }})
		if (errB == nil) != (errM == nil) || errB != nil && errB.Error() != errM.Error() {
			t.Fatalf("open: buffered %v, mem %v", errB, errM)
		}
		if errB != nil {
			return
		}
		for i := 0; i <= len(b); i++ {
			db, cb, eb := rb.ReadPacket()
			dm, cm, em := rm.ReadPacket()
			if !bytes.Equal(db, dm) || cb != cm || eb != em {
				t.Fatalf("packet %d: buffered %x %+v %v, mem %x %+v %v", i, db, cb, eb, dm, cm, em)
			}
			if eb != nil {
				break
			}
		}
		if len(wb) != len(wm) || len(wb) > 0 && wb[0] != wm[0] {
			t.Fatalf("warnings: buffered %q, mem %q", wb, wm)
		}
	})
}
