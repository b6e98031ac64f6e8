package loop

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestEvery: on synctest's fake clock, runs happen at once (or not) and then
// exactly once per interval, and Every returns when ctx is done.
func TestEvery(t *testing.T) {
	for _, immediately := range []bool{true, false} {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			var runs atomic.Int64
			done := make(chan struct{})
			go func() {
				Every(ctx, time.Minute, immediately, func(context.Context) { runs.Add(1) })
				close(done)
			}()
			synctest.Wait()
			first := int64(0)
			if immediately {
				first = 1
			}
			if n := runs.Load(); n != first {
				t.Fatalf("immediately=%v: %d runs at start, want %d", immediately, n, first)
			}
			time.Sleep(10*time.Minute + time.Second)
			synctest.Wait()
			if n := runs.Load(); n != first+10 {
				t.Fatalf("immediately=%v: %d runs after 10 intervals, want %d", immediately, n, first+10)
			}
			cancel()
			<-done
		})
	}
}
