package bundle_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/vigil-nids/vigil/features"
	"github.com/vigil-nids/vigil/models/bundle"
	"github.com/vigil-nids/vigil/models/iforest"
	"github.com/vigil-nids/vigil/models/kmeans"
	"github.com/vigil-nids/vigil/models/scale"
)

// Example trains a tiny bundle as cmd/train does (scale, fit, calibrate on
// held-out rows), saves it, loads it back and scores two flows.
func Example() {
	schema := features.Schema{Name: "demo", Version: 1, Features: []features.Feature{
		{Name: "pkts", Unit: "packets", Count: true},
		{Name: "syn_ratio", Unit: "1"},
	}}
	rng := rand.New(rand.NewPCG(1, 1))
	rows := func(n int) *mat.Dense {
		X := mat.NewDense(n, 2, nil)
		for i := range n {
			X.Set(i, 0, float64(5+rng.IntN(20)))
			X.Set(i, 1, 0.1+0.05*rng.Float64())
		}
		return X
	}
	train, held := rows(500), rows(500)

	sc, _ := scale.Fit(train, scale.Config{Method: scale.Robust, Log1p: []bool{true, false}})
	Z := mat.NewDense(500, 2, nil)
	for i := range 500 {
		sc.TransformTo(Z.RawRowView(i), train.RawRowView(i))
	}
	forest, _ := iforest.Fit(Z, iforest.Config{NEstimators: 50, Seed: 1, Workers: 1})
	km, _ := kmeans.Fit(Z, kmeans.Config{K: 2, Seed: 1, Workers: 1})

	b := &bundle.Bundle{Schema: schema, Scaler: sc, Forest: forest, KMeans: km,
		Meta: bundle.Meta{Seed: 1, Created: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), VigilVersion: "example"}}
	// Thresholds for a 1% false-positive rate on rows the models did not see.
	if err := b.Calibrate(held, 0.01); err != nil {
		panic(err)
	}

	dir, _ := os.MkdirTemp("", "vigil-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.vgl")
	if err := bundle.Save(path, b, false); err != nil {
		panic(err)
	}
	loaded, err := bundle.Load(path)
	if err != nil {
		panic(err)
	}
	fmt.Println("same model id:", loaded.Hash() == b.Hash())

	s := loaded.NewScorer()
	for _, flow := range [][]float64{{12, 0.12}, {12, 0.95}} {
		score := s.Score(flow)
		alert := score.Ensemble > loaded.Thresholds.Ensemble
		fmt.Printf("%v alert=%v\n", flow, alert)
		if alert {
			for _, c := range s.Explain(nil, flow, 1) {
				fmt.Printf("  %s = %g (baseline %.2f..%.2f)\n", c.Name, c.Value, c.Lo, c.Hi)
			}
		}
	}
	// Output:
	// same model id: true
	// [12 0.12] alert=false
	// [12 0.95] alert=true
	//   syn_ratio = 0.95 (baseline 0.10..0.15)
}
