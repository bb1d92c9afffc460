package detect

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestCreateOutputStreams: devices and named pipes are opened as they
// are, with or without force, and stay what they were; regular files
// keep the O_EXCL refusal.
func TestCreateOutputStreams(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, 1)
	go func() {
		r, err := os.Open(fifo) // blocks until the writer opens it
		if err != nil {
			got <- nil
			return
		}
		defer r.Close()
		b := make([]byte, 64)
		n, _ := r.Read(b)
		got <- b[:n]
	}()
	for _, p := range []string{os.DevNull, fifo} {
		f, err := CreateOutput(p, false)
		if err != nil {
			t.Fatalf("CreateOutput(%s): %v", p, err)
		}
		if _, err := f.Write([]byte("hello\n")); err != nil {
			t.Fatalf("write %s: %v", p, err)
		}
		if err := SyncFile(f); err != nil {
			t.Errorf("SyncFile(%s): %v", p, err)
		}
		f.Close()
		if fi, err := os.Stat(p); err != nil || fi.Mode().IsRegular() {
			t.Errorf("%s is no longer a device or pipe: %v %v", p, fi, err)
		}
	}
	if b := <-got; string(b) != "hello\n" {
		t.Errorf("the pipe's reader got %q", b)
	}

	regular := filepath.Join(dir, "alerts.json")
	os.WriteFile(regular, []byte("keep"), 0o644)
	if _, err := CreateOutput(regular, false); err == nil {
		t.Error("an existing regular file was opened without force")
	}
	if b, _ := os.ReadFile(regular); string(b) != "keep" {
		t.Errorf("refused file changed: %q", b)
	}
	f, err := CreateOutput(regular, true)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if b, _ := os.ReadFile(regular); len(b) != 0 {
		t.Errorf("force did not truncate: %q", b)
	}
}
