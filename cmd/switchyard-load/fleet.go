package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// syncPoll is how often the fleet checks whether its streams are synced.
const syncPoll = 10 * time.Millisecond

// errDeltaRefused marks a server that does not implement delta xDS.
var errDeltaRefused = errors.New("the xDS server refused delta ADS (gRPC Unimplemented); run with --protocol sotw, or against a server that serves delta xDS")

// fleet is a set of simulated proxies, each on a gRPC connection of its
// own.
type fleet struct {
	log     *slog.Logger
	cfg     streamConfig
	run     runStream
	streams []*streamState
	started time.Time
	cancel  context.CancelFunc
	ctx     context.Context
	wg      sync.WaitGroup
	errs    chan error
}

// newFleet prepares a fleet; grow starts its streams.
func newFleet(ctx context.Context, log *slog.Logger, cfg streamConfig, run runStream) *fleet {
	ctx, cancel := context.WithCancel(ctx)
	return &fleet{log: log, cfg: cfg, run: run, ctx: ctx, cancel: cancel, errs: make(chan error, 1)}
}

// grow starts streams until the fleet has n, and returns when they are
// launched. The first call sets the start of the initial sync.
func (f *fleet) grow(n int) {
	if f.started.IsZero() {
		f.started = time.Now()
	}
	for i := len(f.streams); i < n; i++ {
		st := &streamState{id: i}
		f.streams = append(f.streams, st)
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			err := f.run(f.ctx, f.cfg, st)
			if f.ctx.Err() != nil {
				return
			}
			if status.Code(err) == codes.Unimplemented {
				err = fmt.Errorf("%w: %w", errDeltaRefused, err)
			}
			select {
			case f.errs <- fmt.Errorf("stream %d (%s): %w", st.id, f.cfg.nodeID(st.id), err):
			default:
				f.log.Warn("stream ended", "stream", st.id, "error", err)
			}
		}()
	}
}

// waitSynced waits until every stream is synced and returns when the last
// one got there. It fails when a stream ends or timeout passes.
func (f *fleet) waitSynced(ctx context.Context, timeout time.Duration) (time.Time, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(syncPoll)
	defer tick.Stop()
	for {
		last, synced := f.lastSynced()
		if synced == len(f.streams) {
			return last, nil
		}
		select {
		case err := <-f.errs:
			return time.Time{}, err
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("wait for sync: %w", ctx.Err())
		case <-deadline.C:
			return time.Time{}, fmt.Errorf("only %d of %d streams synced within %s", synced, len(f.streams), timeout)
		case <-tick.C:
		}
	}
}

// lastSynced returns the latest sync time and how many streams are synced.
func (f *fleet) lastSynced() (time.Time, int) {
	var last int64
	n := 0
	for _, st := range f.streams {
		if at := st.syncedAt.Load(); at != 0 {
			n++
			last = max(last, at)
		}
	}
	return time.Unix(0, last), n
}

// failed returns the error of a stream that ended, if any.
func (f *fleet) failed() error {
	select {
	case err := <-f.errs:
		return err
	default:
		return nil
	}
}

// bytes returns the bytes received by all streams so far.
func (f *fleet) bytes() int64 {
	var total int64
	for _, st := range f.streams {
		total += st.bytes.Load()
	}
	return total
}

// close ends every stream and waits for them.
func (f *fleet) close() {
	f.cancel()
	f.wg.Wait()
}
