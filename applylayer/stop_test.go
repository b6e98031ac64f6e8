package applylayer_test

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/applylayer"
	"github.com/quantumtrader/quantum/internal/redisconn"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/internal/testkit"
)

// stopBeforeRead is a go-redis hook that, once armed, stops the service
// (cancels its context) just before its next XREADGROUP is sent: the
// moment a SIGTERM can land between the loop's check and the read.
type stopBeforeRead struct {
	armed  atomic.Bool
	cancel context.CancelFunc
}

func (h *stopBeforeRead) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *stopBeforeRead) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h *stopBeforeRead) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if len(cmd.Args()) > 0 && strings.EqualFold(cmd.Args()[0].(string), "XREADGROUP") && h.armed.CompareAndSwap(true, false) {
			h.cancel()
		}
		return next(ctx, cmd)
	}
}

// TestStopWhileReading: a stop ends the run the same wherever in the loop
// it lands: "apply layer stopped" is logged and the consumer, with nothing
// pending, leaves the group, so restarts leave no dead consumers behind. A
// stop that landed between the loop's check and the read (the read then
// fails at once with the context's error) returned without either: the
// daemon's last line was missing (TestPlanSendThroughDaemon failed so
// once in CI) and a dead consumer stayed. 20 trials, each stopped by a hook
// just before a read.
func TestStopWhileReading(t *testing.T) {
	env := redistest.New(t)
	w := newWorld(t, env.Client, env.Keys)
	w.start(nil)
	wantResult(t, w.send(sign(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false))), "EXECUTED", "") // the group exists
	for trial := range 20 {
		logs := &testkit.Buffer{}
		cfg := w.cfg
		cfg.Consumer, cfg.Log = "stop-trial", slog.New(slog.NewTextHandler(logs, nil))
		// The daemon's client, whose reads honour the context.
		rdb, err := redisconn.Open(env.Server.URL(), redisconn.Options{Prefix: env.Keys.Prefix(), Blocking: true})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		hook := &stopBeforeRead{cancel: cancel}
		rdb.AddHook(hook)
		svc, err := applylayer.New(rdb, w.store, w.venue, cfg)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- svc.Run(ctx, func() {}) }()
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(logs.String(), "apply layer consuming") && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		hook.armed.Store(true)
		select {
		case err = <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("trial %d: Run did not return after the stop", trial)
		}
		rdb.Close()
		if err != nil {
			t.Fatalf("trial %d: Run: %v", trial, err)
		}
		if !strings.Contains(logs.String(), "apply layer stopped") {
			t.Fatalf("trial %d: a stop just before a read did not log \"apply layer stopped\":\n%s", trial, logs.String())
		}
		cs, err := env.Client.XInfoConsumers(context.Background(), env.Keys.ApplyPlan(), applylayer.DefaultGroup).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if c.Name == "stop-trial" {
				t.Fatalf("trial %d: the stopped consumer is still in the group (pending %d)", trial, c.Pending)
			}
		}
	}
}
