package train_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/vigil-nids/vigil/features"
	"github.com/vigil-nids/vigil/train"
)

// Example fits a bundle on 500 baseline rows of a two-feature schema and
// scores a typical and an odd vector against the calibrated threshold.
func Example() {
	schema := &features.Schema{Name: "example", Version: 1, Features: []features.Feature{
		{Name: "pkts", Unit: "packets", Count: true},
		{Name: "ratio", Unit: "ratio"},
	}}
	rng := rand.New(rand.NewPCG(1, 2))
	res := train.NewReservoir(schema.Len(), 10_000, 1)
	for i := 0; i < 500; i++ {
		res.Add([]float64{float64(10 + rng.IntN(5)), 0.5 + 0.1*rng.NormFloat64()})
	}
	b, rep, err := train.Fit(res, schema, train.Config{Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	s := b.NewScorer()
	fmt.Println("rows:", rep.Rows, "cross-fitted:", rep.Rows == rep.HeldOut)
	fmt.Println("typical alerts:", s.Score([]float64{12, 0.5}).Ensemble >= b.Thresholds.Ensemble)
	fmt.Println("odd alerts:", s.Score([]float64{5000, 3}).Ensemble >= b.Thresholds.Ensemble)
	// Output:
	// rows: 500 cross-fitted: true
	// typical alerts: false
	// odd alerts: true
}
