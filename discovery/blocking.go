package discovery

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/hashicorp/consul/api"
	"golang.org/x/time/rate"
)

// queryDeadlineSlack is how long past its wait time (and Consul's jitter)
// a blocking query may take before it is abandoned as stuck.
const queryDeadlineSlack = 5 * time.Second

// queryObserver is told the outcome of every query a watch makes, for
// status, metrics and logs.
type queryObserver interface {
	querySucceeded(endpoint, path string, meta *api.QueryMeta, took time.Duration)
	// queryFailed is told each failure, failures being how many in a
	// row this watch (or read) has had, 1 for the first.
	queryFailed(endpoint, path string, err error, retryIn time.Duration, failures int)
	// loaded reports whether a complete model has been sent.
	loaded() bool
	// watchStopped is told that the watch of path stopped, so that its
	// last failure no longer counts.
	watchStopped(path string)
}

// blockingWatch runs one Consul blocking query over and over, following
// Consul's rules for them, and delivers each result that differs from the
// previous one. T is the converted result, so that changes Switchyard does
// not model (check output, raft indexes) never count as changes.
type blockingWatch[T any] struct {
	// endpoint is the metrics label ("catalog", "health", "config" or "kv");
	// path names the query in logs and errors.
	endpoint, path string
	datacenter     string
	fetch          func(q *api.QueryOptions) (T, *api.QueryMeta, error)
	equal          func(a, b T) bool
	// deliver hands a changed result on; it returns when the result was
	// taken or ctx is done.
	deliver  func(ctx context.Context, v T)
	observer queryObserver
	cfg      Config
	// epoch abandons the query in flight when Consul's indexes went
	// backwards.
	epoch *epoch
}

// run queries until ctx is done, when it returns nil, or until Consul refuses
// the query for lack of permission before the first complete model, when it
// returns a *PermissionError: a token that cannot read the catalog at start
// is a misconfiguration to fail on. Once proxies are being served, a refusal
// (a token revoked under a running server) is retried like any other failure
// so that the last known state stays in force. Failed queries are retried
// after a capped, jittered exponential backoff.
func (w *blockingWatch[T]) run(ctx context.Context) error {
	defer w.observer.watchStopped(w.path)
	limiter := rate.NewLimiter(w.cfg.RateLimit, w.cfg.RateBurst)
	var (
		index    uint64
		last     T
		have     bool
		failures int
	)
	for {
		if err := limiter.Wait(ctx); err != nil {
			return nil // only a done context stops a limiter with burst ≥ 1
		}
		q := &api.QueryOptions{Datacenter: w.datacenter, WaitIndex: index, WaitTime: w.cfg.WaitTime}
		sent := time.Now()
		qctx, stop, abandoned := w.epoch.queryContext(ctx)
		// A query past its wait time (Consul adds up to 1/16 of jitter)
		// and some slack is stuck on a connection that died silently.
		qctx, cancel := context.WithTimeout(qctx, w.cfg.WaitTime+w.cfg.WaitTime/16+queryDeadlineSlack)
		v, meta, err := w.fetch(q.WithContext(qctx))
		cancel()
		stop()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil && abandoned() {
			index = 0 // Consul's indexes went backwards: read afresh
			continue
		}
		if err != nil {
			if perr := asPermissionError(w.path, err); perr != nil && !w.observer.loaded() {
				w.observer.queryFailed(w.endpoint, w.path, err, 0, failures+1)
				return perr
			}
			failures++
			// After a failure the agent may be a new one whose index is
			// below ours; a blocking query would then sit out the whole
			// wait time on stale data. Start again with a plain read.
			index = 0
			delay := backoff(failures, w.cfg.MinBackoff, w.cfg.MaxBackoff)
			w.observer.queryFailed(w.endpoint, w.path, err, delay, failures)
			if !w.epoch.sleep(ctx, delay) {
				return nil
			}
			continue
		}
		failures = 0
		index = nextIndex(index, meta.LastIndex)
		w.observer.querySucceeded(w.endpoint, w.path, meta, time.Since(sent))
		if have && w.equal(last, v) {
			continue
		}
		last, have = v, true
		w.deliver(ctx, v)
	}
}

// nextIndex is the wait index for the query after one that was sent with
// prev and answered with last. An index that went backwards (snapshot
// restore, leader change) resets to 0, a plain read; otherwise the index is
// kept at 1 or more, since blocking on 0 returns at once and busy-loops.
func nextIndex(prev, last uint64) uint64 {
	if last < prev {
		return 0
	}
	return max(1, last)
}

// backoff is the delay before retry number failures (1 for the first): lo
// doubled per failure, capped at hi, with "equal jitter" (half fixed, half
// random) so watches that failed together do not retry together.
func backoff(failures int, lo, hi time.Duration) time.Duration {
	d := lo
	for i := 1; i < failures && d < hi; i++ {
		d *= 2
	}
	if d > hi || d <= 0 {
		d = hi
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// sleepCtx waits for d and reports whether it did so before ctx was done.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
