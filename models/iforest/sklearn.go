package iforest

import (
	"fmt"
	"math"
)

// SklearnTree holds the node arrays of one fitted scikit-learn tree
// (estimator.tree_ of an IsolationForest's estimators_), as exported with
// e.g. tree_.children_left.tolist().
type SklearnTree struct {
	ChildrenLeft  []int64   `json:"children_left"`
	ChildrenRight []int64   `json:"children_right"`
	Feature       []int64   `json:"feature"`
	Threshold     []float64 `json:"threshold"`
	NNodeSamples  []int64   `json:"n_node_samples"`
}

// FromSklearn builds a Forest from scikit-learn IsolationForest trees grown
// on dim features with max_samples_ = maxSamples (and max_features = 1.0,
// so that every tree sees all features). The Forest scores as
// IsolationForest.score_samples negated, for inputs that are exactly
// representable as float32 (scikit-learn converts X to float32 before
// comparing it with the float64 thresholds).
func FromSklearn(dim, maxSamples int, trees []SklearnTree) (*Forest, error) {
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
