package capture

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

type readResult struct {
	data  [][]byte
	infos []CaptureInfo
	warns []string
	stats Stats
}

func readAllFiles(t *testing.T, paths []string, opt Options) readResult {
	t.Helper()
	var res readResult
	opt.Warn = func(msg string) { res.warns = append(res.warns, msg) }
	fs, err := Open(paths, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	for range 1_000_000 {
		data, ci, err := fs.ReadPacket()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		res.data = append(res.data, bytes.Clone(data))
		res.infos = append(res.infos, ci)
	}
	res.stats = fs.Stats()
	return res
}

// TestMappedSameAsRead reads every test capture (all formats, the
// corrupt and truncated ones of the corpus, a truncated copy) through the
// mapping and with read(2): packets, timestamps, warnings and counts must
// be the same, and the progress count must reach the file sizes.
func TestMappedSameAsRead(t *testing.T) {
	defer func(n int64) { minMapSize = n }(minMapSize)
	minMapSize = 2 // map every file with a header
	paths, _ := filepath.Glob("testdata/*.pcap*")
	corpus, _ := filepath.Glob("testdata/corpus/*")
	paths = append(paths, corpus...)
	full, err := os.ReadFile("testdata/eth.pcap")
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.pcap")
	if err := os.WriteFile(cut, full[:len(full)-7], 0o644); err != nil {
		t.Fatal(err)
	}
	paths = append(paths, cut)
	mappedSome := false
	for _, p := range paths {
		if _, err := Open([]string{p}, Options{}); err != nil {
			continue // not a capture: Open's errors are tested elsewhere
		}
		t.Run(filepath.Base(p), func(t *testing.T) {
			m := readAllFiles(t, []string{p}, Options{})
			r := readAllFiles(t, []string{p}, Options{NoMmap: true})
			if !slices.EqualFunc(m.data, r.data, bytes.Equal) || !slices.Equal(m.infos, r.infos) || !slices.Equal(m.warns, r.warns) {
				t.Fatalf("mapped: %d packets, warnings %q; read: %d packets, warnings %q", len(m.data), m.warns, len(r.data), r.warns)
			}
			if m.stats != r.stats {
				t.Fatalf("stats: mapped %+v, read %+v", m.stats, r.stats)
			}
			if m.stats.BytesRead != m.stats.TotalBytes && !isGzip(t, p) {
				t.Fatalf("read %d of %d bytes", m.stats.BytesRead, m.stats.TotalBytes)
			}
			if !isGzip(t, p) && len(m.data) > 0 {
				mappedSome = true
			}
		})
	}
	if !mappedSome {
		t.Fatal("no file was read through a mapping")
	}
}

func isGzip(t *testing.T, path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b
}

// TestMappedAllocs: reading a mapped file allocates nothing per packet.
func TestMappedAllocs(t *testing.T) {
	full, err := os.ReadFile("testdata/eth.pcap")
	if err != nil {
		t.Fatal(err)
	}
	big := slices.Clone(full)
	for len(big) < 2<<20 {
		big = append(big, full[24:]...)
	}
	path := filepath.Join(t.TempDir(), "big.pcap")
	if err := os.WriteFile(path, big, 0o644); err != nil {
		t.Fatal(err)
	}
	fs, err := Open([]string{path}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	if _, _, err := fs.ReadPacket(); err != nil {
		t.Fatal(err)
	}
	if fs.curMap == nil {
		t.Fatal("file not mapped")
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, _, err := fs.ReadPacket(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per packet", allocs)
	}
}
