package capture

import (
	"bufio"
	"io"
)

// peeker is what a Reader parses from: bufio.Reader's Peek and Discard.
// *bufio.Reader implements it (NewReader) and so does *ahead (Files).
type peeker interface {
	Peek(n int) ([]byte, error)
	Discard(n int) (int, error)
}

// ahead reads a stream on its own goroutine, chunk by chunk, while the
// Reader parses the chunk before: the read system calls (the copy out of
// the page cache, a fifth of extract's reading goroutine) or the gzip
// inflation run on another core. It has bufio.Reader's Peek and Discard
// semantics, without copying the data a second time: each buffer keeps
// room before its chunk for the few bytes of a record that straddles two
// chunks (at most the largest Peek), which are copied there when the
// parser moves on.
type ahead struct {
	full chan chunk
	free chan []byte
	stop chan struct{}

	cur   []byte // buffer being parsed: unread bytes cur[r:w]
	r, w  int
	carry int   // room before each chunk: the largest Peek
	err   error // the stream's error after the last chunk
}

type chunk struct {
	buf []byte // data at buf[carry : carry+n]
	n   int
	err error
}

const aheadBuffers = 3

// startAhead starts reading src in chunks of size bytes (at least carry)
// for Peeks of at most carry bytes.
func startAhead(src io.Reader, size, carry int) *ahead {
	size = max(size, carry)
	a := &ahead{
		full:  make(chan chunk, aheadBuffers),
		free:  make(chan []byte, aheadBuffers),
		stop:  make(chan struct{}),
		carry: carry,
	}
	for range aheadBuffers {
		a.free <- make([]byte, carry+size)
	}
	go a.fill(src)
	return a
}

func (a *ahead) fill(src io.Reader) {
	for {
		var buf []byte
		select {
		case buf = <-a.free:
		case <-a.stop:
			return
		}
		// Fill the chunk; the stream's own error (io.EOF, a gzip
		// stream's io.ErrUnexpectedEOF, ...) ends it, as with bufio.
		dst := buf[a.carry:]
		n, empty := 0, 0
		var err error
		for n < len(dst) && err == nil {
			var k int
			k, err = src.Read(dst[n:])
			n += k
			if k > 0 {
				empty = 0
			} else if empty++; empty >= 100 && err == nil {
				err = io.ErrNoProgress
			}
		}
		// full has room for every buffer: this never blocks.
		a.full <- chunk{buf, n, err}
		if err != nil {
			return
		}
	}
}

// next moves to the next chunk, carrying the unread bytes over.
func (a *ahead) next() {
	c := <-a.full
	tail := a.w - a.r // < carry: the bytes of one record
	start := a.carry - tail
	copy(c.buf[start:a.carry], a.cur[a.r:a.w])
	if a.cur != nil {
		a.free <- a.cur
	}
	a.cur, a.r, a.w = c.buf, start, a.carry+c.n
	a.err = c.err
}

// Peek returns the next n bytes without consuming them, or fewer and the
// stream's error (io.EOF at its end), like bufio.Reader.Peek. n must not
// exceed the carry room.
func (a *ahead) Peek(n int) ([]byte, error) {
	if n < 0 {
		return nil, bufio.ErrNegativeCount
	}
	for a.w-a.r < n && a.err == nil {
		a.next()
	}
	if a.w-a.r < n {
		return a.cur[a.r:a.w], a.err
	}
	return a.cur[a.r : a.r+n : a.r+n], nil
}

// Discard skips n bytes, or fewer and the stream's error, like
// bufio.Reader.Discard.
func (a *ahead) Discard(n int) (int, error) {
	if n < 0 {
		return 0, bufio.ErrNegativeCount
	}
	d := 0
	for {
		k := min(n-d, a.w-a.r)
		a.r += k
		d += k
		if d == n {
			return d, nil
		}
		if a.err != nil {
			return d, a.err
		}
		a.next()
	}
}

// close stops the reading goroutine (once it returns from a read in
// progress). The ahead must not be used after.
func (a *ahead) close() {
	close(a.stop)
}
