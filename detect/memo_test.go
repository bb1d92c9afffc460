package detect

import (
	"math"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/vigil-nids/vigil/features"
	"github.com/vigil-nids/vigil/models"
)

func TestScoreMemoSlots(t *testing.T) {
	negZero := math.Copysign(0, -1)
	nan1 := math.Float64frombits(0x7ff8000000000001)
	nan2 := math.Float64frombits(0x7ff8000000000002)
	for _, tc := range []struct {
		name      string
		stored    []float64
		probe     []float64
		wantFound bool
	}{
		{"same values", []float64{1, 2.5, 0}, []float64{1, 2.5, 0}, true},
		{"one value differs", []float64{1, 2.5, 0}, []float64{1, 2.5, 1e-300}, false},
		{"0 and -0 differ in bits", []float64{1, 0, 3}, []float64{1, negZero, 3}, false},
		{"the same NaN", []float64{nan1, 2, 3}, []float64{nan1, 2, 3}, true},
		{"another NaN", []float64{nan1, 2, 3}, []float64{nan2, 2, 3}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newScoreMemo(8, 3)
			if e := m.lookup(m.hash(tc.stored), tc.stored); e != nil {
				t.Fatal("an empty memo found a vector")
			}
			e := m.insert(m.hash(tc.stored), tc.stored, 0)
			e.s, e.row = Scores{Ensemble: 7}, -1
			got := m.lookup(m.hash(tc.probe), tc.probe)
			if (got != nil) != tc.wantFound {
				t.Fatalf("lookup found %v, want %v", got != nil, tc.wantFound)
			}
			if got != nil && got.s.Ensemble != 7 {
				t.Fatalf("found scores %v", got.s)
			}
		})
	}
	t.Run("a colliding vector replaces the slot", func(t *testing.T) {
		m := newScoreMemo(1, 2) // one slot: every vector collides
		a, b := []float64{1, 2}, []float64{3, 4}
		ea := m.insert(m.hash(a), a, 0)
		gen := ea.gen
		eb := m.insert(m.hash(b), b, 1)
		if eb != ea || eb.gen == gen {
			t.Fatalf("slot %p gen %d after a replacement of %p gen %d", eb, eb.gen, ea, gen)
		}
		if m.lookup(m.hash(a), a) != nil || m.lookup(m.hash(b), b) == nil {
			t.Fatal("the replaced vector is still found, or the new one is not")
		}
	})
}

// countingModel counts the rows its scorers score in batches.
type countingModel struct {
	Model
	rows atomic.Int64
}

func (m *countingModel) NewScorer() Scorer {
	sc := m.Model.NewScorer()
	return &countingScorer{Scorer: sc, b: sc.(batchScorer), f: sc.(scoredExplainer), rows: &m.rows}
}

type countingScorer struct {
	Scorer
	b    batchScorer
	f    scoredExplainer
	rows *atomic.Int64
}

func (s *countingScorer) ScoreRows(dst []Scores, raw [][]float64) []Scores {
	dst = s.b.ScoreRows(dst, raw)
	s.rows.Add(int64(len(dst)))
	return dst
}

func (s *countingScorer) ExplainRow(dst []models.Contribution, i int, raw []float64, sc Scores, n int) []models.Contribution {
	return s.b.ExplainRow(dst, i, raw, sc, n)
}

func (s *countingScorer) ExplainScored(dst []models.Contribution, raw []float64, sc Scores, n int) []models.Contribution {
	return s.f.ExplainScored(dst, raw, sc, n)
}

// TestScoreMemoMatchesNoMemo runs the lab capture, each record twice, with the score memo of
// the default size, with a memo of one slot per worker (every new vector
// evicts the last, also within a batch) and without it, and requires the
// same scores for every record, bit for bit, and the same alerts, byte for
// byte; with the memo, fewer rows reach the scorer.
func TestScoreMemoMatchesNoMemo(t *testing.T) {
	b := trainLab(t)
	ecfg, err := ExtractorConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	run := func(memo int) (map[string][3]uint64, []string, int64) {
		cfg := Config{Workers: 2, Block: true, ScoreMemo: memo}
		cfg.NewExtractor = twiceExtractor(ecfg)
		m := &countingModel{Model: FromBundle(b)}
		scores, lines := runScored(t, m, cfg)
		return scores, lines, m.rows.Load()
	}
	wantScores, wantAlerts, allRows := run(-1)
	if len(wantScores) < 1000 || len(wantAlerts) < 100 {
		t.Fatalf("only %d records and %d alerts: the comparison would prove little", len(wantScores), len(wantAlerts))
	}
	for _, memo := range []int{0, 1} {
		gotScores, gotAlerts, rows := run(memo)
		if len(gotScores) != len(wantScores) {
			t.Fatalf("memo %d: %d records scored, %d without the memo", memo, len(gotScores), len(wantScores))
		}
		for k, w := range wantScores {
			if g, ok := gotScores[k]; !ok || g != w {
				t.Fatalf("memo %d: record %s: scores %x, without the memo %x", memo, k, g, w)
			}
		}
		if !slices.Equal(gotAlerts, wantAlerts) {
			t.Fatalf("memo %d: %d alerts differ from the %d without the memo", memo, len(gotAlerts), len(wantAlerts))
		}
		t.Logf("memo %d: %d of %d rows scored", memo, rows, allRows)
		if memo == 0 && rows > allRows/2 {
			t.Fatalf("the default memo scored %d rows of %d: every record comes twice", rows, allRows)
		}
	}
}

// twiceExtractor emits each flow record twice, the copy as the flow's
// next record (Seq+1000): the same vector again, as a flood's flows give.
func twiceExtractor(ecfg features.Config) NewExtractorFunc {
	return func(emit func(*features.Record)) Extractor {
		return NewFeaturesExtractor(ecfg, func(r *features.Record) {
			emit(r)
			c := *r
			c.Seq += 1000
			emit(&c)
		})
	}
}
