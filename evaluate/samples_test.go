package evaluate

import (
	"encoding/csv"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestWriteSamples: one line per sample, read back with encoding/csv: a
// label with a comma and a quote survives, a table row has empty 5-tuple
// fields, and the alert columns follow score ≥ threshold.
func TestWriteSamples(t *testing.T) {
	dir := t.TempDir()
	in := &Input{
		Models:     []string{"kmeans", "ensemble"},
		Thresholds: []float64{2, 0.5},
		Samples: []Sample{
			{Label: Benign, Scores: []float64{1.5, 0.5}, Start: 10, End: 20,
				Flow: &FlowKey{Proto: "TCP", Src: netip.MustParseAddr("10.0.0.1"), Sport: 40000, Dst: netip.MustParseAddr("::1"), Dport: 22}},
			{Label: `odd, "label"`, Scores: []float64{2, 0.25}},
		},
	}
	if err := WriteSamples(dir, in); err != nil {
		t.Fatal(err)
	}
	fh, err := os.Open(filepath.Join(dir, SamplesFile))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	got, err := csv.NewReader(fh).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"label", "start_ns", "end_ns", "proto", "src", "sport", "dst", "dport", "kmeans_score", "ensemble_score", "kmeans_alert", "ensemble_alert"},
		{"benign", "10", "20", "TCP", "10.0.0.1", "40000", "::1", "22", "1.5", "0.5", "0", "1"},
		{`odd, "label"`, "0", "0", "", "", "", "", "", "2", "0.25", "1", "0"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("samples.csv:\n got %q\nwant %q", got, want)
	}
	in.Samples[1].Scores = []float64{1}
	if err := WriteSamples(dir, in); err == nil {
		t.Error("a sample with one score for two models was written")
	}
}
