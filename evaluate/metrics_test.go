package evaluate

import (
	"encoding/csv"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// sklearnMetrics mirrors one entry of testdata/sklearn_expected.json.
type sklearnMetrics struct {
	Threshold       float64 `json:"threshold"`
	ROCAUC          float64 `json:"roc_auc"`
	PRAUC           float64 `json:"pr_auc"`
	Precision       float64 `json:"precision"`
	Recall          float64 `json:"recall"`
	F1              float64 `json:"f1"`
	FPR             float64 `json:"fpr"`
	TP, FP, TN, FN  int64   `json:"-"`
	FPRAtRecall09   float64 `json:"fpr_at_recall_0.9"`
	RecallAtFPR0001 float64 `json:"recall_at_fpr_0.001"`
	MacroROCAUC     float64 `json:"macro_roc_auc"`
	PerLabel        map[string]struct {
		Flows    int     `json:"flows"`
		Detected int     `json:"detected"`
		Recall   float64 `json:"recall"`
		ROCAUC   float64 `json:"roc_auc"`
	} `json:"per_label"`
	Counts map[string]int64 `json:"-"`
}

func (m *sklearnMetrics) UnmarshalJSON(b []byte) error {
	type plain sklearnMetrics
	if err := json.Unmarshal(b, (*plain)(m)); err != nil {
		return err
	}
	var c struct{ TP, FP, TN, FN int64 }
	if err := json.Unmarshal(b, &c); err != nil {
		return err
	}
	m.TP, m.FP, m.TN, m.FN = c.TP, c.FP, c.TN, c.FN
	return nil
}

// readFixture reads testdata/sklearn_<name>.csv: label, score_a, score_b.
func readFixture(t testing.TB, name string) []Sample {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "sklearn_"+name+".csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []Sample
	for i, row := range rows[1:] {
		a, err1 := strconv.ParseFloat(row[1], 64)
		b, err2 := strconv.ParseFloat(row[2], 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("row %d: %v %v", i+2, err1, err2)
		}
		out = append(out, Sample{Label: row[0], Scores: []float64{a, b}})
	}
	return out
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12 }

// TestSklearn compares every metric with scikit-learn's values for the same
// scores (testdata/gen_sklearn.py).
func TestSklearn(t *testing.T) {
	b, err := os.ReadFile("testdata/sklearn_expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var want struct {
		Fixtures map[string]map[string]sklearnMetrics `json:"fixtures"`
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if len(want.Fixtures) < 3 {
		t.Fatalf("%d fixtures, want ≥ 3", len(want.Fixtures))
	}
	for name, cols := range want.Fixtures {
		t.Run(name, func(t *testing.T) {
			samples := readFixture(t, name)
			models := []string{"score_a", "score_b"}
			r, err := Evaluate(Input{
				Models:     models,
				Thresholds: []float64{cols["score_a"].Threshold, cols["score_b"].Threshold},
				Samples:    samples,
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range models {
				w, g := cols[m], r.Models[m]
				f := func(key string, got *float64, want float64) {
					t.Helper()
					if got == nil {
						t.Errorf("%s %s: null, want %v", m, key, want)
					} else if !near(*got, want) {
						t.Errorf("%s %s = %.17g, want %.17g (sklearn)", m, key, *got, want)
					}
				}
				f("roc_auc", g.ROCAUC, w.ROCAUC)
				f("pr_auc", g.PRAUC, w.PRAUC)
				f("precision", g.Precision, w.Precision)
				f("recall", g.Recall, w.Recall)
				f("f1", g.F1, w.F1)
				f("fpr", g.FPR, w.FPR)
				f("fpr_at_recall_0.9", g.FPRAtRecall09, w.FPRAtRecall09)
				f("recall_at_fpr_0.001", g.RecallAtFPR0001, w.RecallAtFPR0001)
				f("macro_roc_auc", g.MacroROCAUC, w.MacroROCAUC)
				if g.TP != w.TP || g.FP != w.FP || g.TN != w.TN || g.FN != w.FN {
					t.Errorf("%s confusion tp/fp/tn/fn = %d/%d/%d/%d, want %d/%d/%d/%d", m,
						g.TP, g.FP, g.TN, g.FN, w.TP, w.FP, w.TN, w.FN)
				}
				if len(g.PerLabel) != len(w.PerLabel) {
					t.Errorf("%s: %d labels, want %d", m, len(g.PerLabel), len(w.PerLabel))
				}
				for l, wl := range w.PerLabel {
					gl := g.PerLabel[l]
					if gl == nil {
						t.Errorf("%s: label %q missing", m, l)
						continue
					}
					f("per_label."+l+".roc_auc", gl.ROCAUC, wl.ROCAUC)
					f("per_label."+l+".recall", &gl.Recall, wl.Recall)
					if gl.Flows != wl.Flows || gl.Detected != wl.Detected {
						t.Errorf("%s %s: flows/detected %d/%d, want %d/%d", m, l, gl.Flows, gl.Detected, wl.Flows, wl.Detected)
					}
				}
			}
		})
	}
}

// TestSmall checks hand-worked cases, including scikit-learn's documented
// examples (roc_auc_score, average_precision_score docstrings).
func TestSmall(t *testing.T) {
	type s = Sample
	b := func(v float64) s { return s{Label: Benign, Scores: []float64{v}} }
	a := func(v float64) s { return s{Label: "x", Scores: []float64{v}} }
	tests := []struct {
		name    string
		samples []Sample
		auc, ap float64
	}{
		// sklearn docs: y=[0,0,1,1], scores=[0.1,0.4,0.35,0.8].
		{"sklearn doc", []Sample{b(0.1), b(0.4), a(0.35), a(0.8)}, 0.75, 0.8333333333333333},
		{"perfect", []Sample{b(0), b(1), a(2), a(3)}, 1, 1},
		{"reversed", []Sample{b(2), b(3), a(0), a(1)}, 0, 0.5 * (1.0/3 + 2.0/4)},
		// Everything tied: one threshold, AUC 0.5, AP = share of attacks.
		{"all tied", []Sample{b(1), b(1), b(1), a(1)}, 0.5, 0.25},
		// Tie across classes at the top: pairs a5:b5 ½, a5:b0 1, a1:b5 0, a1:b0 1.
		{"tie on top", []Sample{b(5), a(5), b(0), a(1)}, (0.5 + 1 + 0 + 1) / 4, 0.5*0.5 + 0.5*(2.0/3)},
		{"infinities", []Sample{b(math.Inf(-1)), b(0), a(math.Inf(1)), a(0)}, 0.875, 0.5 + 0.5*(2.0/3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Evaluate(Input{Models: []string{"m"}, Thresholds: []float64{0.5}, Samples: tt.samples})
			if err != nil {
				t.Fatal(err)
			}
			m := r.Models["m"]
			if m.ROCAUC == nil || !near(*m.ROCAUC, tt.auc) {
				t.Errorf("roc_auc = %v, want %v", fmtNum(m.ROCAUC, 17), tt.auc)
			}
			if m.PRAUC == nil || !near(*m.PRAUC, tt.ap) {
				t.Errorf("pr_auc = %v, want %v", fmtNum(m.PRAUC, 17), tt.ap)
			}
			// With a single attack label, its AUC is the overall AUC.
			if l := m.PerLabel["x"]; l.ROCAUC == nil || !near(*l.ROCAUC, tt.auc) {
				t.Errorf("per-label roc_auc = %v, want %v", fmtNum(l.ROCAUC, 17), tt.auc)
			}
		})
	}
}

// bruteAUC is the O(n²) definition: P(attack > benign) + ½ P(tie).
func bruteAUC(att, ben []float64) float64 {
	var u float64
	for _, x := range att {
		for _, y := range ben {
			switch {
			case x > y:
				u++
			case x == y:
				u += 0.5
			}
		}
	}
	return u / float64(len(att)*len(ben))
}

// bruteOps is the definition of the two operating points, over every
// candidate threshold: each distinct score (alert when score ≥ it), and
// "no alerts" (recall 0, FPR 0).
func bruteOps(att, ben []float64) (fprAtRecall, recallAtFPR float64) {
	fprAtRecall = math.Inf(1)
	cands := append(append([]float64(nil), att...), ben...)
	for _, th := range cands {
		var tp, fp float64
		for _, x := range att {
			if x >= th {
				tp++
			}
		}
		for _, y := range ben {
			if y >= th {
				fp++
			}
		}
		rec, fpr := tp/float64(len(att)), fp/float64(len(ben))
		if rec >= 0.9 {
			fprAtRecall = min(fprAtRecall, fpr)
		}
		if fpr <= 0.001 {
			recallAtFPR = max(recallAtFPR, rec)
		}
	}
	return
}

// TestBrute compares with the O(n²) definitions on random data with ties.
func TestBrute(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	labels := []string{"p", "q", "r"}
	for trial := range 40 {
		n := 20 + rng.IntN(1500)
		levels := 2 + rng.IntN(60)
		var samples []Sample
		byLabel := map[string][]float64{}
		for range n {
			l := Benign
			if rng.IntN(3) == 0 {
				l = labels[rng.IntN(len(labels))]
			}
			v := float64(rng.IntN(levels))
			if l != Benign {
				v += float64(rng.IntN(4))
			}
			samples = append(samples, Sample{Label: l, Scores: []float64{v}})
			byLabel[l] = append(byLabel[l], v)
		}
		var att []float64
		for _, l := range labels {
			att = append(att, byLabel[l]...)
		}
		ben := byLabel[Benign]
		if len(att) == 0 || len(ben) == 0 {
			continue
		}
		r, err := Evaluate(Input{Models: []string{"m"}, Thresholds: []float64{3}, Samples: samples})
		if err != nil {
			t.Fatal(err)
		}
		m := r.Models["m"]
		if want := bruteAUC(att, ben); !near(*m.ROCAUC, want) {
			t.Errorf("trial %d: roc_auc %v, want %v", trial, *m.ROCAUC, want)
		}
		fa, ra := bruteOps(att, ben)
		if !near(*m.FPRAtRecall09, fa) || !near(*m.RecallAtFPR0001, ra) {
			t.Errorf("trial %d: fpr@rec %v rec@fpr %v, want %v %v", trial, *m.FPRAtRecall09, *m.RecallAtFPR0001, fa, ra)
		}
		for _, l := range labels {
			if len(byLabel[l]) == 0 {
				continue
			}
			if want := bruteAUC(byLabel[l], ben); !near(*m.PerLabel[l].ROCAUC, want) {
				t.Errorf("trial %d label %s: roc_auc %v, want %v", trial, l, *m.PerLabel[l].ROCAUC, want)
			}
		}
	}
}

// TestRadixOrder: the radix sort of descKey orders scores descending, with
// special values, and equal scores get equal keys.
func TestRadixOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	special := []float64{0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), math.SmallestNonzeroFloat64,
		-math.SmallestNonzeroFloat64, math.MaxFloat64, -math.MaxFloat64, 1, -1, 0.5, -0.5}
	for trial := range 20 {
		n := 1 + rng.IntN(3000)
		vals := make([]float64, n)
		xs := make([]scored, n)
		for i := range vals {
			switch rng.IntN(3) {
			case 0:
				vals[i] = special[rng.IntN(len(special))]
			case 1:
				vals[i] = float64(rng.IntN(7) - 3)
			default:
				vals[i] = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(40)-20))
			}
			xs[i] = scored{k: descKey(vals[i]), c: int32(i)}
		}
		radixSort(xs, make([]scored, n))
		seen := make([]bool, n)
		for _, x := range xs {
			if seen[x.c] {
				t.Fatalf("trial %d: sample %d twice", trial, x.c)
			}
			seen[x.c] = true
		}
		for i := 1; i < n; i++ {
			a, b := vals[xs[i-1].c], vals[xs[i].c]
			if a < b || (a == b) != (xs[i-1].k == xs[i].k) {
				t.Fatalf("trial %d: %v (key %x) before %v (key %x)", trial, a, xs[i-1].k, b, xs[i].k)
			}
		}
	}
}

func TestROCAUC(t *testing.T) {
	for _, tc := range []struct {
		name   string
		scores []float64
		pos    []bool
		want   float64
		ok     bool
	}{
		{"separated", []float64{1, 2, 3, 4}, []bool{false, false, true, true}, 1, true},
		{"inverted", []float64{1, 2, 3, 4}, []bool{true, true, false, false}, 0, true},
		// Pairs (pos, neg): (3,1) win, (3,4) loss, (2,1) win, (2,4) loss: 2 of 4.
		{"half", []float64{1, 2, 3, 4}, []bool{false, true, true, false}, 0.5, true},
		// All tied: every pair counts half.
		{"ties", []float64{5, 5, 5}, []bool{true, false, false}, 0.5, true},
		// (2 vs 1) win, (2 vs 2) half: 1.5 of 2.
		{"one tie", []float64{1, 2, 2}, []bool{false, false, true}, 0.75, true},
		{"no negatives", []float64{1, 2}, []bool{true, true}, 0, false},
		{"empty", nil, nil, 0, false},
		{"NaN", []float64{1, math.NaN()}, []bool{false, true}, 0, false},
	} {
		got, ok := ROCAUC(tc.scores, tc.pos)
		if ok != tc.ok || math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}
