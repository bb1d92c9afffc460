package evaluate

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"testing"
)

// FuzzEvaluate decodes bytes into labeled scores (3 bytes a sample: label,
// and a 16-bit score with heavy ties, or a special value) and checks
// Evaluate against the O(n²) definitions: it never panics, never produces
// NaN, and its AUCs and operating points match bruteAUC and bruteOps.
func FuzzEvaluate(f *testing.F) {
	f.Add([]byte{0, 0, 1, 1, 0, 2, 0, 0, 3, 2, 0, 1})
	f.Add([]byte{0, 255, 255, 1, 255, 255, 2, 0, 0})
	f.Add([]byte{0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 3*500 {
			b = b[:3*500]
		}
		labels := []string{Benign, Benign, "a", "b"}
		var samples []Sample
		byLabel := map[string][]float64{}
		for i := 0; i+3 <= len(b); i += 3 {
			l := labels[b[i]%4]
			v := float64(binary.LittleEndian.Uint16(b[i+1:]) % 64)
			switch binary.LittleEndian.Uint16(b[i+1:]) {
			case 0xffff:
				v = math.Inf(1)
			case 0xfffe:
				v = math.Inf(-1)
			case 0xfffd:
				v = math.Copysign(0, -1)
			}
			samples = append(samples, Sample{Label: l, Scores: []float64{v}})
			byLabel[l] = append(byLabel[l], v)
		}
		r, err := Evaluate(Input{Models: []string{"m"}, Thresholds: []float64{32}, Samples: samples})
		if len(samples) == 0 {
			if err == nil {
				t.Fatal("no error for no samples")
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		js, err := r.JSON()
		if err != nil || !json.Valid(js) {
			t.Fatalf("report.json: %v", err)
		}
		m := r.Models["m"]
		att := append(append([]float64(nil), byLabel["a"]...), byLabel["b"]...)
		ben := byLabel[Benign]
		if len(att) == 0 || len(ben) == 0 {
			if m.ROCAUC != nil {
				t.Fatalf("roc_auc %v with one class", *m.ROCAUC)
			}
			return
		}
		if want := bruteAUC(att, ben); m.ROCAUC == nil || !near(*m.ROCAUC, want) {
			t.Fatalf("roc_auc %v, want %v", fmtNum(m.ROCAUC, 17), want)
		}
		fa, ra := bruteOps(att, ben)
		if !near(*m.FPRAtRecall09, fa) || !near(*m.RecallAtFPR0001, ra) {
			t.Fatalf("fpr@rec %v rec@fpr %v, want %v %v", *m.FPRAtRecall09, *m.RecallAtFPR0001, fa, ra)
		}
		for _, l := range []string{"a", "b"} {
			if len(byLabel[l]) == 0 {
				continue
			}
			if want := bruteAUC(byLabel[l], ben); !near(*m.PerLabel[l].ROCAUC, want) {
				t.Fatalf("label %s roc_auc %v, want %v", l, *m.PerLabel[l].ROCAUC, want)
			}
		}
		if ap := *m.PRAUC; ap < 0 || ap > 1 || math.IsNaN(ap) {
			t.Fatalf("pr_auc %v", ap)
		}
	})
}
