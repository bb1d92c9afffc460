package evaluate

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
)

// Benign is the label of the negative class. Every other label is an attack.
const Benign = "benign"

// Sample is one unit of evaluation: a flow, or a row of a feature table.
type Sample struct {
	// Label is Benign or the attack label. It must not be empty.
	Label string
	// Scores holds one score per model, in Input.Models order; higher is
	// more anomalous. For a flow scored more than once (active-flow scoring
	// of a long flow), it is the highest of its scores, so that
	// score ≥ threshold holds exactly when detect alerted on the flow.
	// ±Inf are ordered as usual; NaN is an error.
	Scores []float64
	// Start and End are the flow's span in Unix nanoseconds (0 for rows of
	// a feature table). They are carried for callers and not used by the
	// metrics.
	Start, End int64
	// FirstAlert holds, per model, the capture time (Unix ns) of the first
	// alert on this flow — its first score ≥ the threshold, which may be an
	// interim score of a still-active flow — or 0 for never. It may be nil
	// (feature tables), which means no alert times are known.
	FirstAlert []int64
	// Flow is the flow's 5-tuple, for samples.csv; nil for the rows of a
	// feature table.
	Flow *FlowKey
}

// FlowKey is a flow's identity as samples.csv prints it. Src sent the
// flow's first packet.
type FlowKey struct {
	Proto    string
	Src, Dst netip.Addr
	Sport    uint16
	Dport    uint16
}

// Fingerprint identifies one input file.
type Fingerprint struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Unmatched reports label rows that matched no flow.
type Unmatched struct {
	Count int      `json:"count"`
	First []string `json:"first,omitempty"` // the first few rows, described
}

// Input is everything Evaluate needs.
type Input struct {
	// Models names each score column, e.g. "iforest", "kmeans", "ensemble".
	Models []string
	// Thresholds holds each model's calibrated threshold; a sample is an
	// alert when its score ≥ the threshold.
	Thresholds []float64
	Samples    []Sample
	// LabelStarts maps an attack label to the earliest start (Unix ns) of
	// its label windows; first_detection_delay_s is measured from there.
	// Labels without an entry (feature tables) get a null delay.
	LabelStarts map[string]int64
	Inputs      []Fingerprint
	ModelHash   string
	Version     string
	// Unmatched, when Count > 0, is reported as a warning.
	Unmatched Unmatched
	// Incidents, when non-nil, are the incidents detect's default alert
	// mode raises over the same alerts; LinesWritten is what that mode
	// writes (incident events and sample flow alerts), FlowAlerts the flow
	// alerts, CaptureSeconds the capture's span. They make the report's
	// "incidents".
	Incidents      []Incident
	LinesWritten   uint64
	FlowAlerts     uint64
	CaptureSeconds float64
}

// AlertRule is how a score and a threshold make an alert, as report.json
// states it.
const AlertRule = "score >= threshold"

// Report is the result of Evaluate. Its JSON encoding is report.json.
// Metrics that are undefined for the data (an AUC without any benign
// sample, say) are null, and NullReasons says why: JSON holds no NaN.
type Report struct {
	Version    string                  `json:"vigil_version"`
	AlertRule  string                  `json:"alert_rule"` // always AlertRule
	Model      string                  `json:"model"`
	Inputs     []Fingerprint           `json:"inputs"`
	Counts     Counts                  `json:"counts"`
	Unmatched  *Unmatched              `json:"unmatched_labels,omitempty"`
	ModelOrder []string                `json:"model_order"`
	Models     map[string]*ModelReport `json:"models"`
	Incidents  *IncidentReport         `json:"incidents,omitempty"`

	curves map[string]*ranking // for plots; not in JSON
}

// Counts are the sample counts of the evaluation set.
type Counts struct {
	Flows    int            `json:"flows"`
	Benign   int            `json:"benign"`
	Attack   int            `json:"attack"`
	PerLabel map[string]int `json:"per_label"`
}

// ModelReport holds one model's metrics. Pointer fields are null when
// undefined; see NullReasons.
type ModelReport struct {
	Threshold float64 `json:"threshold"`

	ROCAUC *float64 `json:"roc_auc"`
	PRAUC  *float64 `json:"pr_auc"`

	Precision *float64 `json:"precision"`
	Recall    *float64 `json:"recall"`
	F1        *float64 `json:"f1"`
	FPR       *float64 `json:"fpr"`
	TP        int64    `json:"tp"`
	FP        int64    `json:"fp"`
	TN        int64    `json:"tn"`
	FN        int64    `json:"fn"`

	FPRAtRecall09   *float64 `json:"fpr_at_recall_0.9"`
	RecallAtFPR0001 *float64 `json:"recall_at_fpr_0.001"`

	MacroROCAUC *float64               `json:"macro_roc_auc"`
	PerLabel    map[string]*LabelStats `json:"per_label"`

	NullReasons map[string]string `json:"null_reasons,omitempty"`
}

// LabelStats are one attack label's figures under one model.
type LabelStats struct {
	Flows    int      `json:"flows"`
	Detected int      `json:"detected"`
	Recall   float64  `json:"recall"`
	ROCAUC   *float64 `json:"roc_auc"` // this label against benign only
	// FirstDetectionDelay is the first alert time among this label's flows
	// minus the label's window start, in seconds. It may be negative when a
	// flow that overlaps the window (within the label slack) alerted before
	// the window's start.
	FirstDetectionDelay *float64 `json:"first_detection_delay_s"`
}

// Errors returned by Evaluate, wrapped with detail.
var (
	ErrNoSamples = errors.New("evaluate: no samples")
	ErrNoModels  = errors.New("evaluate: no models")
	ErrInput     = errors.New("evaluate: bad input")
)

// Evaluate computes every metric of every model. It fails on empty input,
// a NaN score or threshold, an empty label, or inconsistent lengths; it
// never returns NaN in the report.
//
// It runs in O(n) per model (a radix sort of the scores, then one pass)
// and allocates 36 bytes of scratch per sample, reused across models.
func Evaluate(in Input) (*Report, error) {
	if len(in.Models) == 0 {
		return nil, ErrNoModels
	}
	if len(in.Thresholds) != len(in.Models) {
		return nil, fmt.Errorf("%w: %d thresholds for %d models", ErrInput, len(in.Thresholds), len(in.Models))
	}
	seen := make(map[string]bool, len(in.Models))
	for i, m := range in.Models {
		if m == "" || seen[m] {
			return nil, fmt.Errorf("%w: model name %q empty or repeated", ErrInput, m)
		}
		seen[m] = true
		if math.IsNaN(in.Thresholds[i]) {
			return nil, fmt.Errorf("%w: model %q: threshold is NaN", ErrInput, m)
		}
	}
	if len(in.Samples) == 0 {
		return nil, ErrNoSamples
	}

	// Index the labels: 0 is benign, attacks follow in sorted order.
	counts := map[string]int{}
	for i := range in.Samples {
		s := &in.Samples[i]
		if s.Label == "" {
			return nil, fmt.Errorf("%w: sample %d: empty label", ErrInput, i)
		}
		if len(s.Scores) != len(in.Models) {
			return nil, fmt.Errorf("%w: sample %d: %d scores for %d models", ErrInput, i, len(s.Scores), len(in.Models))
		}
		if s.FirstAlert != nil && len(s.FirstAlert) != len(in.Models) {
			return nil, fmt.Errorf("%w: sample %d: %d alert times for %d models", ErrInput, i, len(s.FirstAlert), len(in.Models))
		}
		for m, v := range s.Scores {
			if math.IsNaN(v) {
				return nil, fmt.Errorf("%w: sample %d (%s): model %q: score is NaN", ErrInput, i, s.Label, in.Models[m])
			}
		}
		counts[s.Label]++
	}
	labels := []string{Benign}
	for l := range counts {
		if l != Benign {
			labels = append(labels, l)
		}
	}
	slices.Sort(labels[1:])
	index := make(map[string]int32, len(labels))
	for i, l := range labels {
		index[l] = int32(i)
	}
	class := make([]int32, len(in.Samples))
	for i := range in.Samples {
		class[i] = index[in.Samples[i].Label]
	}

	r := &Report{
		Version:    in.Version,
		AlertRule:  AlertRule,
		Model:      in.ModelHash,
		Inputs:     in.Inputs,
		ModelOrder: slices.Clone(in.Models),
		Models:     make(map[string]*ModelReport, len(in.Models)),
		curves:     make(map[string]*ranking, len(in.Models)),
		Counts: Counts{
			Flows:    len(in.Samples),
			Benign:   counts[Benign],
			Attack:   len(in.Samples) - counts[Benign],
			PerLabel: make(map[string]int, len(labels)-1),
		},
	}
	if r.Inputs == nil {
		r.Inputs = []Fingerprint{}
	}
	for _, l := range labels[1:] {
		r.Counts.PerLabel[l] = counts[l]
	}
	if in.Unmatched.Count > 0 {
		u := in.Unmatched
		r.Unmatched = &u
	}
	r.Incidents = incidentReport(&in, r.Counts.PerLabel)

	xs := make([]scored, len(in.Samples))
	tmp := make([]scored, len(in.Samples))
	tally := make([]int64, len(labels))
	detected := make([]int, len(labels))
	firstAlert := make([]int64, len(labels))
	for m, name := range in.Models {
		thr := in.Thresholds[m]
		for i := range in.Samples {
			xs[i] = scored{k: descKey(in.Samples[i].Scores[m]), c: class[i]}
		}
		clear(detected)
		clear(firstAlert)
		var c confusion
		for i := range in.Samples {
			s := &in.Samples[i]
			alert := s.Scores[m] >= thr
			c.add(class[i] != 0, alert)
			if alert {
				detected[class[i]]++
			}
			if s.FirstAlert != nil {
				if t := s.FirstAlert[m]; t != 0 && (firstAlert[class[i]] == 0 || t < firstAlert[class[i]]) {
					firstAlert[class[i]] = t
				}
			}
		}
		rk := rank(xs, tmp, len(labels), tally)
		r.curves[name] = rk
		r.Models[name] = modelReport(rk, c, thr, labels, counts, detected, firstAlert, in.LabelStarts)
	}
	return r, nil
}

type confusion struct{ tp, fp, tn, fn int64 }

func (c *confusion) add(attack, alert bool) {
	switch {
	case attack && alert:
		c.tp++
	case attack:
		c.fn++
	case alert:
		c.fp++
	default:
		c.tn++
	}
}

func num(v float64) *float64 { return &v }

func modelReport(rk *ranking, c confusion, thr float64, labels []string, counts map[string]int,
	detected []int, firstAlert []int64, starts map[string]int64) *ModelReport {
	mr := &ModelReport{
		Threshold: thr,
		TP:        c.tp, FP: c.fp, TN: c.tn, FN: c.fn,
		PerLabel:    make(map[string]*LabelStats, len(labels)-1),
		NullReasons: map[string]string{},
	}
	null := func(key, why string) { mr.NullReasons[key] = why }
	const noPos, noNeg = "no attack samples", "no benign samples"

	switch {
	case rk.pos == 0:
		null("roc_auc", noPos)
		null("pr_auc", noPos)
		null("fpr_at_recall_0.9", noPos)
		null("recall_at_fpr_0.001", noPos)
	case rk.neg == 0:
		null("roc_auc", noNeg)
		mr.PRAUC = num(rk.ap)
		null("fpr_at_recall_0.9", noNeg)
		mr.RecallAtFPR0001 = num(rk.recallAtFPR)
	default:
		mr.ROCAUC = num(float64(rk.twoU) / (2 * float64(rk.pos) * float64(rk.neg)))
		mr.PRAUC = num(rk.ap)
		mr.FPRAtRecall09 = num(rk.fprAtRecall)
		mr.RecallAtFPR0001 = num(rk.recallAtFPR)
	}

	if c.tp+c.fp > 0 {
		mr.Precision = num(float64(c.tp) / float64(c.tp+c.fp))
	} else {
		null("precision", "no alerts at the threshold")
	}
	if c.tp+c.fn > 0 {
		mr.Recall = num(float64(c.tp) / float64(c.tp+c.fn))
	} else {
		null("recall", noPos)
	}
	if d := 2*c.tp + c.fp + c.fn; d > 0 {
		mr.F1 = num(float64(2*c.tp) / float64(d))
	} else {
		null("f1", "no attack samples and no alerts")
	}
	if c.fp+c.tn > 0 {
		mr.FPR = num(float64(c.fp) / float64(c.fp+c.tn))
	} else {
		null("fpr", noNeg)
	}

	var macro float64
	nMacro := 0
	for i, l := range labels {
		if i == 0 {
			continue
		}
		ls := &LabelStats{
			Flows:    counts[l],
			Detected: detected[i],
			Recall:   float64(detected[i]) / float64(counts[l]),
		}
		if rk.neg > 0 {
			auc := float64(rk.twoULabel[i]) / (2 * float64(counts[l]) * float64(rk.neg))
			ls.ROCAUC = num(auc)
			macro += auc
			nMacro++
		} else {
			null("per_label."+l+".roc_auc", noNeg)
		}
		start, ok := starts[l]
		switch {
		case !ok:
			null("per_label."+l+".first_detection_delay_s", "no label window start (not from captures)")
		case firstAlert[i] == 0:
			null("per_label."+l+".first_detection_delay_s", "never detected")
		default:
			ls.FirstDetectionDelay = num(float64(firstAlert[i]-start) / 1e9)
		}
		mr.PerLabel[l] = ls
	}
	if nMacro > 0 {
		mr.MacroROCAUC = num(macro / float64(nMacro))
	} else if len(labels) == 1 {
		null("macro_roc_auc", noPos)
	} else {
		null("macro_roc_auc", noNeg)
	}
	if len(mr.NullReasons) == 0 {
		mr.NullReasons = nil
	}
	return mr
}
