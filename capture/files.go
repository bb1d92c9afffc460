package capture

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
)

// Stats are a Files' running counts. Every field is read atomically, so
// Stats may be called from another goroutine (a progress bar) while the
// reading goroutine calls ReadPacket.
type Stats struct {
	// Files is the number of input files; FilesOpened how many have been
	// started so far.
	Files, FilesOpened int
	// Packets returned so far.
	Packets int64
	// BytesRead is the number of bytes consumed from disk so far
	// (compressed bytes for gzip'd files); TotalBytes the size of all
	// inputs. Their ratio is a progress fraction.
	BytesRead, TotalBytes int64
	// Warnings issued (truncated or corrupt files).
	Warnings int64
}

type fileEntry struct {
	path    string
	size    int64
	firstTS int64
	stdin   *Reader // for "-": opened (and its header checked) by Open
}

// Files reads a set of capture files one after another, in the order of
// their first packet's timestamp. It implements Source. The data
// returned by ReadPacket is owned by Files and valid until the next call.
type Files struct {
	opt     Options
	userW   func(string)
	files   []fileEntry
	next    int
	cur     *Reader
	curFile *os.File

	opened, warnings atomic.Int64
	packets, read    atomic.Int64
	total            int64
}

// Open checks every input's header and returns a Source over all of them.
// Each path is a capture file or a directory, whose regular files (not
// recursively; names starting with '.' skipped) are all read. Formats are
// sniffed from the content: pcap (micro- or nanosecond, either byte
// order), pcapng, and gzip of either. Files are read in the order of
// their first packet's timestamp (ties by path), so a directory of
// rotated files comes out in capture order whatever their names.
//
// The path "-" is standard input (at most once); it cannot be probed
// without consuming it, so it is read first.
//
// Open fails, naming the file, if any input is missing or is not a
// capture, so a command can refuse before doing any work.
func Open(paths []string, opt Options) (*Files, error) {
	opt = opt.withDefaults()
	if len(paths) == 0 {
		return nil, errors.New("capture: no input files")
	}
	fs := &Files{opt: opt, userW: opt.Warn}
	fs.opt.Warn = fs.warn
	var list []string
	for _, p := range paths {
		if p == "-" {
			if fs.files != nil {
				return nil, errors.New(`capture: standard input ("-") given twice`)
			}
			cr := &countingReader{r: os.Stdin, add: func(n int64) { fs.read.Add(n) }}
			r, err := NewReader(cr, "-", fs.opt)
			if err != nil {
				return nil, err
			}
			fs.files = append(fs.files, fileEntry{path: "-", firstTS: math.MinInt64, stdin: r})
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("capture: open %q: %w", p, unwrapPathErr(err))
		}
		if !st.IsDir() {
			list = append(list, p)
			continue
		}
		ents, err := os.ReadDir(p)
		if err != nil {
			return nil, fmt.Errorf("capture: open %q: %w", p, unwrapPathErr(err))
		}
		n := len(list)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".") {
				continue
			}
			fp := filepath.Join(p, e.Name())
			if fi, err := os.Stat(fp); err == nil && fi.Mode().IsRegular() {
				list = append(list, fp)
			}
		}
		if len(list) == n {
			return nil, fmt.Errorf("capture: open %q: directory has no capture files", p)
		}
	}
	probeOpt := opt
	probeOpt.Warn = nil
	for _, p := range list {
		e, err := probe(p, probeOpt)
		if err != nil {
			return nil, err
		}
		fs.files = append(fs.files, e)
		fs.total += e.size
	}
	sort.SliceStable(fs.files, func(i, j int) bool {
		a, b := fs.files[i], fs.files[j]
		if a.firstTS != b.firstTS {
			return a.firstTS < b.firstTS
		}
		return a.path < b.path
	})
	return fs, nil
}

func (fs *Files) warn(msg string) {
	fs.warnings.Add(1)
	if fs.userW != nil {
		fs.userW(msg)
	}
}

func unwrapPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// probe checks a file's header and reads its first packet's timestamp.
// A file without packets sorts last.
func probe(path string, opt Options) (fileEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return fileEntry{}, fmt.Errorf("capture: open %q: %w", path, unwrapPathErr(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fileEntry{}, fmt.Errorf("capture: open %q: %w", path, unwrapPathErr(err))
	}
	r, err := NewReader(f, path, opt)
	if err != nil {
		return fileEntry{}, err
	}
	e := fileEntry{path: path, size: st.Size(), firstTS: math.MaxInt64}
	if _, ci, err := r.ReadPacket(); err == nil {
		e.firstTS = ci.Timestamp
	}
	return e, nil
}

// ReadPacket returns the next frame of the current file, moving on to
// the next file at the end of each. It returns io.EOF after the last.
// A truncated or corrupt file ends early with a warning (Options.Warn
// and Stats.Warnings) and reading continues with the next file. An error
// is returned only when a file can no longer be opened.
func (fs *Files) ReadPacket() ([]byte, CaptureInfo, error) {
	for {
		if fs.cur == nil {
			if fs.next >= len(fs.files) {
				return nil, CaptureInfo{}, io.EOF
			}
			if err := fs.openNext(); err != nil {
				return nil, CaptureInfo{}, err
			}
		}
		data, ci, err := fs.cur.ReadPacket()
		if err == nil {
			fs.packets.Add(1)
			return data, ci, nil
		}
		fs.closeCur()
		if err != io.EOF {
			return nil, CaptureInfo{}, err
		}
	}
}

func (fs *Files) openNext() error {
	e := fs.files[fs.next]
	fs.next++
	fs.opened.Add(1)
	if e.stdin != nil {
		fs.cur = e.stdin
		return nil
	}
	f, err := os.Open(e.path)
	if err != nil {
		return fmt.Errorf("capture: open %q: %w", e.path, unwrapPathErr(err))
	}
	cr := &countingReader{r: f, add: func(n int64) { fs.read.Add(n) }}
	r, err := newReader(cr, e.path, fs.opt, true)
	if err != nil {
		f.Close()
		return err
	}
	fs.cur, fs.curFile = r, f
	return nil
}

func (fs *Files) closeCur() error {
	if fs.cur != nil {
		fs.cur.close()
	}
	fs.cur = nil
	if fs.curFile == nil {
		return nil
	}
	err := fs.curFile.Close()
	fs.curFile = nil
	return err
}

// Paths returns the input files in the order they are read.
func (fs *Files) Paths() []string {
	out := make([]string, len(fs.files))
	for i, e := range fs.files {
		out[i] = e.path
	}
	return out
}

// Stats returns the running counts. It is safe to call concurrently with
// ReadPacket.
func (fs *Files) Stats() Stats {
	return Stats{
		Files:       len(fs.files),
		FilesOpened: int(fs.opened.Load()),
		Packets:     fs.packets.Load(),
		BytesRead:   fs.read.Load(),
		TotalBytes:  fs.total,
		Warnings:    fs.warnings.Load(),
	}
}

// Close closes the file being read. Later ReadPacket calls return io.EOF.
func (fs *Files) Close() error {
	fs.next = len(fs.files)
	return fs.closeCur()
}

var _ Source = (*Files)(nil)
