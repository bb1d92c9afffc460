package main

import (
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"math"
	"os"
	"strconv"
	"testing"
)

// --features packet writes one row per IP packet whose features are the
// independent Python reference's (features/afterimage/testdata).
func TestExtractPackets(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"--features", "packet", "--pcap", "../../features/afterimage/testdata/lab-mixed-600.pcap.gz", "--out", "-"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	rows, err := csv.NewReader(&stdout).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("../../features/afterimage/testdata/lab-mixed-600.csv.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := csv.NewReader(zr).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(ref)+1 || len(rows[0]) != 6+115 || rows[0][6] != "MI_dir_L5_weight" {
		t.Fatalf("%d rows of %d columns, reference %d rows", len(rows), len(rows[0]), len(ref))
	}
	bad := 0
	for i, r := range ref {
		for j, want := range r[1:] {
			g, err1 := strconv.ParseFloat(rows[i+1][6+j], 64)
			w, err2 := strconv.ParseFloat(want, 64)
			if err1 != nil || err2 != nil || math.Abs(g-w) > 1e-6*math.Max(1, math.Abs(w)) {
				if bad++; bad < 10 {
					t.Errorf("row %d column %s = %s, reference %s", i+1, rows[0][6+j], rows[i+1][6+j], want)
				}
			}
		}
	}
	for _, args := range [][]string{
		{"--features", "nope", "--pcap", "x", "--out", "-"},
		{"--features", "packet", "--pcap", "x", "--out", "y.parquet"},
	} {
		if code := run(args, &stdout, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
