package features

// AsyncWriter hands records to a RecordWriter running in its own goroutine,
// in batches, so that formatting rows (CSV float formatting is costly)
// overlaps with extraction. Records are copied; batches are recycled, so
// steady-state writing allocates nothing but what the inner writer does.
// An AsyncWriter is not safe for concurrent use by several goroutines.
type AsyncWriter struct {
	w      RecordWriter
	cur    *batch
	todo   chan *batch
	free   chan *batch
	done   chan error
	err    error
	width  int
	closed bool

	// CommunityIDs, set before the first Write, fills in the Community ID
	// of records that have none on the writer goroutine, off the
	// extraction path (the extractor then runs with Config.CommunityID
	// off).
	CommunityIDs bool
}

type batch struct {
	recs []Record
	vals []float64
}

const asyncBatch = 512

var _ RecordWriter = (*AsyncWriter)(nil)

// NewAsyncWriter starts a goroutine that writes to w records whose
// vectors have width features. Close must be called to stop it.
func NewAsyncWriter(w RecordWriter, width int) *AsyncWriter {
	a := &AsyncWriter{w: w, todo: make(chan *batch, 4), free: make(chan *batch, 4), done: make(chan error, 1), width: width}
	for range 4 {
		a.free <- &batch{recs: make([]Record, 0, asyncBatch), vals: make([]float64, 0, asyncBatch*width)}
	}
	go a.loop(a.todo)
	return a
}

func (a *AsyncWriter) loop(todo <-chan *batch) {
	var err error
	for b := range todo {
		for i := range b.recs {
			r := &b.recs[i]
			if a.CommunityIDs && r.CommunityID == "" && err == nil {
				r.CommunityID = CommunityID(&r.FlowID)
			}
			if err == nil {
				err = a.w.Write(r)
			}
		}
		b.recs, b.vals = b.recs[:0], b.vals[:0]
		a.free <- b
	}
	if cerr := a.w.Close(); err == nil {
		err = cerr
	}
	a.done <- err
}

// Write copies r into the current batch. An error of the inner writer is
// returned by a later Write or by Close.
func (a *AsyncWriter) Write(r *Record) error {
	if a.err != nil {
		return a.err
	}
	if a.cur == nil {
		select {
		case a.cur = <-a.free:
		case err := <-a.done: // the writer goroutine stopped early: cannot happen before Close
			a.err = err
			return err
		}
	}
	b := a.cur
	start := len(b.vals)
	b.vals = append(b.vals, r.Vector...)
	c := *r
	c.Vector = b.vals[start:len(b.vals):len(b.vals)]
	b.recs = append(b.recs, c)
	if len(b.recs) == cap(b.recs) || len(b.vals)+a.width > cap(b.vals) {
		a.todo <- b
		a.cur = nil
	}
	return nil
}

// Close writes what is buffered, closes the inner writer and returns the
// first error.
func (a *AsyncWriter) Close() error {
	if a.closed {
		return a.err
	}
	a.closed = true
	if a.cur != nil && len(a.cur.recs) > 0 {
		a.todo <- a.cur
	}
	a.cur = nil
	close(a.todo)
	err := <-a.done
	if a.err == nil {
		a.err = err
	}
	return a.err
}
