package detectcmd

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/vigil-nids/vigil/detect"
)

// statusLine redraws one line of counters on a terminal's stderr once a
// second while detect runs: packets/s, flows, alerts, drops. Alerts go to
// stdout (or a file), so the two never mix on a terminal line; the line is
// cleared when the run ends, before the summary is printed.
type statusLine struct {
	stop chan struct{}
	wg   sync.WaitGroup
}

func startStatus(w io.Writer, m *detect.Metrics, now func() time.Time) *statusLine {
	s := &statusLine{stop: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		last, lastAt := m.Live(), now()
		for {
			select {
			case <-s.stop:
				fmt.Fprint(w, "\r\033[K")
				return
			case <-t.C:
				l, at := m.Live(), now()
				rate := 0.0
				if dt := at.Sub(lastAt).Seconds(); dt > 0 {
					rate = float64(l.Packets-last.Packets) / dt
				}
				fmt.Fprintf(w, "\r\033[K%s pkts (%s/s)  flows %d active, %d ended  alerts %d  dropped %d kernel, %d queue",
					si(float64(l.Packets)), si(rate), l.FlowsActive, l.FlowsEnded, l.Alerts, l.KernelDrops, l.Dropped)
				last, lastAt = l, at
			}
		}
	}()
	return s
}

func (s *statusLine) Stop() {
	if s == nil {
		return
	}
	close(s.stop)
	s.wg.Wait()
}

// si formats a count with a k/M/G suffix.
func si(v float64) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.2fG", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}
