package discovery

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/consul/api"
)

// startReaders starts the goroutines that make targeted, non-blocking reads
// of /v1/health/service/<name> for services without a watch of their own.
// There are Config.readers() of them, so at most that many reads hold a
// connection at once.
func (ws *watchSet) startReaders(ctx context.Context) {
	for range ws.src.cfg.readers() {
		ws.wg.Add(1)
		go func() {
			defer ws.wg.Done()
			if err := ws.reader(ctx); err != nil {
				select {
				case ws.fatalCh <- err:
				case <-ctx.Done():
				}
			}
		}()
	}
}

// reader reads the services the watch set hands it until ctx is done, when
// it returns nil, or until a read is refused for good (see readService).
func (ws *watchSet) reader(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case sw := <-ws.readCh:
			in, err := ws.readService(ctx, sw.name)
			if err != nil || ctx.Err() != nil {
				return err
			}
			select {
			case ws.healthCh <- healthUpdate{watch: sw, instances: in, read: true}:
			case <-ctx.Done():
				return nil
			}
		}
	}
}

// readService reads every instance of one service, retrying failures after a
// capped, jittered backoff until it succeeds or ctx is done. A refusal for
// lack of permission before the first complete model is returned as a
// *PermissionError, as for the watches.
func (ws *watchSet) readService(ctx context.Context, name string) ([]Instance, error) {
	path := "/v1/health/service/" + name
	for failures := 1; ; failures++ {
		q := (&api.QueryOptions{Datacenter: ws.src.cfg.Datacenter}).WithContext(ctx)
		sent := time.Now()
		entries, meta, err := ws.src.cfg.Client.Health().Service(name, "", false, q)
		if err == nil {
			err = filteredEmpty(path, len(entries), meta)
		}
		if ctx.Err() != nil {
			return nil, nil
		}
		if err == nil {
			ws.src.querySucceeded("read", path, meta, time.Since(sent))
			return instancesFromEntries(entries), nil
		}
		if perr := asPermissionError(path, err); perr != nil && !ws.src.loaded() {
			ws.src.queryFailed("read", path, err, 0, failures)
			return nil, fmt.Errorf("targeted read: %w", perr)
		}
		delay := backoff(failures, ws.src.cfg.MinBackoff, ws.src.cfg.MaxBackoff)
		ws.src.queryFailed("read", path, err, delay, failures)
		if !sleepCtx(ctx, delay) {
			return nil, nil
		}
	}
}

// enqueueRead asks for a targeted read of sw. A read already queued is not
// queued twice; one already running is repeated when it ends, so a change
// made while it ran is not missed.
func (ws *watchSet) enqueueRead(sw *serviceWatch) {
	switch {
	case sw.reading:
		sw.again = true
	case !sw.queued:
		sw.queued = true
		ws.readQueue = append(ws.readQueue, sw)
	}
}

// nextRead returns the channel and service for the run loop's select: a nil
// channel (never ready) when nothing is queued.
func (ws *watchSet) nextRead() (chan<- *serviceWatch, *serviceWatch) {
	for len(ws.readQueue) > 0 && ws.watches[ws.readQueue[0].name] != ws.readQueue[0] {
		ws.readQueue[0].queued = false
		ws.readQueue = ws.readQueue[1:] // the service is gone
	}
	if len(ws.readQueue) == 0 {
		return nil, nil
	}
	return ws.readCh, ws.readQueue[0]
}

// readStarted records that the head of the queue was handed to a reader.
func (ws *watchSet) readStarted() {
	sw := ws.readQueue[0]
	ws.readQueue[0] = nil
	ws.readQueue = ws.readQueue[1:]
	sw.queued, sw.reading = false, true
}

// readEnded records a finished read and repeats it if the service changed
// while it ran.
func (ws *watchSet) readEnded(sw *serviceWatch) {
	sw.reading = false
	if sw.again {
		sw.again = false
		ws.enqueueRead(sw)
	}
}
