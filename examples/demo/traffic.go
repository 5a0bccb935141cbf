package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/switchyard/switchyard/internal/echo"
)

const (
	// callTimeout bounds each single RPC the demo sends.
	callTimeout = 5 * time.Second
	// firstAnswerPoll is the pause between attempts at the first answer.
	firstAnswerPoll = 250 * time.Millisecond
	// minInterval is the shortest gap between two RPCs of a round.
	minInterval = 100 * time.Microsecond
)

// traffic sends rounds of RPCs through the xDS client and prints them.
type traffic struct {
	out io.Writer
	cc  grpc.ClientConnInterface
	cfg runConfig
	// service is the Consul service cc dials, as xds:///<service>.
	service string
	// ids are what the chart shows a bar for: backend ids, or versions when
	// versionOf is set.
	ids []string
	// versionOf, when set, maps each backend id to its version, and rounds
	// count answers per version rather than per backend; an id it lacks is
	// counted as itself, so a stray answer shows.
	versionOf map[string]string
	start     time.Time
}

// phaseResult is what the summary says about one phase.
type phaseResult struct {
	name   string
	rounds int
	took   time.Duration // time until traffic followed the change; 0 for the baseline
	totals round
}

// waitFirstAnswer retries single RPCs until one is answered: the xDS client
// first has to fetch the listener, routes, cluster and endpoints.
func (t *traffic) waitFirstAnswer(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, t.cfg.StartTimeout)
	defer cancel()
	began := time.Now()
	var last error
	for range int(t.cfg.StartTimeout/firstAnswerPoll) + 1 {
		callCtx, callCancel := context.WithTimeout(ctx, callTimeout)
		id, err := echo.Call(callCtx, t.cc)
		callCancel()
		if err == nil {
			fmt.Fprintf(t.out, "client: first answer through xds:///%s from %s after %s\n", t.service, id, time.Since(began).Round(time.Millisecond))
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("no answer through xds:///%s within %s: %w (last error: %v)", t.service, t.cfg.StartTimeout, ctx.Err(), last)
		case <-time.After(firstAnswerPoll):
		}
	}
	return fmt.Errorf("no answer through xds:///%s (last error: %w)", t.service, last)
}

// phases runs the baseline, fails the health of failing, waits for its
// traffic to drain, restores it, waits for traffic to return and prints a
// summary.
func (t *traffic) phases(ctx context.Context, failing *echo.Backend) error {
	heading(t.out, fmt.Sprintf("baseline: %d round(s) of %d RPCs", t.cfg.Baseline, t.cfg.RPCs))
	base, err := t.steady(ctx, "baseline", t.cfg.Baseline)
	if err != nil {
		return err
	}
	for _, id := range t.ids {
		if base.totals.Counts[id] == 0 {
			return fmt.Errorf("baseline: %s got no traffic (answers: %v)", id, base.totals.Counts)
		}
	}

	heading(t.out, "failing "+failing.ID+"'s health check")
	changed := time.Now()
	failing.SetServing(false)
	drained, err := t.converge(ctx, failing.ID+" failing", drainedGoal(t.ids, failing.ID))
	if err != nil {
		return err
	}
	// The last answer from the failing backend marks when the change
	// reached the client; none at all means it arrived before the first RPC.
	drained.took = max(drained.totals.Last[failing.ID].Sub(changed), 0)
	fmt.Fprintf(t.out, "%s got no more traffic %s after its check was failed\n", failing.ID, drained.took.Round(10*time.Millisecond))

	heading(t.out, "restoring "+failing.ID)
	changed = time.Now()
	failing.SetServing(true)
	back, err := t.converge(ctx, failing.ID+" restored", restoredGoal(t.ids))
	if err != nil {
		return err
	}
	back.took = back.totals.First[failing.ID].Sub(changed)
	fmt.Fprintf(t.out, "%s got traffic again %s after its check was restored\n", failing.ID, back.took.Round(10*time.Millisecond))

	t.summary([]phaseResult{base, drained, back})
	return nil
}

// steady runs exactly n rounds.
func (t *traffic) steady(ctx context.Context, name string, n int) (phaseResult, error) {
	res := phaseResult{name: name, totals: newRound()}
	for range n {
		if _, err := t.next(ctx, &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

// converge runs rounds until one meets g, failing once cfg.Converge has
// passed without such a round.
func (t *traffic) converge(ctx context.Context, name string, g goal) (phaseResult, error) {
	res := phaseResult{name: name, totals: newRound()}
	began := time.Now()
	why := "no round yet"
	for range int(t.cfg.Converge/t.cfg.Round) + 1 {
		r, err := t.next(ctx, &res)
		if err != nil {
			return res, err
		}
		if why = g.unmet(r); why == "" {
			return res, nil
		}
		if time.Since(began) >= t.cfg.Converge {
			break
		}
	}
	return res, fmt.Errorf("%s: traffic did not follow the health change within %s (%d round(s); last round: %s)", name, t.cfg.Converge, res.rounds, why)
}

// next runs one round and adds it to res. It fails when the round's RPCs
// mostly failed: the client then has no working endpoints, which no health
// change of one instance should cause.
func (t *traffic) next(ctx context.Context, res *phaseResult) (round, error) {
	r, err := t.round(ctx)
	if err != nil {
		return r, fmt.Errorf("%s: %w", res.name, err)
	}
	res.rounds++
	res.totals.add(r)
	if mostFailed(r) {
		return r, fmt.Errorf("%s: %d of %d RPCs in one round failed (last: %s): the client has no working endpoints", res.name, r.Failed, r.Total, r.LastErr)
	}
	return r, nil
}

// round sends cfg.RPCs RPCs spread evenly over cfg.Round, like steady live
// traffic, and prints the chart line. Failed RPCs are counted; only the end
// of ctx ends the round early.
func (t *traffic) round(ctx context.Context) (round, error) {
	r := newRound()
	tick := time.NewTicker(max(t.cfg.Round/time.Duration(t.cfg.RPCs), minInterval))
	defer tick.Stop()
	for i := range t.cfg.RPCs {
		if i > 0 {
			select {
			case <-ctx.Done():
				return r, ctx.Err()
			case <-tick.C:
			}
		}
		callCtx, cancel := context.WithTimeout(ctx, callTimeout)
		id, err := echo.Call(callCtx, t.cc)
		cancel()
		r.Total++
		if err != nil {
			if ctx.Err() != nil {
				return r, ctx.Err()
			}
			r.Failed++
			r.LastErr, r.FailedAt = status.Code(err).String(), time.Now()
			continue
		}
		r.answered(t.key(id), time.Now())
	}
	fmt.Fprintln(t.out, chartLine(time.Since(t.start), t.ids, r))
	return r, nil
}

// key is what an answer from backend id counts as: its version when the
// traffic is counted per version, else id itself.
func (t *traffic) key(id string) string {
	if v, ok := t.versionOf[id]; ok {
		return v
	}
	return id
}

// summary prints one line per phase, the grand total and whether any RPC
// failed on the way.
func (t *traffic) summary(results []phaseResult) {
	heading(t.out, "summary")
	all := newRound()
	for _, p := range results {
		all.add(p.totals)
		took := ""
		if p.name != "baseline" {
			took = fmt.Sprintf(", traffic followed in %s", p.took.Round(10*time.Millisecond))
		}
		fmt.Fprintf(t.out, "  %-16s %2d round(s), %5d RPCs, %d errors%s\n", p.name, p.rounds, p.totals.Total, p.totals.Failed, took)
	}
	var shares []string
	for _, id := range lineIDs(t.ids, all) {
		shares = append(shares, fmt.Sprintf("%s %.1f%%", id, 100*all.share(id)))
	}
	fmt.Fprintf(t.out, "  %-16s %16d RPCs, %d errors: %s\n", "total", all.Total, all.Failed, strings.Join(shares, ", "))
	fmt.Fprintln(t.out, "  "+errorVerdict(all))
}

// heading prints a phase heading.
func heading(out io.Writer, title string) {
	fmt.Fprintf(out, "\n== %s ==\n", title)
}
