package detect

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/vigil-nids/vigil/capture"
)

// singleModel hides the bundle scorer's batch and scored-explain paths, so
// that the pipeline scores every record with Score and explains it with
// Explain (scoring it again): the reference the fast paths must equal.
type singleModel struct{ Model }

func (m singleModel) NewScorer() Scorer { return struct{ Scorer }{m.Model.NewScorer()} }

// TestBatchScoringMatchesSingle runs the lab capture through the pipeline
// twice, once with the bundle's batch scoring (ScoreBatch, ExplainRow) and
// once record by record (Score, Explain), and requires the same scores
// for every record, bit for bit, and the same alerts, byte for byte.
func TestBatchScoringMatchesSingle(t *testing.T) {
	b := trainLab(t)
	ecfg, err := ExtractorConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	fast := FromBundle(b)
	if _, ok := fast.NewScorer().(batchScorer); !ok {
		t.Fatal("the bundle's scorer has no batch path: nothing to compare")
	}
	run := func(m Model) (map[string][3]uint64, []string) {
		return runScored(t, m, Config{Workers: 2, Block: true, Extractor: ecfg})
	}
	gotScores, gotAlerts := run(fast)
	wantScores, wantAlerts := run(singleModel{fast})
	if len(wantScores) < 1000 || len(wantAlerts) < 100 {
		t.Fatalf("only %d records and %d alerts: the comparison would prove little", len(wantScores), len(wantAlerts))
	}
	if len(gotScores) != len(wantScores) {
		t.Fatalf("%d records scored in batches, %d one by one", len(gotScores), len(wantScores))
	}
	for k, w := range wantScores {
		if g, ok := gotScores[k]; !ok || g != w {
			t.Fatalf("record %s: batch scores %x, single %x", k, g, w)
		}
	}
	if !slices.Equal(gotAlerts, wantAlerts) {
		for i := range min(len(gotAlerts), len(wantAlerts)) {
			if gotAlerts[i] != wantAlerts[i] {
				t.Fatalf("alert %d differs:\nbatch  %s\nsingle %s", i, gotAlerts[i], wantAlerts[i])
			}
		}
		t.Fatalf("%d alerts in batches, %d one by one", len(gotAlerts), len(wantAlerts))
	}
}

// runScored runs the pipeline with cfg over the lab sample and returns
// every record's scores (by identity, sequence, finality and time; bits)
// and the alerts' JSON lines, sorted (the workers interleave; each one's
// order is kept). cfg.Observe is set here.
func runScored(t *testing.T, m Model, cfg Config) (map[string][3]uint64, []string) {
	t.Helper()
	src, err := capture.Open([]string{labMixed}, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var mu sync.Mutex
	scores := map[string][3]uint64{}
	cfg.Observe = func(o *Observation) {
		k := fmt.Sprint(o.ID, o.Seq, o.Final, o.At)
		mu.Lock()
		scores[k] = [3]uint64{math.Float64bits(o.Scores.IForest), math.Float64bits(o.Scores.KMeans), math.Float64bits(o.Scores.Ensemble)}
		mu.Unlock()
	}
	var mem Memory
	if _, err := New(m, cfg).Run(context.Background(), src, &mem); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, a := range mem.Alerts() {
		lines = append(lines, string(a.AppendJSON(nil)))
	}
	slices.Sort(lines)
	return scores, lines
}
