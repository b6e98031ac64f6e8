package main

import (
	"context"
	"net/http"

	"github.com/quantumtrader/quantum/alertforward"
	"github.com/quantumtrader/quantum/app"
	"github.com/quantumtrader/quantum/internal/cli"
	"github.com/quantumtrader/quantum/internal/secretfile"
)

func init() {
	cli.Register(&cli.Command{
		Name:    "alerts forward",
		Summary: "deliver quantum:stream:alerts to Alertmanager (v2 API) and webhooks; never drops an alert",
		Help: `Reads quantum:stream:alerts in a consumer group and sends every entry to each
--alertmanager (POST /api/v2/alerts; give both of an HA pair: each gets every
alert) and each --webhook (a JSON POST: version, entry_id, stream, and the
entry's fields as "alert"). An entry is acknowledged only after every target
answered 2xx; until then it is retried with back-off (up to --max-backoff
apart), in stream order. Nothing is dropped: a target that stays down stops
the forwarding, and the entries wait in the group (quantum status shows it).

Alertmanager labels: alertname (the alert_type), severity, alert_id, sources,
symbols; every other field is an annotation. A firing alert has no endsAt and
is re-sent every --resend-interval until it is resolved (Alertmanager resolves
an alert it has not heard of for resolve_timeout, 5m by default: keep the
interval well below it); a resolved entry is sent with endsAt.

--once forwards what is pending and new, then exits: 0 when all of it was
delivered, 1 when an entry could not be delivered within --retry-for (it stays
pending for the next run); it does not re-send, so Alertmanager needs the
daemon. Without --once it runs until SIGTERM, serving
/metrics (the forwarder's counters, the firing alerts by type, the watch's
heartbeat and Redis memory, for deploy/prometheus/quantum-rules.yml) and
/healthz on --metrics-addr; under systemd (Type=notify) it reports READY.
docs/alerting.md is the operator guide.`,
		Run: runAlertsForward,
	})
}

func runAlertsForward(ctx context.Context, c *cli.Invocation) int {
	ef := cli.NewEnvFlags(c)
	var ams, hooks cli.StringList
	ams = append(ams, secretfile.SplitList(c.Env.Getenv("QUANTUM_ALERTMANAGER_URLS"))...)
	hooks = append(hooks, secretfile.SplitList(c.Env.Getenv("QUANTUM_ALERT_WEBHOOK_URLS"))...)
	c.FS.Var(&ams, "alertmanager", "Alertmanager base `URL`, such as http://127.0.0.1:9093 (repeatable; env QUANTUM_ALERTMANAGER_URLS, comma-separated)")
	c.FS.Var(&hooks, "webhook", "generic webhook `URL` receiving each entry as JSON (repeatable; env QUANTUM_ALERT_WEBHOOK_URLS, comma-separated)")
	resend := ef.Duration("resend-interval", "QUANTUM_ALERT_RESEND_INTERVAL", alertforward.DefaultResendInterval, "re-send firing alerts to Alertmanager this often")
	maxBackoff := ef.Duration("max-backoff", "QUANTUM_ALERTS_FORWARD_MAX_BACKOFF", alertforward.DefaultMaxBackoff, "longest wait between two delivery attempts")
	timeout := ef.Duration("timeout", "QUANTUM_ALERTS_FORWARD_TIMEOUT", alertforward.DefaultRequestTimeout, "time limit of one HTTP request")
	retryFor := ef.Duration("retry-for", "QUANTUM_ALERTS_FORWARD_RETRY_FOR", alertforward.DefaultRetryFor, "--once: give up on an entry after retrying this long (it stays pending)")
	claimIdle := ef.Duration("claim-idle", "QUANTUM_ALERTS_FORWARD_CLAIM_IDLE", alertforward.DefaultClaimIdle, "claim entries left pending this long by another consumer")
	group := c.FS.String("group", cli.EnvOr(c.Env.Getenv, "QUANTUM_ALERTS_FORWARD_GROUP", alertforward.DefaultGroup), "consumer `group` name (env QUANTUM_ALERTS_FORWARD_GROUP)")
	consumer := ef.String("consumer", "QUANTUM_ALERTS_FORWARD_CONSUMER", "consumer `name` (default: the host name, so a restart finds its own pending entries)")
	metricsAddr := c.FS.String("metrics-addr", cli.EnvOr(c.Env.Getenv, "QUANTUM_ALERTS_FORWARD_METRICS_ADDR", "127.0.0.1:9109"),
		"`address` of /metrics and /healthz (port 0: any free port; empty: none) (env QUANTUM_ALERTS_FORWARD_METRICS_ADDR)")
	once := ef.Bool("once", "QUANTUM_ALERTS_FORWARD_ONCE", false, "forward what is pending and new, then exit")
	if code, ok := ef.Parse(0); !ok {
		return code
	}
	return c.WithRedis(true, func(rdb cli.RedisClient) int {
		fwd, err := app.NewAlertsForward(rdb, alertforward.Config{
			Keys: c.Keys(), Group: *group, Consumer: *consumer,
			Alertmanagers: ams, Webhooks: hooks, HTTP: &http.Client{Timeout: *timeout},
			Now: c.Env.Clock(), Log: c.Logger(),
			ResendInterval: *resend, ClaimIdle: *claimIdle, MaxBackoff: *maxBackoff, RetryFor: *retryFor,
		})
		if err != nil {
			return c.UsageErr("%v", err)
		}
		if err := fwd.Serve(ctx, *once, *metricsAddr); err != nil {
			return c.Errorf("%v", err)
		}
		return cli.ExitOK
	})
}
