package cli

import (
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Progress draws a byte progress bar (bytes of total, rate, ETA) on w while
// a long read runs, polling read() every 200 ms; on anything but a terminal
// it draws nothing. Stop ends it.
type Progress struct {
	stop chan struct{}
	wg   sync.WaitGroup
}

// StartProgress starts a bar for total bytes; read returns the bytes done
// so far and is called from another goroutine (it must be safe for that).
func StartProgress(w io.Writer, desc string, total int64, read func() int64) *Progress {
	p := &Progress{stop: make(chan struct{})}
	if !IsTerminal(w) || total <= 0 {
		return p
	}
	bar := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetWidth(30),
	)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				bar.Set64(read())
				bar.Finish()
				return
			case <-t.C:
				bar.Set64(read())
			}
		}
	}()
	return p
}

// Stop ends the bar and waits for it to clear.
func (p *Progress) Stop() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	p.wg.Wait()
}
