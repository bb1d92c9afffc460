package detectcmd

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-nids/vigil/detect"
)

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// TestStatusLine: the status line redraws in place (carriage return and
// erase, no newline, so it never scrolls between alerts) and is erased on
// Stop.
func TestStatusLine(t *testing.T) {
	var w lockedBuf
	s := startStatus(&w, detect.NewMetrics(), time.Now)
	time.Sleep(1200 * time.Millisecond)
	s.Stop()
	out := w.b.String()
	if !strings.HasPrefix(out, "\r\033[K0 pkts (0/s)  flows 0 active, 0 ended  alerts 0") {
		t.Fatalf("status line %q", out)
	}
	if strings.Contains(out, "\n") || !strings.HasSuffix(out, "\r\033[K") {
		t.Fatalf("status line must stay on one line and be erased at the end: %q", out)
	}
	for _, tc := range []struct {
		v    float64
		want string
	}{{12, "12"}, {1500, "1.5k"}, {2_500_000, "2.50M"}, {3e9, "3.00G"}} {
		if got := si(tc.v); got != tc.want {
			t.Errorf("si(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}
