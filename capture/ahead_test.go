package capture

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// errAfter returns its data, then err instead of io.EOF.
type errAfter struct {
	r   io.Reader
	err error
}

func (e *errAfter) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		err = e.err
	}
	return n, err
}

// TestAheadLikeBufio drives an ahead and a bufio.Reader over the same
// stream with the same random Peeks and Discards (chunks small enough
// that most Peeks straddle two): bytes, counts and errors must match.
func TestAheadLikeBufio(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	readErr := errors.New("disk on fire")
	for round := range 300 {
		data := make([]byte, rng.IntN(5000))
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		carry := 1 + rng.IntN(200)
		size := 1 + rng.IntN(400)
		var end error = io.EOF
		if round%3 == 0 {
			end = readErr
		}
		a := startAhead(&errAfter{bytes.NewReader(data), end}, size, carry)
		b := bufio.NewReaderSize(&errAfter{bytes.NewReader(data), end}, 16+carry)
		for step := 0; step < 10_000; step++ {
			n := rng.IntN(carry + 1)
			if rng.IntN(2) == 0 {
				pa, ea := a.Peek(n)
				pb, eb := b.Peek(n)
				if !bytes.Equal(pa, pb) || ea != eb {
					t.Fatalf("round %d step %d: Peek(%d): ahead %d bytes %v, bufio %d bytes %v", round, step, n, len(pa), ea, len(pb), eb)
				}
			} else {
				if rng.IntN(4) == 0 {
					n = rng.IntN(3 * size) // discards may be longer than a chunk
				}
				da, ea := a.Discard(n)
				db, eb := b.Discard(n)
				if da != db || ea != eb {
					t.Fatalf("round %d step %d: Discard(%d): ahead %d %v, bufio %d %v", round, step, n, da, ea, db, eb)
				}
				if ea != nil {
					break
				}
			}
		}
		a.close()
	}
}

// TestAheadFiles reads every test capture through Files (read ahead) and
// through NewReader (bufio): the same packets, infos and warnings.
func TestAheadFiles(t *testing.T) {
	paths, _ := filepath.Glob("testdata/*.pcap*")
	corpus, _ := filepath.Glob("testdata/corpus/*")
	full, err := os.ReadFile("testdata/eth.pcap")
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.pcap")
	if err := os.WriteFile(cut, full[:len(full)-7], 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range append(append(paths, corpus...), cut) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var wf, wr []string
		fs, errF := Open([]string{p}, Options{Warn: func(s string) { wf = append(wf, s) }})
		r, errR := NewReader(bytes.NewReader(b), p, Options{Warn: func(s string) { wr = append(wr, s) }})
		if (errF == nil) != (errR == nil) {
			t.Fatalf("%s: Open %v, NewReader %v", p, errF, errR)
		}
		if errF != nil {
			continue
		}
		n := 0
		for {
			df, cf, ef := fs.ReadPacket()
			dr, cr, er := r.ReadPacket()
			if !bytes.Equal(df, dr) || cf != cr || ef != er {
				t.Fatalf("%s packet %d: Files %d bytes %+v %v; Reader %d bytes %+v %v", p, n, len(df), cf, ef, len(dr), cr, er)
			}
			if ef != nil {
				break
			}
			n++
		}
		if !slices.Equal(wf, wr) {
			t.Fatalf("%s: warnings %q vs %q", p, wf, wr)
		}
		fs.Close()
	}
}

// TestAheadClose: closing Files in the middle of a file stops its
// reading goroutine, and reading after Close gives io.EOF.
func TestAheadClose(t *testing.T) {
	fs, err := Open([]string{"testdata/eth.pcap", "testdata/eth.pcap.gz"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := fs.ReadPacket(); err != nil {
		t.Fatal(err)
	}
	if err := fs.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := fs.ReadPacket(); err != io.EOF {
		t.Fatalf("after Close: %v", err)
	}
}
