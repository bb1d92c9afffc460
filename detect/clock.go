package detect

import (
	"context"
	"time"
)

// Clock is the wall clock the pipeline uses to pace a --realtime replay and
// to measure elapsed time and scoring latency. Flow logic never reads it:
// flows run on capture timestamps.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done, returning ctx.Err() then.
	Sleep(ctx context.Context, d time.Duration) error
}

// WallClock is the system clock. cmd/detect passes it; tests pass a fake.
type WallClock struct{}

// Now returns time.Now().
func (WallClock) Now() time.Time { return time.Now() }

// Sleep implements Clock.
func (WallClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
