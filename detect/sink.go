package detect

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/vigil-nids/vigil/detect/incident"
)

// Sink receives alerts. The pipeline calls Send from one goroutine, in
// order; implementations here are also safe for concurrent use. Send must
// not keep a after it returns unless it owns it (the pipeline does not
// reuse alerts, so keeping them is allowed).
type Sink interface {
	Send(a *Alert) error
	// Close flushes and releases the sink. Run closes the sinks it is given.
	Close() error
}

// JSONLines writes one JSON object per alert, each followed by '\n',
// with one Write call per alert (no buffering: an alert is visible to
// `tail -f` as soon as Send returns).
type JSONLines struct {
	mu     sync.Mutex
	w      io.Writer
	f      *os.File // non-nil when the sink owns a file: synced and closed by Close
	buf    []byte
	floats *floatCache
	tops   *topCache
	closed bool
}

// NewJSONLines returns a sink writing to w. Close does not close w.
func NewJSONLines(w io.Writer) *JSONLines { return &JSONLines{w: w} }

// CreateJSONLines creates path and returns a sink writing to it. It
// refuses an existing file unless force is true (then it is truncated).
// Close fsyncs and closes the file.
func CreateJSONLines(path string, force bool) (*JSONLines, error) {
	f, err := CreateOutput(path, force)
	if err != nil {
		return nil, err
	}
	return &JSONLines{w: f, f: f}, nil
}

// CreateOutput creates a file for an output stream: with O_EXCL, so an
// existing file is an error, unless force is true. An existing file that
// is neither a regular file nor a directory (/dev/null, /dev/stdout, a
// named pipe) is opened for writing as it is, without force: there is
// nothing to overwrite. Outputs here stream (alerts, packets), so they
// are not written atomically by rename: a reader sees them grow. The
// caller should Sync (SyncFile) and Close it.
func CreateOutput(path string, force bool) (*os.File, error) {
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() && !fi.IsDir() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return nil, fmt.Errorf("open output: %w", err)
		}
		return f, nil
	}
	flag := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flag = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flag, 0o644)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("output %q exists (use --force to overwrite)", path)
		}
		return nil, fmt.Errorf("create output: %w", err)
	}
	return f, nil
}

// ErrClosed is returned by Send after Close.
var ErrClosed = errors.New("detect: sink closed")

// Send implements Sink.
func (s *JSONLines) Send(a *Alert) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.floats == nil {
		s.floats, s.tops = new(floatCache), new(topCache)
	}
	s.buf = append(a.appendJSON(s.buf, s.floats, s.tops), '\n')
	if len(s.buf) >= jsonFlushBytes {
		return s.flushLocked()
	}
	return nil
}

// jsonFlushBytes bounds the alerts JSONLines holds before writing them.
const jsonFlushBytes = 64 << 10

// Flush writes the alerts held in the sink's buffer. The pipeline calls it
// whenever no further alert is waiting, so a reader of a live run sees
// each alert at once while a replay with many alerts writes in large
// chunks.
func (s *JSONLines) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flushLocked()
}

func (s *JSONLines) flushLocked() error {
	if len(s.buf) == 0 {
		return nil
	}
	_, err := s.w.Write(s.buf)
	s.buf = s.buf[:0]
	if err != nil {
		return fmt.Errorf("write alert: %w", err)
	}
	return nil
}

// SyncFile fsyncs f when it is a regular file; devices such as /dev/null
// and pipes cannot be synced and need not be.
func SyncFile(f *os.File) error {
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	return f.Sync()
}

// Close implements Sink. For a file it created, it fsyncs and closes it.
func (s *JSONLines) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.flushLocked()
	if s.f == nil {
		return err
	}
	if serr := SyncFile(s.f); err == nil {
		err = serr
	}
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("close alerts: %w", err)
	}
	return nil
}

// Memory keeps every alert it is sent, for tests and the demo table.
type Memory struct {
	mu     sync.Mutex
	alerts []*Alert
	events []*incident.Event
}

// Send implements Sink.
func (m *Memory) Send(a *Alert) error {
	m.mu.Lock()
	m.alerts = append(m.alerts, a)
	m.mu.Unlock()
	return nil
}

// Close implements Sink.
func (m *Memory) Close() error { return nil }

// Alerts returns the alerts received so far, in order.
func (m *Memory) Alerts() []*Alert {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*Alert(nil), m.alerts...)
}
