package train

import (
	"errors"
	"fmt"
	"math"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/vigil-nids/vigil/features"
	"github.com/vigil-nids/vigil/models"
	"github.com/vigil-nids/vigil/models/bundle"
	"github.com/vigil-nids/vigil/models/iforest"
	"github.com/vigil-nids/vigil/models/kmeans"
	"github.com/vigil-nids/vigil/models/scale"
)

// Config configures Fit. Zero fields take the defaults shown.
type Config struct {
	// MinRows is the fewest rows Fit accepts; default 100.
	MinRows int
	// HoldOut is the fraction of flows kept out of fitting to calibrate
	// the thresholds on (default 0.25): the rows are split into
	// round(1/HoldOut) folds by flow. When one fold would hold too few
	// flows for the target rate (fewer than 5 expected above the
	// threshold), every fold is scored by models fitted on the others
	// (cross-fitting) and the final models are fitted on all rows.
	HoldOut float64
	// TargetFPR is the false-positive rate the thresholds aim for on
	// baseline data; default models.DefaultTargetFPR.
	TargetFPR float64
	Seed      uint64
	// Scale selects the scaler; log1p is applied to the schema's count
	// features unless NoLog1p.
	Scale   scale.Method
	NoLog1p bool
	Forest  iforest.Config // Seed is derived from Seed
	KMeans  kmeans.Config  // K 0 means choose k among KRange (auto)
	KRange  []int          // default 2..12
	// CrossFitRepeats is how many fold splits cross-fitting pools held-out
	// scores from (see Fit); 0 chooses by the number of flows and TargetFPR.
	CrossFitRepeats int
	// NoForest and NoKMeans leave a model out.
	NoForest, NoKMeans bool
	// Clock times the stages for the bundle's metadata; nil records no timings.
	Clock func() time.Time
}

// ErrTooFew is returned when there are too few rows to fit.
var ErrTooFew = errors.New("too few baseline rows")

// Report tells what Fit did.
type Report struct {
	Rows, HeldOut int
	// CrossFitRepeats is how many times the flows were split into folds
	// anew for cross-fitting (0: a held-out fold was used instead).
	CrossFitRepeats int
	K               int
	KReports        []kmeans.KReport // when k was chosen automatically
	Thresholds      bundle.Thresholds
	Timings         []bundle.Timing
	// Flows is the number of distinct baseline flows, FlowsNeeded how
	// many the target rate TargetFPR needs for an empirical threshold
	// (FlowsNeeded).
	Flows, FlowsNeeded int
	TargetFPR          float64
	// Constant lists the features that were constant or nearly so on the
	// baseline (see ConstantFeature); Warnings puts them in words.
	Constant []ConstantFeature
}

// Fit fits a bundle on the rows of res, whose columns follow schema. The
// returned bundle has Schema, Scaler, models, Thresholds, TargetFPR and
// Meta.Rows/HeldOut/Seed/Timings set; the caller adds the rest of Meta
// (inputs, counts, created time, version) and the extractor settings.
//
// The steps: the rows are split into folds by flow (assignFolds); either
// one fold is held out and the models are fitted on the others (holdOut),
// or, when one fold would hold too few flows for the target rate's tail,
// every flow is scored out of fold in repeated splits and the final models
// are fitted on all rows (crossFit); then each model's threshold and the
// ensemble's are calibrated on the held-out scores (calibrateThresholds).
func Fit(res *Reservoir, schema *features.Schema, cfg Config) (*bundle.Bundle, Report, error) {
	var rep Report
	cfg = cfg.withDefaults()
	if cfg.NoForest && cfg.NoKMeans {
		return nil, rep, errors.New("train: no model selected")
	}
	d := schema.Len()
	if res.Dim() != d {
		return nil, rep, fmt.Errorf("train: rows have %d columns, schema %q has %d", res.Dim(), schema.Name, d)
	}
	n := res.Len()
	if n < cfg.MinRows {
		return nil, rep, fmt.Errorf("%w: found %d, need at least %d", ErrTooFew, n, cfg.MinRows)
	}
	f := newFitter(res, schema, cfg, &rep)
	flows := f.assignFolds(cfg.Seed)
	rep.Flows, rep.FlowsNeeded, rep.TargetFPR = flows, FlowsNeeded(cfg.TargetFPR), cfg.TargetFPR
	rep.Constant = f.constantFeatures()
	// Cross-fit when one held-out fold would hold too few flows for the
	// target rate's tail (fewer than 5 expected above the threshold):
	// then every flow is scored out of fold and the final models are fitted
	// on all rows.
	var b *bundle.Bundle
	var h *heldOut
	var err error
	if float64(flows)/float64(f.k)*cfg.TargetFPR < 5 {
		b, h, err = f.crossFit(flows)
	} else {
		b, h, err = f.holdOut()
	}
	if err != nil {
		return nil, rep, err
	}
	f.calibrateThresholds(b, h, flows)
	f.stage.done("calibrate")

	rep.Thresholds = b.Thresholds
	rep.Timings = f.stage.timings
	b.Meta.Rows, b.Meta.HeldOut, b.Meta.Seed = int64(rep.Rows), int64(rep.HeldOut), cfg.Seed
	b.Meta.Timings = f.stage.timings
	return b, rep, nil
}

// withDefaults fills the zero fields of cfg with their defaults.
func (cfg Config) withDefaults() Config {
	if cfg.MinRows <= 0 {
		cfg.MinRows = 100
	}
	if cfg.HoldOut <= 0 || cfg.HoldOut >= 1 {
		cfg.HoldOut = 0.25
	}
	if cfg.TargetFPR <= 0 {
		cfg.TargetFPR = models.DefaultTargetFPR
	}
	return cfg
}

// fitter holds what Fit's steps share: the rows, their folds, and the
// settings that the first fit decides for the later ones (k chosen
// automatically, the shared scaler of cross-fitting).
type fitter struct {
	cfg    Config
	schema *features.Schema
	rows   []float64 // n rows of d columns
	groups []uint64  // the flow of each row
	n, d   int
	log1p  []bool // nil with NoLog1p
	k      int    // number of folds
	fold   []int  // the fold of each row
	// shared, when set, is the scaler every fitSet uses instead of
	// fitting its own (see crossFit).
	shared *scale.Scaler
	// seed seeds the forest and k-means of the next fitSet: cfg.Seed for
	// the final models, another per cross-fitting repeat.
	seed  uint64
	rep   *Report
	stage *stager
}

func newFitter(res *Reservoir, schema *features.Schema, cfg Config, rep *Report) *fitter {
	f := &fitter{
		cfg: cfg, schema: schema,
		rows: res.Rows(), groups: res.Groups(),
		n: res.Len(), d: schema.Len(),
		k:    max(2, int(math.Round(1/cfg.HoldOut))),
		seed: cfg.Seed,
		rep:  rep, stage: newStager(cfg.Clock),
	}
	f.fold = make([]int, f.n)
	if !cfg.NoLog1p {
		f.log1p = make([]bool, f.d)
		for j, ft := range schema.Features {
			f.log1p[j] = ft.Count
		}
	}
	return f
}

// assignFolds puts every row in a fold by its flow, so a flow is never
// scored by a model that saw part of it, and returns the number of
// distinct flows.
func (f *fitter) assignFolds(seed uint64) int {
	distinct := map[uint64]struct{}{}
	for i, g := range f.groups {
		f.fold[i] = int(mix(g^seed) % uint64(f.k))
		distinct[g] = struct{}{}
	}
	return len(distinct)
}

// holdOut fits the models on every fold but the first and scores the
// first's rows.
func (f *fitter) holdOut() (*bundle.Bundle, *heldOut, error) {
	h := newHeldOut(f.n, 1)
	b, err := f.fitSet(func(i int) bool { return f.fold[i] != 0 })
	if err != nil {
		return nil, nil, err
	}
	x := make([]float64, f.d)
	for i := 0; i < f.n; i++ {
		if f.fold[i] == 0 {
			h.score(b, i, x, f.row(i))
		}
	}
	f.rep.Rows, f.rep.HeldOut = f.n-len(h.slots), len(h.slots)
	f.stage.done("fit")
	return b, h, nil
}

// crossFit fits the final models on all rows, then scores every row by
// models fitted without its fold, in one or more fold splits (repeats).
func (f *fitter) crossFit(flows int) (*bundle.Bundle, *heldOut, error) {
	final, err := f.fitSet(func(int) bool { return true })
	if err != nil {
		return nil, nil, err
	}
	f.stage.done("fit")
	// The folds' models share the final scaler. A fold fitting its own
	// would see a feature that a handful of baseline flows carry (a
	// TXT query, a second active period) as constant whenever the fold
	// held those flows out, and give it ConstantScale: the held-out
	// flows then scored as far from normal as an attack, and the
	// thresholds calibrated on them sat at twice the distance the
	// final model, which did see them, gives such flows. The scaler is
	// per-feature location and spread, not what is being validated.
	f.shared = final.Scaler
	// Repeated cross-fitting: with so few flows the thresholds sit
	// on the few highest held-out scores, so which flows happen to
	// share a fold would move the thresholds from seed to seed. Every repeat splits the flows anew and
	// seeds its models anew (folds fitted from one seed start k-means
	// alike and share its luck); the thresholds are read from the
	// scores of all repeats together: each is a held-out score of a
	// baseline flow under one model, as a new flow gets from the final
	// model, and together they estimate that distribution's tail with
	// less luck of the split.
	repeats := f.cfg.CrossFitRepeats
	if repeats <= 0 {
		repeats = crossFitRepeats(flows, f.cfg.TargetFPR)
	}
	h := newHeldOut(f.n, repeats)
	x := make([]float64, f.d)
	for r := 0; r < repeats; r++ {
		if r > 0 {
			f.seed = mix(f.cfg.Seed ^ uint64(r)*0x9e3779b97f4a7c15)
			f.assignFolds(f.seed)
		}
		for k := 0; k < f.k; k++ {
			fb, err := f.fitSet(func(i int) bool { return f.fold[i] != k })
			if err != nil {
				return nil, nil, err
			}
			for i := 0; i < f.n; i++ {
				if f.fold[i] == k {
					h.score(fb, r*f.n+i, x, f.row(i))
				}
			}
		}
	}
	f.rep.CrossFitRepeats = repeats
	f.rep.Rows, f.rep.HeldOut = f.n, f.n
	f.stage.done("cross-fit")
	return final, h, nil
}

func (f *fitter) row(i int) []float64 { return f.rows[i*f.d : (i+1)*f.d] }

// fitSet fits a scaler (unless shared is set) and the selected models on
// the rows keep accepts.
func (f *fitter) fitSet(keep func(i int) bool) (*bundle.Bundle, error) {
	var data []float64
	for i := 0; i < f.n; i++ {
		if keep(i) {
			data = append(data, f.row(i)...)
		}
	}
	m := len(data) / f.d
	if m < 2 {
		return nil, fmt.Errorf("%w: a fold holds %d rows", ErrTooFew, m)
	}
	X := mat.NewDense(m, f.d, data)
	sc := f.shared
	var err error
	if sc == nil {
		if sc, err = f.fitScaler(X); err != nil {
			return nil, err
		}
	}
	for i := 0; i < m; i++ {
		r := data[i*f.d : (i+1)*f.d]
		sc.TransformTo(r, r) // in place: the raw copy is no longer needed
	}
	b := &bundle.Bundle{Schema: *f.schema, Scaler: sc, TargetFPR: f.cfg.TargetFPR}
	if !f.cfg.NoForest {
		if b.Forest, err = f.fitForest(X); err != nil {
			return nil, err
		}
	}
	if !f.cfg.NoKMeans {
		if b.KMeans, err = f.fitKMeans(X, m); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func (f *fitter) fitScaler(X *mat.Dense) (*scale.Scaler, error) {
	sc, err := scale.Fit(X, scale.Config{Method: f.cfg.Scale, Log1p: f.log1p, ConstantScale: constantScale, TailZ: tailZ})
	if err != nil {
		return nil, fmt.Errorf("train: scaler: %w", err)
	}
	floorNearConstant(sc, f.schema)
	return sc, nil
}

func (f *fitter) fitForest(X *mat.Dense) (*iforest.Forest, error) {
	fc := f.cfg.Forest
	fc.Seed = f.seed ^ 0x666f72657374
	forest, err := iforest.Fit(X, fc)
	if err != nil {
		return nil, fmt.Errorf("train: isolation forest: %w", err)
	}
	return forest, nil
}

// fitKMeans fits k-means on the m scaled rows of X. Without a k in the
// configuration the first call chooses it (ChooseK) and every later fit,
// fold or final, uses the same k.
func (f *fitter) fitKMeans(X *mat.Dense, m int) (*kmeans.Model, error) {
	kc := f.cfg.KMeans
	kc.Seed = f.seed ^ 0x6b6d65616e73
	if kc.K <= 0 {
		k, err := f.chooseK(X, kc, m)
		if err != nil {
			return nil, err
		}
		kc.K = k
	}
	kc.K = min(kc.K, m)
	km, err := kmeans.Fit(X, kc)
	if err != nil {
		return nil, fmt.Errorf("train: k-means: %w", err)
	}
	f.rep.K = kc.K
	return km, nil
}

// chooseK picks k among cfg.KRange (default 2..12) and keeps it in
// cfg.KMeans.K for the fits that follow.
func (f *fitter) chooseK(X *mat.Dense, kc kmeans.Config, m int) (int, error) {
	ks := f.cfg.KRange
	if len(ks) == 0 {
		for k := 2; k <= 12; k++ {
			ks = append(ks, k)
		}
	}
	reports, k, err := kmeans.ChooseK(X, clampKs(ks, m), kc, 0)
	if err != nil {
		return 0, fmt.Errorf("train: choosing k: %w", err)
	}
	f.rep.KReports = reports
	f.cfg.KMeans.K = k
	f.stage.done("choose-k")
	return k, nil
}

// heldOut holds the held-out scores of the isolation forest and k-means
// in slots r*n+i for record i scored in cross-fitting repeat r (r = 0
// without cross-fitting).
type heldOut struct {
	n              int
	slots          []int // the slots that hold a score
	forest, kmeans []float64
}

func newHeldOut(n, repeats int) *heldOut {
	return &heldOut{n: n, slots: make([]int, 0, n), forest: make([]float64, repeats*n), kmeans: make([]float64, repeats*n)}
}

// score scores the raw row by b's models into slot, using x for the
// scaled row.
func (h *heldOut) score(b *bundle.Bundle, slot int, x, row []float64) {
	b.Scaler.TransformTo(x, row)
	if b.Forest != nil {
		h.forest[slot] = b.Forest.Score(x)
	}
	if b.KMeans != nil {
		h.kmeans[slot] = b.KMeans.Score(x)
	}
	h.slots = append(h.slots, slot)
}

// crossFitRepeats is how many fold splits cross-fitting pools: enough
// that the splits together score about 5 flows per target rate's tail
// (flows·repeats·fpr ≥ 5), at most 8. A baseline with 20,000 flows or more
// at the default rate is not cross-fitted at all.
func crossFitRepeats(flows int, fpr float64) int {
	r := int(math.Ceil(5 / (float64(flows) * fpr)))
	return min(8, max(1, r))
}

// mix is splitmix64's finaliser: a well-spread fold for any group id.
func mix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// constantScale is the scaler's scale for features constant on the
// baseline: see scale.Config.ConstantScale. A 0/1 indicator that never
// fired in the baseline (a scanning tool's user agent, an SSH connection
// closed before any session ran) moves a vector by 1/constantScale = 20,
// above a typical calibrated k-means threshold, so such a feature firing
// alerts on its own.
const constantScale = 0.05

func clampKs(ks []int, n int) []int {
	var out []int
	for _, k := range ks {
		if k >= 2 && k < n {
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		out = []int{min(2, n)}
	}
	return out
}

type stager struct {
	clock   func() time.Time
	last    time.Time
	timings []bundle.Timing
}

func newStager(clock func() time.Time) *stager {
	s := &stager{clock: clock}
	if clock != nil {
		s.last = clock()
	}
	return s
}

func (s *stager) done(stage string) {
	if s.clock == nil {
		return
	}
	now := s.clock()
	s.timings = append(s.timings, bundle.Timing{Stage: stage, Seconds: now.Sub(s.last).Seconds()})
	s.last = now
}

// floorNearConstant keeps one baseline outlier from setting the scale of
// a time feature that is otherwise constant (its 1st and 99th percentiles
// are equal): active_std, zero on every lab baseline flow but one (8 µs),
// got a standard deviation of 3e-7 s, so a later flow whose two active
// periods differed by 50 µs of scheduling jitter scored as if it were
// thousands of units away. Such a feature's scale is at least
// timeResolution. Other units keep their fitted scale: a share or count
// with a few non-zero baseline rows has a meaningful spread.
func floorNearConstant(sc *scale.Scaler, schema *features.Schema) {
	for j, f := range schema.Features {
		if f.Unit == "s" && sc.Lo[j] == sc.Hi[j] && sc.Scale[j] < timeResolution {
			sc.Scale[j] = timeResolution
		}
	}
}

// timeResolution is the smallest time difference (s) a scaled time feature
// resolves: below a millisecond, gaps between packets of one host are
// mostly its scheduler's and the NIC's jitter.
const timeResolution = 1e-3

// tailZ is scale.Config.TailZ for train's scalers (the 99th percentile of
// a normal): rare-but-normal values (TXT queries, digits in a few DNS
// names) are squeezed so that they do not fill the held-out tail and
// raise the thresholds.
const tailZ = 2.3263478740408408

// DefaultK is the k-means k that train's --k and the demo use unless told
// otherwise (Config.KMeans.K 0 still means choose k by silhouette). A
// k-means model here scores novelty (the distance to the nearest
// centroid), so what matters is that the centroids
// cover every mode of normal traffic, not that the clusters are well
// separated, which is what the silhouette behind --k auto rewards: the k
// it chooses moves with the seed, and the false positives with it; a
// fixed k = 12 keeps them steady at the same recall.
const DefaultK = 12
