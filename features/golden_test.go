package features

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGolden runs every testdata/*.pcap through the Extractor (default
// Config, Community ID on) and compares the CSV with
// testdata/NAME.flows.golden. Regenerate with go test -run TestGolden -update
// and explain the change in the commit.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.pcap")
	if len(files) == 0 {
		t.Fatal("no testdata captures")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			var buf bytes.Buffer
			w := NewCSVWriter(&buf, FlowSchema())
			e := NewExtractor(Config{CommunityID: true}, func(r *Record) {
				if err := w.Write(r); err != nil {
					t.Fatal(err)
				}
			})
			for _, p := range readPackets(t, path) {
				e.Process(p.data, p.ci)
			}
			e.Flush()
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			golden := strings.TrimSuffix(path, ".pcap") + ".flows.golden"
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want := mustRead(t, golden)
			if !bytes.Equal(buf.Bytes(), want) {
				got := strings.Split(buf.String(), "\n")
				exp := strings.Split(string(want), "\n")
				for i := 0; i < len(got) && i < len(exp); i++ {
					if got[i] != exp[i] {
						t.Fatalf("line %d differs:\n got  %s\n want %s", i+1, got[i], exp[i])
					}
				}
				t.Fatalf("got %d lines, want %d", len(got), len(exp))
			}
		})
	}
}
