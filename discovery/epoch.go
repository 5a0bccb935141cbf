package discovery

import (
	"context"
	"sync"
	"time"
)

// epoch lets the source abandon every blocking query in flight at once:
// after a Consul snapshot restore the agent's streaming health views (and
// any query that holds an index above the restored ones) would otherwise
// wait out their whole wait time on data that is gone. Each query runs
// under the current epoch; abandon cancels it, and the watches start again
// with a plain read.
type epoch struct {
	root   context.Context
	mu     sync.Mutex
	ctx    context.Context
	cancel context.CancelFunc
}

// newEpoch returns the first epoch; every epoch ends with root.
func newEpoch(root context.Context) *epoch {
	e := &epoch{root: root}
	e.ctx, e.cancel = context.WithCancel(root)
	return e
}

// current returns the context of the current epoch.
func (e *epoch) current() context.Context {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.ctx
}

// abandon ends the current epoch, cancelling every query made under it,
// and starts the next.
func (e *epoch) abandon() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cancel()
	e.ctx, e.cancel = context.WithCancel(e.root)
}

// sleep waits for d, or less when the epoch ends first (Consul is back
// after an outage, or its indexes went backwards: retry now), and reports
// whether ctx is still live. A nil epoch just sleeps.
func (e *epoch) sleep(ctx context.Context, d time.Duration) bool {
	if e == nil {
		return sleepCtx(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-e.current().Done():
	case <-ctx.Done():
	}
	return ctx.Err() == nil
}

// queryContext returns a context for one query of a watch running under
// ctx: it ends with ctx or with the current epoch, and stop releases it.
// abandoned reports, after the query, whether the epoch ended it. A nil
// epoch never abandons.
func (e *epoch) queryContext(ctx context.Context) (qctx context.Context, stop func(), abandoned func() bool) {
	if e == nil {
		return ctx, func() {}, func() bool { return false }
	}
	ep := e.current()
	qctx, cancel := context.WithCancel(ctx)
	unhook := context.AfterFunc(ep, cancel)
	return qctx, func() { unhook(); cancel() }, func() bool { return ep.Err() != nil && ctx.Err() == nil }
}
