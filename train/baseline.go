package train

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// tailFlows is how many baseline flows a threshold needs above it to be
// read off the held-out scores directly (Fit cross-fits below it, and
// calibrate extrapolates the tail below it).
const tailFlows = 5

// FlowsNeeded returns how many distinct baseline flows a target
// false-positive rate needs for its thresholds to be the empirical
// quantile of held-out scores, tailFlows expected above them: 5000 for
// 0.1 %. With fewer, Fit cross-fits and extrapolates the tail (see
// calibrate), and the thresholds move more with the seed.
func FlowsNeeded(fpr float64) int {
	if !(fpr > 0) {
		return 0
	}
	return int(math.Ceil(tailFlows/fpr - 1e-9))
}

// nearConstantShare is the share of a feature's finite baseline values
// that one value must hold for the feature to be reported as nearly
// constant: with at most 1 % of rows off it, the scaler's 1st and 99th
// percentiles are the same value.
const nearConstantShare = 0.99

// ConstantFeature is a feature whose baseline rows hold (nearly) one
// value. A model fitted on such a baseline sees any other value as new, so
// a flow that merely carries it (an answered handshake on a baseline with
// none) can score far above the threshold.
type ConstantFeature struct {
	Name  string
	Value float64 // the value the rows hold
	// Off is the number of rows with another finite value (0: constant);
	// Rows the number with a finite value.
	Off, Rows int
}

// constantFeatures returns the features whose finite values are one value
// on at least nearConstantShare of the rows, in schema order. The value is
// found by a majority vote (Boyer–Moore) and then counted: one pass over
// the rows per feature, no copy.
func (f *fitter) constantFeatures() []ConstantFeature {
	var out []ConstantFeature
	for j, ft := range f.schema.Features {
		var cand float64
		votes := 0
		for i := range f.n {
			v := f.rows[i*f.d+j]
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			switch {
			case votes == 0:
				cand, votes = v, 1
			case v == cand:
				votes++
			default:
				votes--
			}
		}
		rows, same := 0, 0
		for i := range f.n {
			v := f.rows[i*f.d+j]
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			rows++
			if v == cand {
				same++
			}
		}
		if rows > 0 && float64(same) >= nearConstantShare*float64(rows) {
			out = append(out, ConstantFeature{Name: ft.Name, Value: cand, Off: rows - same, Rows: rows})
		}
	}
	return out
}

// Warnings returns what a user should know about the baseline behind a
// Report, one line each (no trailing newline): a baseline with fewer flows
// than the target rate needs, and the features that were constant or
// nearly so on it, by name. It returns nil when there is nothing to say.
func (r Report) Warnings() []string {
	var w []string
	if r.Flows > 0 && r.Flows < r.FlowsNeeded {
		w = append(w, fmt.Sprintf("baseline too small for the target FPR %s: %d flows, %d needed for %d flows above the threshold; the thresholds are extrapolated from the held-out tail and move with the seed (train on more flows, or raise --target-fpr to %s for this baseline)",
			pct(r.TargetFPR), r.Flows, r.FlowsNeeded, tailFlows, pct(tailFlows/float64(r.Flows))))
	}
	var constant, near []string
	for _, c := range r.Constant {
		v := strconv.FormatFloat(c.Value, 'g', 6, 64)
		if c.Off == 0 {
			constant = append(constant, c.Name+"="+v)
		} else {
			near = append(near, fmt.Sprintf("%s=%s (%d of %d rows off it)", c.Name, v, c.Off, c.Rows))
		}
	}
	if len(constant) > 0 {
		w = append(w, fmt.Sprintf("%d features constant on the baseline (any other value scores as never seen): %s",
			len(constant), strings.Join(constant, ", ")))
	}
	if len(near) > 0 {
		w = append(w, fmt.Sprintf("%d features nearly constant on the baseline (≥ %.0f %% of rows one value): %s",
			len(near), 100*nearConstantShare, strings.Join(near, ", ")))
	}
	return w
}

// pct formats a rate as a percentage with up to 3 significant digits.
func pct(r float64) string { return strconv.FormatFloat(100*r, 'g', 3, 64) + " %" }
