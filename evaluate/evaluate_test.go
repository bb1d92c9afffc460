package evaluate

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/report.golden.json")

// goldenInput is a fixed, seeded evaluation set: three models, four attack
// labels (one never detected, one without a window start), alert times.
func goldenInput() Input {
	rng := rand.New(rand.NewPCG(7, 11))
	const t0 = int64(1_700_000_000_000_000_000)
	in := Input{
		Models:     []string{"iforest", "kmeans", "ensemble"},
		Thresholds: []float64{0.62, 3.5, 0.7},
		LabelStarts: map[string]int64{
			"portscan": t0 + 10e9, "synflood": t0 + 20e9, "stealth": t0 + 30e9,
			// "beacon" has no window start: its delay is null.
		},
		Inputs:    []Fingerprint{{Path: "mixed.pcap", Size: 12345, SHA256: "ab12"}},
		ModelHash: "sha256:feedface",
		Version:   "test",
		Unmatched: Unmatched{Count: 2, First: []string{"line 3: 10.0.0.9 -> 10.0.0.1 portscan", "line 7: 10.0.0.9 -> any beacon"}},
	}
	add := func(label string, n int, shift float64, start int64) {
		for i := range n {
			a := 0.5 + 0.05*rng.NormFloat64() + 0.1*shift
			k := math.Round((2+rng.ExpFloat64()+shift)*10) / 10 // ties
			e := (a + k/5) / 2
			sc := []float64{a, k, e}
			fa := make([]int64, 3)
			for m, v := range sc {
				if v >= in.Thresholds[m] {
					fa[m] = start + int64(i)*1e8 + int64(m)*1e7
				}
			}
			in.Samples = append(in.Samples, Sample{Label: label, Scores: sc, Start: start, End: start + 1e9, FirstAlert: fa})
		}
	}
	add(Benign, 300, 0, t0)
	add("portscan", 40, 2, t0+10e9+5e8)
	add("synflood", 80, 1, t0+20e9)
	add("beacon", 10, 0.5, t0+40e9)
	// stealth scores far below every threshold: never detected.
	for range 5 {
		in.Samples = append(in.Samples, Sample{Label: "stealth", Scores: []float64{0.1, 0.5, 0.1}, FirstAlert: make([]int64, 3)})
	}
	return in
}

func TestGolden(t *testing.T) {
	r, err := Evaluate(goldenInput())
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.JSON()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "report.golden.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("report.json differs from %s (run with -update after checking why):\n%s", path, got)
	}

	// Independent checks of what the golden holds.
	var doc map[string]any
	if err := json.Unmarshal(got, &doc); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"vigil_version", "model", "inputs", "counts", "unmatched_labels", "models"} {
		if _, ok := doc[key]; !ok {
			t.Errorf("report.json lacks %q", key)
		}
	}
	models := doc["models"].(map[string]any)
	for _, m := range []string{"iforest", "kmeans", "ensemble"} {
		block, ok := models[m].(map[string]any)
		if !ok {
			t.Fatalf("no block for model %s", m)
		}
		for _, key := range []string{"roc_auc", "pr_auc", "precision", "recall", "f1", "fpr", "tp", "fp", "tn", "fn",
			"fpr_at_recall_0.9", "recall_at_fpr_0.001", "macro_roc_auc", "per_label", "threshold"} {
			if _, ok := block[key]; !ok {
				t.Errorf("%s lacks %q", m, key)
			}
		}
		pl := block["per_label"].(map[string]any)
		for _, l := range []string{"portscan", "synflood", "beacon", "stealth"} {
			e, ok := pl[l].(map[string]any)
			if !ok {
				t.Fatalf("%s: no per_label %s", m, l)
			}
			for _, key := range []string{"flows", "detected", "recall", "roc_auc", "first_detection_delay_s"} {
				if _, ok := e[key]; !ok {
					t.Errorf("%s %s lacks %q", m, l, key)
				}
			}
		}
		if pl["stealth"].(map[string]any)["first_detection_delay_s"] != nil {
			t.Errorf("%s: stealth never detected but has a delay", m)
		}
		if pl["beacon"].(map[string]any)["first_detection_delay_s"] != nil {
			t.Errorf("%s: beacon has no window start but has a delay", m)
		}
		// stealth scores below every benign sample: AUC 0 against benign.
		if v := pl["stealth"].(map[string]any)["roc_auc"]; v != 0.0 {
			t.Errorf("%s: stealth roc_auc %v, want 0", m, v)
		}
	}
	// portscan's first alert: its first detected flow (index i) alerts at
	// start + i·0.1 s + m·0.01 s, and its flows start 0.5 s after the window.
	in := goldenInput()
	for m, name := range in.Models {
		first := -1
		for _, s := range in.Samples {
			if s.Label == "portscan" {
				first++
				if s.Scores[m] >= in.Thresholds[m] {
					break
				}
			}
		}
		want := 0.5 + float64(first)*0.1 + float64(m)*0.01
		got := r.Models[name].PerLabel["portscan"].FirstDetectionDelay
		if got == nil || math.Abs(*got-want) > 1e-9 {
			t.Errorf("%s portscan delay = %v, want %v", name, fmtNum(got, 6), want)
		}
	}
}

func TestErrors(t *testing.T) {
	ok := func() Input {
		return Input{Models: []string{"m"}, Thresholds: []float64{1},
			Samples: []Sample{{Label: Benign, Scores: []float64{0}}, {Label: "x", Scores: []float64{2}}}}
	}
	tests := []struct {
		name   string
		modify func(*Input)
		want   error
	}{
		{"no samples", func(in *Input) { in.Samples = nil }, ErrNoSamples},
		{"no models", func(in *Input) { in.Models, in.Thresholds = nil, nil }, ErrNoModels},
		{"threshold count", func(in *Input) { in.Thresholds = nil }, ErrInput},
		{"NaN threshold", func(in *Input) { in.Thresholds[0] = math.NaN() }, ErrInput},
		{"NaN score", func(in *Input) { in.Samples[1].Scores[0] = math.NaN() }, ErrInput},
		{"score count", func(in *Input) { in.Samples[0].Scores = []float64{1, 2} }, ErrInput},
		{"alert count", func(in *Input) { in.Samples[0].FirstAlert = []int64{1, 2} }, ErrInput},
		{"empty label", func(in *Input) { in.Samples[0].Label = "" }, ErrInput},
		{"repeated model", func(in *Input) { in.Models = []string{"m", "m"}; in.Thresholds = []float64{1, 1}; in.Samples = nil }, ErrInput},
		{"empty model name", func(in *Input) { in.Models = []string{""} }, ErrInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := ok()
			tt.modify(&in)
			r, err := Evaluate(in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if r != nil {
				t.Error("report returned with an error")
			}
		})
	}
	if _, err := Evaluate(ok()); err != nil {
		t.Fatalf("valid input: %v", err)
	}
}

// TestOneClass: with one class only, AUCs are null with a reason, never
// NaN, and the report still writes.
func TestOneClass(t *testing.T) {
	tests := []struct {
		name      string
		label     string
		nullKeys  []string
		definedPR bool
	}{
		{"all benign", Benign, []string{"roc_auc", "pr_auc", "recall", "fpr_at_recall_0.9", "recall_at_fpr_0.001", "macro_roc_auc"}, false},
		{"all attack", "x", []string{"roc_auc", "fpr", "fpr_at_recall_0.9", "macro_roc_auc", "per_label.x.roc_auc"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var samples []Sample
			for i := range 10 {
				samples = append(samples, Sample{Label: tt.label, Scores: []float64{float64(i)}})
			}
			r, err := Evaluate(Input{Models: []string{"m"}, Thresholds: []float64{5}, Samples: samples})
			if err != nil {
				t.Fatal(err)
			}
			m := r.Models["m"]
			if m.ROCAUC != nil {
				t.Errorf("roc_auc = %v, want null", *m.ROCAUC)
			}
			if (m.PRAUC != nil) != tt.definedPR {
				t.Errorf("pr_auc defined = %v, want %v", m.PRAUC != nil, tt.definedPR)
			}
			if tt.definedPR && *m.PRAUC != 1 {
				t.Errorf("pr_auc with attacks only = %v, want 1", *m.PRAUC)
			}
			for _, k := range tt.nullKeys {
				if m.NullReasons[k] == "" {
					t.Errorf("no null reason for %s (reasons: %v)", k, m.NullReasons)
				}
			}
			js, err := r.JSON()
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(js) || !bytes.Contains(js, []byte(`"roc_auc": null`)) {
				t.Errorf("report.json:\n%s", js)
			}
			if err := r.WriteDir(t.TempDir()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestWriteDir(t *testing.T) {
	r, err := Evaluate(goldenInput())
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "out", "nested")
	for range 2 { // the second run overwrites in place
		if err := r.WriteDir(dir); err != nil {
			t.Fatal(err)
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 4 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("files %v, want exactly report.json, report.md, roc.png, pr.png (no temporaries)", names)
	}
	for _, name := range []string{ROCFile, PRFile} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if b := img.Bounds(); b.Dx() < 400 || b.Dy() < 300 || b.Dx() > 2000 || b.Dy() > 2000 {
			t.Errorf("%s is %dx%d", name, b.Dx(), b.Dy())
		}
	}
	js, err := os.ReadFile(filepath.Join(dir, JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if *back.Models["kmeans"].ROCAUC != *r.Models["kmeans"].ROCAUC {
		t.Error("report.json does not round-trip")
	}
	md, err := os.ReadFile(filepath.Join(dir, MDFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"![ROC curves](roc.png)", "![Precision-recall curves](pr.png)",
		"| portscan | 40 |", "macro ROC-AUC", "**Warning:** 2 label row(s) matched no flow",
		"line 3: 10.0.0.9 -> 10.0.0.1 portscan", "### ensemble", "first-detection delay"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	if strings.Contains(string(md), "NaN") {
		t.Error("report.md contains NaN")
	}
}

// TestPlotPoints: curves are downsampled, keep their ends, and stay within
// the unit square.
func TestPlotPoints(t *testing.T) {
	const n = 200_000
	rng := rand.New(rand.NewPCG(3, 4))
	samples := make([]Sample, n)
	for i := range samples {
		l, shift := Benign, 0.0
		if i%4 == 0 {
			l, shift = "x", 1
		}
		samples[i] = Sample{Label: l, Scores: []float64{rng.NormFloat64() + shift}}
	}
	r, err := Evaluate(Input{Models: []string{"m"}, Thresholds: []float64{1}, Samples: samples})
	if err != nil {
		t.Fatal(err)
	}
	for name, pts := range map[string][]point{"roc": r.curves["m"].roc, "pr": r.curves["m"].pr} {
		if len(pts) < 100 || len(pts) > maxPlotPoints {
			t.Errorf("%s: %d points", name, len(pts))
		}
		for _, p := range pts {
			if p.x < 0 || p.x > 1 || p.y < 0 || p.y > 1 {
				t.Fatalf("%s: point %v outside the unit square", name, p)
			}
		}
		if last := pts[len(pts)-1]; last.x != 1 {
			t.Errorf("%s: last point %v, want x = 1", name, last)
		}
	}
	if p := r.curves["m"].roc[0]; p != (point{0, 0}) {
		t.Errorf("roc starts at %v", p)
	}
}

// TestWriteDirRefusesNonRegular: a report path that exists as something
// other than a regular file (a FIFO here) is refused, not renamed over.
func TestWriteDirRefusesNonRegular(t *testing.T) {
	r, err := Evaluate(goldenInput())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	fifo := filepath.Join(dir, JSONFile)
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	if err := r.WriteDir(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("WriteDir over a FIFO: %v", err)
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("the FIFO was replaced: %v", err)
	}
}
