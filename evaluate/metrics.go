package evaluate

import "math"

// scored is one sample as the ranking pass sees it: its score under one
// model as a descending sort key (see descKey) and its class (0 benign,
// 1.. an attack label's index).
type scored struct {
	k uint64
	c int32
}

// descKey maps a non-NaN score to a key whose ascending unsigned order is
// the scores' descending order; equal scores (0 and -0 included) get equal
// keys.
func descKey(s float64) uint64 {
	if s == 0 {
		s = 0 // -0 ties with +0
	}
	b := math.Float64bits(s)
	if b>>63 != 0 {
		b = ^b
	} else {
		b |= 1 << 63
	}
	return ^b
}

// radixSort sorts xs by ascending key with a least-significant-digit radix
// sort (8 passes of 8 bits at most; passes where every key has the same
// digit are skipped). tmp must have len(xs). O(n) time.
func radixSort(xs, tmp []scored) {
	var counts [8][256]int
	for _, x := range xs {
		for d := range 8 {
			counts[d][byte(x.k>>(8*d))]++
		}
	}
	src, dst := xs, tmp
	for d := range 8 {
		c := &counts[d]
		if c[byte(xs[0].k>>(8*d))] == len(xs) {
			continue // one digit value: the pass would not reorder
		}
		sum := 0
		for i := range c {
			c[i], sum = sum, sum+c[i]
		}
		for _, x := range src {
			b := byte(x.k >> (8 * d))
			dst[c[b]] = x
			c[b]++
		}
		src, dst = dst, src
	}
	if &src[0] != &xs[0] {
		copy(xs, src)
	}
}

// point is one point of a plotted curve.
type point struct{ x, y float64 }

// ranking holds everything one pass over the samples in descending score
// order yields. Counts are exact integers; ratios are formed at the end.
type ranking struct {
	pos, neg int64 // attack and benign samples

	// twoU is twice the Mann-Whitney U statistic of attack against benign:
	// the sum over attack samples of 2·(benign strictly below) + (benign
	// tied). roc_auc = twoU / (2·pos·neg), which equals the trapezoidal area
	// under the ROC curve over distinct thresholds (scikit-learn's
	// roc_auc_score) exactly.
	twoU int64
	// twoULabel is the same statistic per attack label (index 0 unused),
	// each label's samples against the benign samples only.
	twoULabel []int64

	// ap is average precision as scikit-learn's average_precision_score
	// computes it: sum over distinct thresholds of ΔTP/pos · precision,
	// step-wise, no interpolation.
	ap float64

	// fprAtRecall is the lowest FPR over thresholds with recall ≥ 0.9;
	// recallAtFPR the highest recall over thresholds with FPR ≤ 0.001
	// (including the threshold above every score: recall 0, FPR 0).
	fprAtRecall, recallAtFPR float64

	roc, pr []point // downsampled curves for plotting
}

// The operating points of fpr_at_recall_0.9 and recall_at_fpr_0.001, as
// exact ratios so that integer counts compare without rounding.
const (
	recallNum, recallDen = 9, 10   // recall ≥ 0.9
	fprNum, fprDen       = 1, 1000 // fpr ≤ 0.001
)

// maxPlotPoints bounds each plotted curve. A point is kept when it moved at
// least 1/plotResolution in either axis from the last kept point.
const (
	plotResolution = 2000
	maxPlotPoints  = 4 * plotResolution
)

// ROCAUC returns the area under the ROC curve of scores for the samples
// marked positive (the Mann-Whitney statistic, ties counted half: what
// report.json's roc_auc is), and false when there is no positive or no
// negative sample, or a score is NaN. pos must be as long as scores. It
// sorts in O(n) (the report's radix sort).
func ROCAUC(scores []float64, pos []bool) (float64, bool) {
	if len(pos) != len(scores) {
		panic("evaluate: ROCAUC: scores and pos differ in length")
	}
	xs := make([]scored, len(scores))
	for i, s := range scores {
		if math.IsNaN(s) {
			return 0, false
		}
		xs[i] = scored{k: descKey(s)}
		if pos[i] {
			xs[i].c = 1
		}
	}
	rk := rank(xs, make([]scored, len(xs)), 2, make([]int64, 2))
	if rk.pos == 0 || rk.neg == 0 {
		return 0, false
	}
	return float64(rk.twoU) / (2 * float64(rk.pos) * float64(rk.neg)), true
}

// rank sorts xs by descending score (in place; tmp is scratch of the same
// length) and computes r. nLabels is the number of classes including
// benign; tally is scratch of that length. It runs in O(n): a radix sort,
// then one pass.
func rank(xs, tmp []scored, nLabels int, tally []int64) *ranking {
	if len(xs) > 0 {
		radixSort(xs, tmp)
	}
	r := &ranking{twoULabel: make([]int64, nLabels)}
	for _, x := range xs {
		if x.c == 0 {
			r.neg++
		} else {
			r.pos++
		}
	}
	clear(tally)
	touched := make([]int32, 0, nLabels)
	var tps, fps int64
	fprFound := false
	r.roc = append(r.roc, point{0, 0})
	r.pr = append(r.pr, point{0, 1})
	for i := 0; i < len(xs); {
		// One group: every sample tied at score xs[i].s.
		j := i
		touched = touched[:0]
		for ; j < len(xs) && xs[j].k == xs[i].k; j++ {
			c := xs[j].c
			if tally[c] == 0 {
				touched = append(touched, c)
			}
			tally[c]++
		}
		gb := tally[0]
		ga := int64(j-i) - gb
		tps += ga
		fps += gb
		// Benign strictly below this group, doubled, plus the tied benign.
		below := 2*(r.neg-fps) + gb
		r.twoU += ga * below
		for _, c := range touched {
			if c != 0 {
				r.twoULabel[c] += tally[c] * below
			}
			tally[c] = 0
		}
		if ga > 0 && r.pos > 0 {
			r.ap += float64(ga) * (float64(tps) / float64(tps+fps))
		}
		if !fprFound && r.pos > 0 && recallDen*tps >= recallNum*r.pos {
			fprFound = true
			if r.neg > 0 {
				r.fprAtRecall = float64(fps) / float64(r.neg)
			}
		}
		if r.pos > 0 && fprDen*fps <= fprNum*r.neg {
			r.recallAtFPR = float64(tps) / float64(r.pos)
		}
		if r.pos > 0 && r.neg > 0 {
			last := j == len(xs)
			r.roc = keep(r.roc, point{float64(fps) / float64(r.neg), float64(tps) / float64(r.pos)}, last)
			r.pr = keep(r.pr, point{float64(tps) / float64(r.pos), float64(tps) / float64(tps+fps)}, last)
		}
		i = j
	}
	if r.pos > 0 {
		r.ap /= float64(r.pos) // Σ ΔTP·precision / pos: fewer roundings than Σ (ΔTP/pos)·precision
	}
	r.roc = thin(r.roc)
	r.pr = thin(r.pr)
	return r
}

// keep appends p to pts when it is far enough from the last kept point, or
// when it is the last point of the curve.
func keep(pts []point, p point, last bool) []point {
	q := pts[len(pts)-1]
	const eps = 1.0 / plotResolution
	if last || abs(p.x-q.x) >= eps || abs(p.y-q.y) >= eps {
		pts = append(pts, p)
	}
	return pts
}

// thin keeps every k-th point (and the last) so len(pts) ≤ maxPlotPoints.
func thin(pts []point) []point {
	if len(pts) <= maxPlotPoints {
		return pts
	}
	k := (len(pts) + maxPlotPoints - 1) / maxPlotPoints
	out := pts[:0]
	n := len(pts)
	lastPt := pts[n-1]
	for i := 0; i < n; i += k {
		out = append(out, pts[i])
	}
	if out[len(out)-1] != lastPt {
		out = append(out, lastPt)
	}
	return out
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
