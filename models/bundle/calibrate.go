package bundle

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/vigil-nids/vigil/models"
)

// Calibrate sets b's TargetFPR and Thresholds from held, raw (unscaled)
// held-out baseline rows that the models were not fitted on: each present
// model's threshold is models.Calibrate of its scores, then the ensemble's
// is models.Calibrate of the Ensemble scores under those thresholds. The
// scaler and at least one model must be set. Calibrate on at least
// 1/targetFPR rows (see models.Calibrate for what happens with fewer).
func (b *Bundle) Calibrate(held *mat.Dense, targetFPR float64) error {
	if b.Scaler == nil || (b.Forest == nil && b.KMeans == nil) {
		return errors.New("calibrate: bundle needs a scaler and a model")
	}
	if !(targetFPR > 0 && targetFPR < 1) {
		return fmt.Errorf("calibrate: target FPR %g, want in (0, 1)", targetFPR)
	}
	if held == nil || held.IsEmpty() {
		return errors.New("calibrate: no held-out rows")
	}
	n, d := held.Dims()
	if d != b.Scaler.Dim() {
		return fmt.Errorf("calibrate: held-out rows have %d features, scaler %d", d, b.Scaler.Dim())
	}
	var fs, ks []float64
	if b.Forest != nil {
		fs = make([]float64, n)
	}
	if b.KMeans != nil {
		ks = make([]float64, n)
	}
	x := make([]float64, d)
	for i := range n {
		b.Scaler.TransformTo(x, held.RawRowView(i))
		if fs != nil {
			fs[i] = b.Forest.Score(x)
		}
		if ks != nil {
			ks[i] = b.KMeans.Score(x)
		}
	}
	var t Thresholds
	var sc, th []float64
	if fs != nil {
		t.IForest = models.Calibrate(fs, targetFPR)
		th = append(th, t.IForest)
	}
	if ks != nil {
		t.KMeans = models.Calibrate(ks, targetFPR)
		th = append(th, t.KMeans)
	}
	for _, v := range th {
		if !(v > 0) || v > maxThreshold {
			return fmt.Errorf("calibrate: model threshold %g: held-out scores are degenerate", v)
		}
	}
	es := make([]float64, n)
	sc = make([]float64, len(th))
	for i := range es {
		sc = sc[:0]
		if fs != nil {
			sc = append(sc, fs[i])
		}
		if ks != nil {
			sc = append(sc, ks[i])
		}
		es[i] = models.Ensemble(sc, th)
	}
	t.Ensemble = models.Calibrate(es, targetFPR)
	if !(t.Ensemble > 0) || t.Ensemble > maxThreshold {
		return fmt.Errorf("calibrate: ensemble threshold %g: held-out scores are degenerate", t.Ensemble)
	}
	b.Thresholds, b.TargetFPR = t, targetFPR
	return nil
}

// maxThreshold is the largest finite float64: thresholds must be finite.
const maxThreshold = math.MaxFloat64
