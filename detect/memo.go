package detect

import (
	"bytes"
	"hash/maphash"
	"unsafe"
)

// scoreMemo remembers the scores (and, once asked, the explanation) of
// recently scored feature vectors, keyed by the vector's exact bits: a
// worker that meets a vector it scored before takes its scores from here
// instead of scaling and scoring it again. Scoring is a pure function of
// the raw vector, so a hit returns exactly what scoring would, bit for
// bit (TestBatchScoringMatchesSingle, TestScoreMemoMatchesNoMemo). Floods make this
// common: each of a SYN flood's one-packet flows yields the same vector
// as many others (on the lab's mixed capture ×30, 776k records hold 282k
// distinct vectors).
//
// It is direct-mapped (a colliding vector replaces the slot's), of fixed
// size and owned by one worker. It allocates an explanation's
// []TopFeature each time a slot stores one; the alerts of that vector
// share it, and a JSONLines sink encodes it once (topCache).
type scoreMemo struct {
	dim   int
	mask  uint64
	seed  maphash.Seed
	vecs  []float64 // slot i's vector at vecs[i*dim:]
	slots []memoSlot
	gen   uint32
}

type memoSlot struct {
	hash uint64
	gen  uint32 // changes whenever the slot takes another vector; 0: empty
	// row is the vector's row in the batch being scored while its scores
	// are pending (-1 once s holds them).
	row       int32
	explained bool // top holds the explanation (of n features: n is fixed per run)
	s         Scores
	// top is the explanation as the alerts of this vector carry it: one
	// slice, shared by them and never written after it is made (a slot
	// that takes another vector makes a new one).
	top []TopFeature
}

// newScoreMemo returns a memo of slots (a power of two) vectors of dim
// values.
func newScoreMemo(slots, dim int) *scoreMemo {
	return &scoreMemo{
		dim:   dim,
		mask:  uint64(slots - 1),
		seed:  maphash.MakeSeed(),
		vecs:  make([]float64, slots*dim),
		slots: make([]memoSlot, slots),
	}
}

// vecBytes views v's memory as bytes: vectors are compared and hashed by
// their bits (NaN equals the same NaN, 0 and -0 differ), never by value.
func vecBytes(v []float64) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), len(v)*8)
}

// hash returns v's hash.
func (m *scoreMemo) hash(v []float64) uint64 { return maphash.Bytes(m.seed, vecBytes(v)) }

// lookup returns the slot holding v (hash h), or nil.
func (m *scoreMemo) lookup(h uint64, v []float64) *memoSlot {
	i := h & m.mask
	e := &m.slots[i]
	if e.gen == 0 || e.hash != h {
		return nil
	}
	at := int(i) * m.dim
	if !bytes.Equal(vecBytes(m.vecs[at:at+m.dim]), vecBytes(v)) {
		return nil
	}
	return e
}

// insert stores v (hash h) with its scores pending at row, replacing the
// slot's vector.
func (m *scoreMemo) insert(h uint64, v []float64, row int) *memoSlot {
	i := h & m.mask
	e := &m.slots[i]
	copy(m.vecs[int(i)*m.dim:], v)
	m.gen++
	if m.gen == 0 {
		m.gen = 1
	}
	e.hash, e.gen, e.row, e.explained, e.s, e.top = h, m.gen, int32(row), false, Scores{}, nil
	return e
}

// scoreMemo scores batch b through the worker's memo: the vectors it
// holds take their scores from it; the others (each distinct one once)
// are scored in one ScoreRows call and stored. It sets w.scores, w.rows
// (a record's row in that call, or -1 for a memo hit), w.slotOf and w.gens
// for every record.
func (w *scoring) scoreMemo(b *batch) {
	n := len(b.jobs)
	if n == 0 {
		return
	}
	d := len(b.jobs[0].vec)
	if w.memo == nil || w.memo.dim != d {
		w.memo = newScoreMemo(w.r.cfg.ScoreMemo, d)
	}
	m := w.memo
	w.scores = resize(w.scores, n)
	w.rows = resize(w.rows, n)
	w.slotOf = resize(w.slotOf, n)
	w.gens = resize(w.gens, n)
	w.miss, w.missSlot = w.miss[:0], w.missSlot[:0]
	for i := range b.jobs {
		v := b.jobs[i].vec
		h := m.hash(v)
		e := m.lookup(h, v)
		if e == nil {
			e = m.insert(h, v, len(w.missSlot))
			w.miss = append(w.miss, v)
			w.missSlot = append(w.missSlot, e)
		}
		w.slotOf[i], w.gens[i], w.rows[i] = e, e.gen, int(e.row)
		if e.row < 0 {
			w.scores[i] = e.s
		}
	}
	if len(w.missSlot) == 0 {
		return
	}
	w.missScores = w.batch.ScoreRows(w.missScores, w.miss)
	for k, e := range w.missSlot {
		// A later vector of this batch may have taken the slot: it is
		// then stored at its own row.
		if int(e.row) == k {
			e.s, e.row = w.missScores[k], -1
		}
	}
	for i, k := range w.rows {
		if k >= 0 {
			w.scores[i] = w.missScores[k]
		}
	}
}
