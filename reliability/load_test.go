package reliability

import (
	"context"
	"fmt"
	"maps"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/switchyard/switchyard/internal/echo"
)

const (
	// rpcTimeout bounds one RPC of the load.
	rpcTimeout = 2 * time.Second
	// rpcPause is the pause between two RPCs of one worker, so that the
	// load stays steady without taking the shared CPUs.
	rpcPause = 5 * time.Millisecond
	// keptErrors is how many distinct failures a load keeps for the report.
	keptErrors = 5
)

// load sends UnaryCalls over several connections from several workers each,
// until stopped, and counts the successes per backend and every failure.
type load struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	ok     map[string]int
	first  map[string]time.Time // first success per backend
	last   map[string]time.Time // latest success per backend
	failed int
	errs   []string
}

// startLoad starts workers goroutines per connection.
func startLoad(ccs []*grpc.ClientConn, workers int) *load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{cancel: cancel, ok: map[string]int{}, first: map[string]time.Time{}, last: map[string]time.Time{}}
	for _, cc := range ccs {
		for range workers {
			l.wg.Add(1)
			go l.work(ctx, cc)
		}
	}
	return l
}

// work sends RPCs until ctx is done.
func (l *load) work(ctx context.Context, cc *grpc.ClientConn) {
	defer l.wg.Done()
	pause := time.NewTimer(rpcPause)
	defer pause.Stop()
	for ctx.Err() == nil {
		rctx, cancel := context.WithTimeout(ctx, rpcTimeout)
		id, err := echo.Call(rctx, cc)
		cancel()
		if ctx.Err() != nil {
			return // stopped mid-call: not a failure of the data plane
		}
		l.record(id, err)
		pause.Reset(rpcPause)
		select {
		case <-ctx.Done():
			return
		case <-pause.C:
		}
	}
}

// record counts one RPC's outcome.
func (l *load) record(id string, err error) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.failed++
		if msg := err.Error(); len(l.errs) < keptErrors && !contains(l.errs, msg) {
			l.errs = append(l.errs, now.Format("15:04:05.000")+" "+msg)
		}
		return
	}
	l.ok[id]++
	if _, ok := l.first[id]; !ok {
		l.first[id] = now
	}
	l.last[id] = now
}

// contains reports whether some kept error ends with msg.
func contains(errs []string, msg string) bool {
	for _, e := range errs {
		if strings.HasSuffix(e, msg) {
			return true
		}
	}
	return false
}

// stop ends the load and waits for every worker.
func (l *load) stop() {
	l.cancel()
	l.wg.Wait()
}

// loadResult is what a load counted.
type loadResult struct {
	OK     map[string]int
	Failed int
	Errors []string
}

// result returns the counts so far.
func (l *load) result() loadResult {
	l.mu.Lock()
	defer l.mu.Unlock()
	return loadResult{OK: maps.Clone(l.ok), Failed: l.failed, Errors: append([]string(nil), l.errs...)}
}

// firstOK returns when id first answered, if it has.
func (l *load) firstOK(id string) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.first[id]
	return t, ok
}

// lastOK returns when id last answered, if it has.
func (l *load) lastOK(id string) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.last[id]
	return t, ok
}

// String summarises a result for the test log.
func (r loadResult) String() string {
	ids := make([]string, 0, len(r.OK))
	total := 0
	for id, n := range r.OK {
		ids = append(ids, fmt.Sprintf("%s=%d", id, n))
		total += n
	}
	sort.Strings(ids)
	return fmt.Sprintf("%d RPCs ok (%s), %d failed", total, strings.Join(ids, " "), r.Failed)
}
