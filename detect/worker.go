package detect

import "github.com/vigil-nids/vigil/models"

// worker scores the records of its shard. The records of one flow come to
// one worker in order, so the dedup state needs no lock.
func (r *run) worker(q chan *batch) {
	sc := r.p.model.NewScorer()
	w := &scoring{r: r, sc: sc, seen: newDedupSet()}
	w.fast, _ = sc.(scoredExplainer)
	w.batch, _ = sc.(batchScorer)
	for b := range q {
		w.outCap = len(b.jobs) // on an attack capture most records alert
		switch {
		case w.batch != nil && r.cfg.ScoreMemo > 0:
			w.scoreMemo(b)
			for i := range b.jobs {
				w.decide(&b.jobs[i], w.scores[i], w.rows[i], w.slotOf[i], w.gens[i])
			}
		case w.batch != nil && len(b.jobs) > 1:
			w.miss = w.miss[:0]
			for i := range b.jobs {
				w.miss = append(w.miss, b.jobs[i].vec)
			}
			w.scores = w.batch.ScoreRows(w.scores, w.miss)
			for i := range b.jobs {
				w.decide(&b.jobs[i], w.scores[i], i, nil, 0)
			}
		default:
			for i := range b.jobs {
				j := &b.jobs[i]
				w.decide(j, w.sc.Score(j.vec), -1, nil, 0)
			}
		}
		// One channel operation per batch with alerts, not per alert; a
		// blocking replay sends every batch, so that the alert goroutine
		// can deliver them in their send order.
		if len(w.out) > 0 || r.cfg.Block {
			r.alerts <- alertBatch{b.seq, w.out}
			w.out = nil
		}
		r.scored.Add(uint64(len(b.jobs)))
		r.pool.put(b)
	}
}

// resize returns s with length n, reallocated only when it is too short.
func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// scoring is one worker's state.
type scoring struct {
	r       *run
	sc      Scorer
	fast    scoredExplainer // sc's, when it has it
	batch   batchScorer     // sc's, when it has it
	scores  []Scores        // batch's scores
	out     []*Alert        // alerts of the batch being scored
	outCap  int             // capacity to make out with: the batch's size
	seen    *dedupSet
	contrib []models.Contribution
	boxes   []alertBox // the rest of the current slab

	// The score memo (Config.ScoreMemo) and, per record of the batch,
	// its row in the ScoreRows call (-1: a memo hit), its memo slot and
	// that slot's generation; the distinct new vectors (views of the
	// batch's), their slots and scores.
	memo       *scoreMemo
	rows       []int
	slotOf     []*memoSlot
	gens       []uint32
	miss       [][]float64
	missSlot   []*memoSlot
	missScores []Scores
}

// decide handles one scored record: metrics, dedup and its alert, if any,
// appended to w.out. row is the record's row in the last ScoreRows call
// (-1: it was scored alone by Score, or its scores came from the memo).
// e is its memo slot (nil: no memo) as of generation gen.
func (w *scoring) decide(j *job, s Scores, row int, e *memoSlot, gen uint32) {
	r := w.r
	p, m := r.p, r.cfg.Metrics
	if m != nil {
		m.scored.Inc()
		m.latency.Observe(r.cfg.Clock.Now().Sub(j.queued).Seconds())
	}
	k := dedupKey{src: j.id.Src.As16(), dst: j.id.Dst.As16(), sport: j.id.Sport, dport: j.id.Dport,
		proto: j.id.Proto, vlan: j.id.VLAN, seq: j.seq}
	if r.cfg.Observe != nil {
		r.cfg.Observe(&Observation{ID: j.id, Seq: j.seq, Final: j.final, At: j.at, Scores: s, Related: j.related})
	}
	alert := s.Ensemble >= p.th.Ensemble
	var prev dedupEntry
	found := false
	slot := dedupSlot(j.hash, j.seq)
	if alert || j.final {
		prev, found = w.seen.get(&k, slot)
	}
	if alert && found {
		alert = r.cfg.RealertMargin >= 0 && s.Ensemble > prev.score*(1+r.cfg.RealertMargin)
	}
	switch {
	case j.final:
		if found {
			w.seen.remove(&k, slot)
		}
	case alert:
		w.seen.put(&k, slot, found, dedupEntry{score: s.Ensemble, at: j.at}, j.at)
	}
	if !alert {
		return
	}
	held := e != nil && e.gen == gen // the slot still holds j's vector
	var a *Alert
	if held && e.explained {
		a = newAlertShared(w.box(), j, s, p.th, p.hash, e.top)
	} else {
		switch {
		case row >= 0:
			w.contrib = w.batch.ExplainRow(w.contrib[:0], row, j.vec, s, r.cfg.TopFeatures)
		case w.fast != nil && e == nil:
			// Score was called for this vector last.
			w.contrib = w.fast.ExplainScored(w.contrib[:0], j.vec, s, r.cfg.TopFeatures)
		default:
			w.contrib = w.sc.Explain(w.contrib[:0], j.vec, r.cfg.TopFeatures)
		}
		if held {
			e.top, e.explained = topFeatures(w.contrib), true
			a = newAlertShared(w.box(), j, s, p.th, p.hash, e.top)
		} else {
			a = newAlertIn(w.box(), j, s, p.th, p.hash, w.contrib)
		}
	}
	// A model absent from the bundle has threshold 0 and scores 0.
	byIF := p.th.IForest > 0 && s.IForest >= p.th.IForest
	byKM := p.th.KMeans > 0 && s.KMeans >= p.th.KMeans
	r.byModel[0].Add(1)
	if byIF {
		r.byModel[1].Add(1)
	}
	if byKM {
		r.byModel[2].Add(1)
	}
	if m != nil {
		m.alerts.WithLabelValues("ensemble").Inc()
		m.alertCount.Add(1)
		if byIF {
			m.alerts.WithLabelValues("iforest").Inc()
		}
		if byKM {
			m.alerts.WithLabelValues("kmeans").Inc()
		}
	}
	if w.out == nil {
		w.out = make([]*Alert, 0, w.outCap)
	}
	w.out = append(w.out, a)
}
