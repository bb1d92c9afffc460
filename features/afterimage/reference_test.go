package afterimage

import (
	"bufio"
	"compress/gzip"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestReference compares every feature of every IP packet of a 600-packet
// cut of the lab sample with testdata/lab-mixed-600.csv.gz, written by
// testdata/kitsune_ref.py (an independent Python implementation of the
// definitions with its own pcap reader), to 1e-6 relative.
func TestReference(t *testing.T) {
	frames := loadFrames(t, "testdata/lab-mixed-600.pcap.gz", 1000)
	f, err := os.Open("testdata/lab-mixed-600.csv.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	want := map[int][]float64{}
	for sc.Scan() {
		cols := strings.Split(sc.Text(), ",")
		if len(cols) != NumFeatures+1 {
			t.Fatalf("reference row with %d columns", len(cols))
		}
		i, _ := strconv.Atoi(cols[0])
		row := make([]float64, NumFeatures)
		for j, c := range cols[1:] {
			if row[j], err = strconv.ParseFloat(c, 64); err != nil {
				t.Fatal(err)
			}
		}
		want[i] = row
	}
	if len(want) < 500 {
		t.Fatalf("only %d reference rows", len(want))
	}
	names := Schema().Names()
	x := New(Config{})
	var v []float64
	var n, bad int
	for i, fr := range frames {
		var ok bool
		v, ok = x.Process(fr.data, fr.ci, v[:0])
		w, inRef := want[i]
		if ok != inRef {
			t.Fatalf("frame %d: Go vector %v, reference row %v", i, ok, inRef)
		}
		if !ok {
			continue
		}
		n++
		for j := range w {
			if !close(v[j], w[j], 1e-6) {
				if bad++; bad < 20 {
					t.Errorf("frame %d %s: got %.12g, reference %.12g", i, names[j], v[j], w[j])
				}
			}
		}
	}
	if n != len(want) || bad > 0 {
		t.Errorf("%d vectors compared of %d reference rows, %d values differ", n, len(want), bad)
	}
}
