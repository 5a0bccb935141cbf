package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// changePhase makes the changes, one at a time or at --rate, and fills in
// propagation, bytes and CPU time per change.
func changePhase(ctx context.Context, log *slog.Logger, cfg loadConfig, tgt *target, f *fleet, ch *churn, r *report) error {
	cpu0, cpuErr := cpuOf(tgt.pid)
	bytes0 := f.bytes()
	start := time.Now()
	changes, err := makeChanges(ctx, cfg, f, ch, 0)
	if err != nil {
		return err
	}
	log.Info("changes done", "changes", len(changes), "took", time.Since(start).Round(time.Millisecond))
	if err := f.failed(); err != nil {
		return fmt.Errorf("during the changes: %w", err)
	}
	r.BytesPerProxyPerChange = perProxyPerChange(f.bytes()-bytes0, len(f.streams), len(changes))
	if cpu1, err := cpuOf(tgt.pid); cpuErr == nil && err == nil && len(changes) > 0 {
		v := (cpu1 - cpu0) / float64(len(changes))
		r.CPUSecondsPerChange = &v
	} else if tgt.pid != 0 {
		log.Warn("no cpu time", "pid", tgt.pid, "error", fmt.Sprint(cpuErr, " ", err))
	}
	fillPropagation(r, changes, cfg.ChangeTimeout)
	r.ChangedResourceBytes = meanSize(changes)
	return nil
}

// meanSize is the mean size of the endpoint assignments that carried the
// changes, as first received.
func meanSize(changes []*change) float64 {
	var total, n int64
	for _, c := range changes {
		if b := c.size.Load(); b > 0 {
			total += b
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return float64(total) / float64(n)
}

// cpuOf reads the CPU time of pid; an unknown pid is an error.
func cpuOf(pid int) (float64, error) {
	if pid == 0 {
		return 0, fmt.Errorf("no --switchyard-pid")
	}
	return cpuSeconds(pid)
}

// makeChanges makes cfg.Changes changes, numbered from first, and waits for each to reach every
// stream or time out. Without a rate each change starts once the previous
// one is done; with one they start on a ticker, still one per service at a
// time.
func makeChanges(ctx context.Context, cfg loadConfig, f *fleet, ch *churn, first int) ([]*change, error) {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		all  []*change
	)
	var tick <-chan time.Time
	if cfg.Rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / cfg.Rate))
		defer t.Stop()
		tick = t.C
	}
	for k := range cfg.Changes {
		c := ch.next(first+k, len(f.streams))
		c.exclude(f.cfg.stalls.count())
		all = append(all, c)
		one := func() {
			if err := trackOne(ctx, cfg, f, ch, c); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}
		if tick == nil {
			one()
		} else {
			wg.Add(1)
			go func() { defer wg.Done(); one() }()
		}
		mu.Lock()
		failed := len(errs) > 0
		mu.Unlock()
		if failed || ctx.Err() != nil {
			break
		}
		if tick != nil && k < cfg.Changes-1 {
			select {
			case <-tick:
			case <-ctx.Done():
			}
		}
	}
	wg.Wait()
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return all, ctx.Err()
}

// trackOne makes change c once no other change of its service is in
// flight, and waits until every stream saw it or cfg.ChangeTimeout passes.
// The previous change of the service is followed for at most
// cfg.ChangeTimeout after its write, so waiting for it longer than twice
// that means the tool is stuck.
func trackOne(ctx context.Context, cfg loadConfig, f *fleet, ch *churn, c *change) error {
	wait := time.NewTimer(2*cfg.ChangeTimeout + consulTimeout)
	defer wait.Stop()
	for prev := f.cfg.tracker.add(c); prev != nil; prev = f.cfg.tracker.add(c) {
		select {
		case <-prev.untracked:
		case <-wait.C:
			return fmt.Errorf("change %d: change %d of %s still tracked after %s", c.id, prev.id, c.service, 2*cfg.ChangeTimeout+consulTimeout)
		case <-ctx.Done():
			return fmt.Errorf("change %d: %w", c.id, ctx.Err())
		}
	}
	defer f.cfg.tracker.remove(c)
	if err := ch.apply(ctx, c); err != nil {
		return err
	}
	wait.Reset(cfg.ChangeTimeout)
	select {
	case <-c.done:
	case <-wait.C:
	case <-ctx.Done():
		return fmt.Errorf("change %d: %w", c.id, ctx.Err())
	}
	return nil
}

// fillPropagation summarizes the receipts of the changes.
func fillPropagation(r *report, changes []*change, timeout time.Duration) {
	var all, last []time.Duration
	for _, c := range changes {
		ls := c.latencies()
		all = append(all, ls...)
		worst := timeout
		if len(ls) >= c.expected {
			worst = 0
			for _, l := range ls {
				worst = max(worst, l)
			}
		}
		last = append(last, worst)
		r.Missed += max(c.expected-len(ls), 0)
		r.PerChange = append(r.PerChange, changeResult{ID: c.id, Instance: c.instance, Status: c.status, Seen: len(ls), LastMS: ms(worst)})
	}
	r.Propagation = summarize(all)
	r.LastStream = summarize(last)
}
