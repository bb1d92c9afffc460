package iforest

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func smallForest() *Forest {
	return &Forest{NumFeatures: 2, MaxSamples: 4, Trees: []Tree{{
		Left:      []int32{1, -1, 3, -1, -1},
		Right:     []int32{2, -1, 4, -1, -1},
		Size:      []int32{4, 1, 3, 2, 1},
		Feature:   []int32{0, -1, 1, -1, -1},
		Threshold: []float64{0.5, -2, 0, -2, -2},
	}}}
}

func TestValidateRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(f *Forest)
		want string
	}{
		{"dim 0", func(f *Forest) { f.NumFeatures = 0 }, "dim"},
		{"dim huge", func(f *Forest) { f.NumFeatures = MaxFeatures + 1 }, "dim"},
		{"psi 0", func(f *Forest) { f.MaxSamples = 0 }, "max_samples"},
		{"no trees", func(f *Forest) { f.Trees = nil }, "trees"},
		{"ext level", func(f *Forest) { f.ExtensionLevel = 2 }, "extension level"},
		{"self loop", func(f *Forest) { f.Trees[0].Left[2] = 2 }, "children"},
		{"back edge", func(f *Forest) { f.Trees[0].Right[2] = 1 }, "children"},
		{"child out of range", func(f *Forest) { f.Trees[0].Right[2] = 5 }, "children"},
		{"half leaf", func(f *Forest) { f.Trees[0].Left[2] = -1 }, "children"},
		{"same children", func(f *Forest) { f.Trees[0].Right[2] = 3 }, "children"},
		{"feature range", func(f *Forest) { f.Trees[0].Feature[0] = 2 }, "feature"},
		{"negative feature at split", func(f *Forest) { f.Trees[0].Feature[2] = -1 }, "feature"},
		{"feature at leaf", func(f *Forest) { f.Trees[0].Feature[1] = 0 }, "leaf"},
		{"nan threshold", func(f *Forest) { f.Trees[0].Threshold[0] = math.NaN() }, "threshold"},
		{"inf threshold", func(f *Forest) { f.Trees[0].Threshold[2] = math.Inf(1) }, "threshold"},
		{"negative size", func(f *Forest) { f.Trees[0].Size[1] = -1 }, "size"},
		{"size too big", func(f *Forest) { f.Trees[0].Size[3] = 5 }, "size"},
		{"sizes don't add", func(f *Forest) { f.Trees[0].Size[3] = 1 }, "size"},
		{"root size", func(f *Forest) { f.MaxSamples = 5 }, "root size"},
		{"short array", func(f *Forest) { f.Trees[0].Size = f.Trees[0].Size[:4] }, "lengths"},
		{"short threshold", func(f *Forest) { f.Trees[0].Threshold = f.Trees[0].Threshold[:4] }, "lengths"},
		{"ext arrays", func(f *Forest) { f.Trees[0].Intercept = []float64{0} }, "hyperplane"},
		{"too many nodes", func(f *Forest) { f.MaxSamples = 1 }, "nodes"},
		{"too deep", func(f *Forest) {
			// ψ = 3 allows depth 2 (7 nodes); this chain reaches depth 3.
			f.MaxSamples = 3
			tr := &f.Trees[0]
			tr.Left = []int32{1, -1, 3, -1, 5, -1, -1}
			tr.Right = []int32{2, -1, 4, -1, 6, -1, -1}
			tr.Size = []int32{3, 1, 2, 1, 1, 1, 0}
			tr.Feature = []int32{0, -1, 0, -1, 0, -1, -1}
			tr.Threshold = make([]float64, 7)
		}, "deeper"},
		{"two parents", func(f *Forest) {
			tr := &f.Trees[0]
			tr.Left = []int32{1, 3, -1, -1}
			tr.Right = []int32{2, 3, -1, -1}
			tr.Size = []int32{4, 2, 2, 1}
			tr.Feature = []int32{0, 0, -1, -1}
			tr.Threshold = []float64{0, 0, 0, 0}
		}, ""},
		{"unreachable", func(f *Forest) {
			tr := &f.Trees[0]
			tr.Left = []int32{1, -1, -1, -1}
			tr.Right = []int32{2, -1, -1, -1}
			tr.Size = []int32{4, 2, 2, 0}
			tr.Feature = []int32{0, -1, -1, -1}
			tr.Threshold = []float64{0, 0, 0, 0}
		}, "unreachable"},
	} {
		f := smallForest()
		tc.mod(f)
		err := f.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate() = %v, want error containing %q", tc.name, err, tc.want)
		}
	}
	if err := smallForest().Validate(); err != nil {
		t.Fatalf("valid forest rejected: %v", err)
	}
	var nilForest *Forest
	if nilForest.Validate() == nil {
		t.Error("nil forest validated")
	}
}

func TestValidateExtended(t *testing.T) {
	f := mustFit(t, uniform(300, 4, 1), Config{Seed: 1, NEstimators: 3, ExtensionLevel: 2})
	for _, tc := range []struct {
		name string
		mod  func(tr *Tree)
	}{
		{"index range", func(tr *Tree) { tr.NormalIndex[0] = 4 }},
		{"negative index", func(tr *Tree) { tr.NormalIndex[1] = -1 }},
		{"nan normal", func(tr *Tree) { tr.NormalValue[0] = math.NaN() }},
		{"inf intercept", func(tr *Tree) { tr.Intercept[0] = math.Inf(-1) }},
		{"short normals", func(tr *Tree) { tr.NormalValue = tr.NormalValue[1:] }},
		{"axis arrays", func(tr *Tree) { tr.Feature = make([]int32, len(tr.Left)) }},
	} {
		b, _ := json.Marshal(f)
		var g Forest
		if err := json.Unmarshal(b, &g); err != nil {
			t.Fatal(err)
		}
		tc.mod(&g.Trees[1])
		if err := g.Validate(); err == nil {
			t.Errorf("%s: Validate accepted a corrupt extended forest", tc.name)
		}
	}
}

// TestUnmarshalValidates: decoding a corrupt forest is an error, never a
// Forest that panics later.
func TestUnmarshalValidates(t *testing.T) {
	good, _ := json.Marshal(smallForest())
	var f Forest
	if err := json.Unmarshal(good, &f); err != nil {
		t.Fatal(err)
	}
	if s := f.Score([]float64{0, 0}); !(s > 0 && s < 1) {
		t.Fatalf("score %v", s)
	}
	bad := strings.Replace(string(good), `"left":[1,-1,3,-1,-1]`, `"left":[1,-1,2,-1,-1]`, 1)
	if bad == string(good) {
		t.Fatal("test corruption did not apply")
	}
	if err := json.Unmarshal([]byte(bad), &f); err == nil {
		t.Fatal("corrupt forest decoded")
	}
}

// FuzzValidate: any JSON that decodes into a Forest scores every vector to
// a finite number in (0, 1] and explains it with finite shares.
func FuzzValidate(f *testing.F) {
	small, _ := json.Marshal(smallForest())
	f.Add(small)
	fit, _ := json.Marshal(mustFit(f, uniform(40, 3, 1), Config{Seed: 1, NEstimators: 2, MaxSamples: 8}))
	f.Add(fit)
	ext, _ := json.Marshal(mustFit(f, uniform(40, 3, 1), Config{Seed: 1, NEstimators: 2, MaxSamples: 8, ExtensionLevel: 2}))
	f.Add(ext)
	f.Add([]byte(`{"dim":1,"max_samples":1,"trees":[{"left":[-1],"right":[-1],"size":[1],"feature":[-1],"threshold":[0]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var g Forest
		if err := json.Unmarshal(b, &g); err != nil {
			return
		}
		if err := g.Validate(); err != nil {
			t.Fatalf("decoded forest fails Validate: %v", err)
		}
		for _, v := range []float64{0, 1, -1e300, math.Inf(1), math.NaN()} {
			x := make([]float64, g.Dim())
			for i := range x {
				x[i] = v
			}
			if s := g.Score(x); !(s > 0 && s <= 1) {
				t.Fatalf("Score(%v...) = %v", v, s)
			}
			for _, e := range g.Explain(nil, x) {
				if !(e >= 0 && e <= 1+1e-9) {
					t.Fatalf("Explain(%v...) has %v", v, e)
				}
			}
		}
	})
}
