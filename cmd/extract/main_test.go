package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-nids/vigil/features"
)

const head = "../../features/testdata/lab-head.pcap"
const scan = "../../features/testdata/lab-scan.pcap"

func TestExtractCSVMatchesGolden(t *testing.T) {
	out := filepath.Join(t.TempDir(), "flows.csv")
	var stdout, stderr bytes.Buffer
	if rc := run([]string{"--pcap", head, "--out", out}, &stdout, &stderr); rc != 0 {
		t.Fatalf("rc %d: %s", rc, stderr.String())
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("../../features/testdata/lab-head.flows.golden")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("extract's CSV differs from the features golden file")
	}
	if !strings.Contains(stderr.String(), "1200 packets") || !strings.Contains(stderr.String(), "47 flows") {
		t.Errorf("stats line: %q", stderr.String())
	}
	// Refuses to overwrite without --force, and leaves no temp files.
	if rc := run([]string{"--pcap", head, "--out", out}, &stdout, &stderr); rc != 2 {
		t.Errorf("overwrite without --force: rc %d", rc)
	}
	if rc := run([]string{"--pcap", head + "," + scan, "--out", out, "--force"}, &stdout, &stderr); rc != 0 {
		t.Errorf("--force: rc %d", rc)
	}
	ents, _ := os.ReadDir(filepath.Dir(out))
	if len(ents) != 1 {
		t.Errorf("%d files in the output directory, want 1", len(ents))
	}
}

func TestExtractStdoutAndErrors(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if rc := run([]string{"--pcap", head, "--out", "-", "--idle-timeout", "10s", "--max-flows", "10"}, &stdout, &stderr); rc != 0 {
		t.Fatalf("rc %d: %s", rc, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if want := strings.Join(features.Columns(features.FlowSchema()), ","); lines[0] != want {
		t.Errorf("header %q", lines[0])
	}
	if len(lines) < 40 {
		t.Errorf("%d lines", len(lines))
	}
	cases := [][]string{
		{"--out", "-"},                       // no --pcap
		{"--pcap", head},                     // no --out
		{"--pcap", "/no/such", "--out", "-"}, // unreadable capture
		{"--pcap", head, "--out", "-", "--bogus"},
		{"--pcap", head, "--out", "-", "--idle-timeout", "soon"},
	}
	for _, args := range cases {
		stderr.Reset()
		if rc := run(args, &stdout, &stderr); rc != 2 {
			t.Errorf("%v: rc %d, want 2", args, rc)
		}
		if n := strings.Count(stderr.String(), "\n"); n != 1 {
			t.Errorf("%v: %d stderr lines: %q", args, n, stderr.String())
		}
	}
}

func TestExtractParquet(t *testing.T) {
	out := filepath.Join(t.TempDir(), "flows.parquet")
	var stdout, stderr bytes.Buffer
	if rc := run([]string{"--pcap", scan, "--out", out}, &stdout, &stderr); rc != 0 {
		t.Fatalf("rc %d: %s", rc, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil || len(b) < 8 || string(b[:4]) != "PAR1" || string(b[len(b)-4:]) != "PAR1" {
		t.Fatalf("not a parquet file (%v)", err)
	}
}

// TestExtractToDevNull: an existing device is written to as it is, with no
// --force needed and nothing renamed over it.
func TestExtractToDevNull(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if rc := run([]string{"--pcap", head, "--out", os.DevNull}, &stdout, &stderr); rc != 0 {
		t.Fatalf("rc %d: %s", rc, stderr.String())
	}
	if fi, err := os.Stat(os.DevNull); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Fatalf("%s is no longer a character device: %v", os.DevNull, err)
	}
}
