package bundle_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/vigil-nids/vigil/features"
	"github.com/vigil-nids/vigil/models/bundle"
	"github.com/vigil-nids/vigil/models/kmeans"
	"github.com/vigil-nids/vigil/train"
)

// Example fits a tiny bundle with train.Fit, as cmd/train does (scaler,
// models, thresholds calibrated on held-out rows), saves it, loads it back
// and scores two flows.
func Example() {
	schema := &features.Schema{Name: "demo", Version: 1, Features: []features.Feature{
		{Name: "pkts", Unit: "packets", Count: true},
		{Name: "syn_ratio", Unit: "1"},
	}}
	rng := rand.New(rand.NewPCG(1, 1))
	res := train.NewReservoir(schema.Len(), 10_000, 1)
	for range 1000 {
		res.Add([]float64{float64(5 + rng.IntN(20)), 0.1 + 0.05*rng.Float64()})
	}
	b, _, err := train.Fit(res, schema, train.Config{Seed: 1, KMeans: kmeans.Config{K: 2}})
	if err != nil {
		panic(err)
	}
	b.Meta.Created, b.Meta.VigilVersion = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), "example"

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
		alert := score.Ensemble >= loaded.Thresholds.Ensemble
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
