package evaluate_test

import (
	"fmt"

	"github.com/vigil-nids/vigil/evaluate"
)

// The example of scikit-learn's roc_auc_score and average_precision_score
// docs: two benign flows scored 0.1 and 0.4, two attack flows 0.35 and 0.8.
func ExampleEvaluate() {
	r, err := evaluate.Evaluate(evaluate.Input{
		Models:     []string{"iforest"},
		Thresholds: []float64{0.5},
		Samples: []evaluate.Sample{
			{Label: evaluate.Benign, Scores: []float64{0.1}},
			{Label: evaluate.Benign, Scores: []float64{0.4}},
			{Label: "portscan", Scores: []float64{0.35}},
			{Label: "synflood", Scores: []float64{0.8}},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	m := r.Models["iforest"]
	fmt.Printf("ROC-AUC %.2f, AP %.4f\n", *m.ROCAUC, *m.PRAUC)
	fmt.Printf("at threshold 0.5: tp=%d fp=%d tn=%d fn=%d recall=%.2f\n", m.TP, m.FP, m.TN, m.FN, *m.Recall)
	for _, l := range []string{"portscan", "synflood"} {
		fmt.Printf("%s: ROC-AUC vs benign %.2f, detected %d/%d\n", l, *m.PerLabel[l].ROCAUC, m.PerLabel[l].Detected, m.PerLabel[l].Flows)
	}
	fmt.Printf("macro ROC-AUC %.2f\n", *m.MacroROCAUC)
	// Output:
	// ROC-AUC 0.75, AP 0.8333
	// at threshold 0.5: tp=1 fp=0 tn=2 fn=1 recall=0.50
	// portscan: ROC-AUC vs benign 0.50, detected 0/1
	// synflood: ROC-AUC vs benign 1.00, detected 1/1
	// macro ROC-AUC 0.75
}
