package cli

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestIsStream(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "file")
	os.WriteFile(regular, []byte("x"), 0o644)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "null")
	if err := os.Symlink(os.DevNull, link); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		want bool
	}{
		{os.DevNull, true},
		{fifo, true},
		{link, true}, // links are followed
		{regular, false},
		{dir, false},
		{filepath.Join(dir, "missing"), false},
	} {
		if got := IsStream(c.path); got != c.want {
			t.Errorf("IsStream(%s) = %v, want %v", c.path, got, c.want)
		}
	}
}
