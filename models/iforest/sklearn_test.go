package iforest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// readLabeled reads testdata/data.csv (made by testdata/gen_sklearn.py):
// float32 features, label in the last column.
func readLabeled(t testing.TB) (*mat.Dense, []bool) {
	t.Helper()
	fh, err := os.Open("testdata/data.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	sc.Scan() // header
	var data []float64
	var labels []bool
	dim := -1
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ",")
		if dim < 0 {
			dim = len(fields) - 1
		} else if len(fields)-1 != dim {
			t.Fatalf("ragged row %q", sc.Text())
		}
		for _, s := range fields[:dim] {
			v, err := strconv.ParseFloat(s, 32) // exact float32, as sklearn sees it
			if err != nil {
				t.Fatal(err)
			}
			data = append(data, v)
		}
		labels = append(labels, fields[dim] == "1")
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return mat.NewDense(len(labels), dim, data), labels
}

func readFloats(t testing.TB, path string) []float64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []float64
	for _, s := range strings.Fields(string(b)) {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

// rocAUC is the Mann-Whitney statistic: the probability that a random
// positive scores above a random negative, ties counting one half.
func rocAUC(scores []float64, pos []bool) float64 {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return scores[idx[a]] < scores[idx[b]] })
	var rankSum float64
	var npos, nneg float64
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && scores[idx[j]] == scores[idx[i]] {
			j++
		}
		mid := float64(i+j+1) / 2 // average 1-based rank of the tie group
		for _, k := range idx[i:j] {
			if pos[k] {
				rankSum += mid
			}
		}
		i = j
	}
	for _, p := range pos {
		if p {
			npos++
		} else {
			nneg++
		}
	}
	return (rankSum - npos*(npos+1)/2) / (npos * nneg)
}

func TestRocAUC(t *testing.T) {
	for _, tc := range []struct {
		s    []float64
		pos  []bool
		want float64
	}{
		{[]float64{1, 2, 3, 4}, []bool{false, false, true, true}, 1},
		{[]float64{4, 3, 2, 1}, []bool{false, false, true, true}, 0},
		{[]float64{1, 1, 1, 1}, []bool{false, true, false, true}, 0.5},
		{[]float64{1, 3, 2, 4}, []bool{false, false, true, true}, 0.75},
	} {
		if got := rocAUC(tc.s, tc.pos); math.Abs(got-tc.want) > 1e-15 {
			t.Errorf("rocAUC(%v, %v) = %v, want %v", tc.s, tc.pos, got, tc.want)
		}
	}
}

// TestAUCMatchesSklearn: our forest ranks the fixture's outliers as well as
// scikit-learn's forest does, within 0.01 of ROC-AUC.
func TestAUCMatchesSklearn(t *testing.T) {
	X, labels := readLabeled(t)
	skScores := readFloats(t, "testdata/sklearn_scores.csv")
	skAUC := readFloats(t, "testdata/sklearn_auc.txt")[0]
	if len(skScores) != len(labels) {
		t.Fatalf("%d sklearn scores for %d rows", len(skScores), len(labels))
	}
	// The fixture's AUC is recomputed here, which checks rocAUC too.
	if got := rocAUC(skScores, labels); math.Abs(got-skAUC) > 1e-6 {
		t.Fatalf("AUC of sklearn scores = %v, fixture says %v", got, skAUC)
	}
	for _, seed := range []uint64{1, 2, 3} {
		f, err := Fit(X, Config{Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		auc := rocAUC(f.ScoreBatch(nil, X, 0), labels)
		t.Logf("seed %d: AUC %.4f, sklearn %.4f", seed, auc, skAUC)
		if math.Abs(auc-skAUC) > 0.01 {
			t.Errorf("seed %d: AUC %.4f, sklearn %.4f: differ by more than 0.01", seed, auc, skAUC)
		}
	}
	// The extended forest must be a useful detector too.
	f, err := Fit(X, Config{Seed: 1, ExtensionLevel: 5})
	if err != nil {
		t.Fatal(err)
	}
	if auc := rocAUC(f.ScoreBatch(nil, X, 0), labels); auc < skAUC-0.03 {
		t.Errorf("extended forest AUC %.4f, sklearn %.4f", auc, skAUC)
	} else {
		t.Logf("extended (level 5): AUC %.4f", auc)
	}
}

type treeFixture struct {
	SklearnVersion string      `json:"sklearn_version"`
	Dim            int         `json:"dim"`
	Rows           [][]float64 `json:"rows"`
	Forests        []struct {
		MaxSamples int           `json:"max_samples"`
		Trees      []sklearnTree `json:"trees"`
		Scores     []float64     `json:"scores"`
	} `json:"forests"`
}

func readTreeFixture(t testing.TB) *treeFixture {
	t.Helper()
	b, err := os.ReadFile("testdata/trees.json")
	if err != nil {
		t.Fatal(err)
	}
	var fx treeFixture
	if err := json.Unmarshal(b, &fx); err != nil {
		t.Fatal(err)
	}
	if len(fx.Forests) == 0 || len(fx.Rows) == 0 {
		t.Fatal("empty fixture")
	}
	return &fx
}

// TestSklearnParity: a Forest built from scikit-learn's own trees scores
// exactly as IsolationForest.score_samples (negated), to 1e-12, by Score,
// by ScoreBatch and after a JSON round trip.
func TestSklearnParity(t *testing.T) {
	fx := readTreeFixture(t)
	X := mat.NewDense(len(fx.Rows), fx.Dim, nil)
	for i, r := range fx.Rows {
		X.SetRow(i, r)
	}
	for k, ff := range fx.Forests {
		f, err := fromSklearn(fx.Dim, ff.MaxSamples, ff.Trees)
		if err != nil {
			t.Fatalf("forest %d: %v", k, err)
		}
		b, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		var g Forest
		if err := json.Unmarshal(b, &g); err != nil {
			t.Fatalf("forest %d: round trip: %v", k, err)
		}
		batch := f.ScoreBatch(nil, X, 2)
		var worst float64
		for i, r := range fx.Rows {
			want := ff.Scores[i]
			for name, got := range map[string]float64{"Score": f.Score(r), "ScoreBatch": batch[i], "json": g.Score(r)} {
				if d := math.Abs(got - want); d > 1e-12 {
					t.Errorf("forest %d (ψ=%d) row %d: %s = %.17g, sklearn %.17g", k, ff.MaxSamples, i, name, got, want)
				} else {
					worst = max(worst, d)
				}
			}
		}
		t.Logf("forest %d (ψ=%d, %d trees): max |diff| %.3g over %d rows", k, ff.MaxSamples, len(ff.Trees), worst, len(fx.Rows))
	}
}

// sklearnTree holds the node arrays of one fitted scikit-learn tree
// (estimator.tree_ of an IsolationForest's estimators_), as exported with
// e.g. tree_.children_left.tolist().
type sklearnTree struct {
	ChildrenLeft  []int64   `json:"children_left"`
	ChildrenRight []int64   `json:"children_right"`
	Feature       []int64   `json:"feature"`
	Threshold     []float64 `json:"threshold"`
	NNodeSamples  []int64   `json:"n_node_samples"`
}

// fromSklearn builds a Forest from scikit-learn IsolationForest trees grown
// on dim features with max_samples_ = maxSamples (and max_features = 1.0,
// so that every tree sees all features). The Forest scores as
// IsolationForest.score_samples negated, for inputs that are exactly
// representable as float32 (scikit-learn converts X to float32 before
// comparing it with the float64 thresholds).
func fromSklearn(dim, maxSamples int, trees []sklearnTree) (*Forest, error) {
	if len(trees) < 1 || len(trees) > MaxTrees {
		return nil, fmt.Errorf("iforest: %d sklearn trees, want [1, %d]", len(trees), MaxTrees)
	}
	f := &Forest{NumFeatures: dim, MaxSamples: maxSamples, Trees: make([]Tree, len(trees))}
	for t, st := range trees {
		n := len(st.ChildrenLeft)
		if len(st.ChildrenRight) != n || len(st.Feature) != n || len(st.Threshold) != n || len(st.NNodeSamples) != n {
			return nil, fmt.Errorf("iforest: sklearn tree %d: array lengths differ", t)
		}
		tr := Tree{
			Left:      make([]int32, n),
			Right:     make([]int32, n),
			Size:      make([]int32, n),
			Feature:   make([]int32, n),
			Threshold: append([]float64(nil), st.Threshold...),
		}
		for i := range n {
			var err error
			if tr.Left[i], err = to32(st.ChildrenLeft[i]); err != nil {
				return nil, fmt.Errorf("iforest: sklearn tree %d node %d: %w", t, i, err)
			}
			if tr.Right[i], err = to32(st.ChildrenRight[i]); err != nil {
				return nil, fmt.Errorf("iforest: sklearn tree %d node %d: %w", t, i, err)
			}
			if tr.Size[i], err = to32(st.NNodeSamples[i]); err != nil {
				return nil, fmt.Errorf("iforest: sklearn tree %d node %d: %w", t, i, err)
			}
			if tr.Feature[i], err = to32(st.Feature[i]); err != nil {
				return nil, fmt.Errorf("iforest: sklearn tree %d node %d: %w", t, i, err)
			}
			if tr.Left[i] == -1 {
				tr.Feature[i] = -1 // sklearn's TREE_UNDEFINED is -2
			}
		}
		f.Trees[t] = tr
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return f, nil
}

func to32(v int64) (int32, error) {
	if v < math.MinInt32 || v > math.MaxInt32 {
		return 0, fmt.Errorf("value %d out of int32 range", v)
	}
	return int32(v), nil
}
