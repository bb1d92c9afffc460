package features

import "runtime"

// AsyncWriter hands records to a RecordWriter running in other goroutines,
// in batches, so that formatting rows (CSV float formatting is costly)
// overlaps with extraction. Records are copied; batches are recycled, so
// steady-state writing allocates nothing but what the inner writer does.
//
// For a CSVWriter, whose rows can be formatted independently, batches are
// formatted by GOMAXPROCS-1 goroutines (at least one) at once and written
// in order, so the formatting spreads over the cores extraction leaves
// idle. One fewer than GOMAXPROCS: with as many formatters as cores, the
// scheduler time-slices the extracting goroutine, the critical path, with
// them (cmd/extract on 2 cores was about 10% slower). Other writers get
// one goroutine that calls Write for each record.
//
// An AsyncWriter is not safe for concurrent use by several goroutines.
type AsyncWriter struct {
	w      RecordWriter
	csv    *CSVWriter // non-nil: parallel formatting
	cur    *batch
	todo   chan *batch // batches in submission order, to the writing goroutine
	work   chan *batch // batches to format (parallel mode)
	free   chan *batch
	done   chan error
	err    error
	width  int
	closed bool

	// CommunityIDs, set before the first Write, fills in the Community ID
	// of records that have none on the writer goroutines, off the
	// extraction path (the extractor then runs with Config.CommunityID
	// off).
	CommunityIDs bool
}

type batch struct {
	recs []Record
	vals []float64

	// parallel mode
	out   []byte        // formatted rows
	err   error         // formatting error
	ready chan struct{} // out and err are set
}

const asyncBatch = 512

var _ RecordWriter = (*AsyncWriter)(nil)

// NewAsyncWriter starts goroutines that write to w records whose vectors
// have width features. Close must be called to stop them.
func NewAsyncWriter(w RecordWriter, width int) *AsyncWriter {
	workers := 0
	csv, _ := w.(*CSVWriter)
	if csv != nil {
		workers = max(runtime.GOMAXPROCS(0)-1, 1)
	}
	nb := 4 + 2*workers
	a := &AsyncWriter{w: w, csv: csv, todo: make(chan *batch, nb), free: make(chan *batch, nb), done: make(chan error, 1), width: width}
	for range nb {
		a.free <- &batch{recs: make([]Record, 0, asyncBatch), vals: make([]float64, 0, asyncBatch*width), ready: make(chan struct{}, 1)}
	}
	if csv != nil {
		a.work = make(chan *batch, nb)
		for range workers {
			go a.format()
		}
		go a.writeOrdered()
	} else {
		go a.loop()
	}
	return a
}

// loop writes each record with the inner writer (sequential mode).
func (a *AsyncWriter) loop() {
	var err error
	for b := range a.todo {
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

// format formats batches into their out buffers (parallel mode).
func (a *AsyncWriter) format() {
	for b := range a.work {
		out := b.out[:0]
		var err error
		for i := range b.recs {
			if out, err = a.csv.appendRow(out, &b.recs[i], a.CommunityIDs); err != nil {
				break
			}
		}
		b.out, b.err = out, err
		b.ready <- struct{}{}
	}
}

// writeOrdered writes formatted batches in submission order (parallel
// mode).
func (a *AsyncWriter) writeOrdered() {
	var err error
	for b := range a.todo {
		<-b.ready
		if err == nil {
			err = b.err
		}
		if err == nil {
			err = a.csv.writeRows(b.out)
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
		a.send(b)
	}
	return nil
}

// send queues the current batch. The channels hold every batch, so sends
// never block.
func (a *AsyncWriter) send(b *batch) {
	a.todo <- b
	if a.work != nil {
		a.work <- b
	}
	a.cur = nil
}

// Close writes what is buffered, closes the inner writer and returns the
// first error.
func (a *AsyncWriter) Close() error {
	if a.closed {
		return a.err
	}
	a.closed = true
	if a.cur != nil && len(a.cur.recs) > 0 {
		a.send(a.cur)
	}
	a.cur = nil
	close(a.todo)
	if a.work != nil {
		close(a.work)
	}
	err := <-a.done
	if a.err == nil {
		a.err = err
	}
	return a.err
}
