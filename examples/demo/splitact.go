package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/switchyard/switchyard/internal/echo"
	"github.com/switchyard/switchyard/internal/grpcxds"
)

// splitService is the Consul service the weighted-split act splits by
// version.
const splitService = "web"

// splitAct moves the traffic of one service between its versions through
// a service-splitter, step by step, and checks each step in the traffic.
type splitAct struct {
	t *traffic
	// write sets the service-splitter to a step.
	write    func(context.Context, splitStep) error
	steps    []splitStep
	versions []string
	// tolerance is how many percentage points a sample may be off a step.
	tolerance float64
}

// stepResult is what the summary says about one split step.
type stepResult struct {
	step splitStep
	// took is the time from the splitter write to the first RPC of the
	// new split.
	took time.Duration
	// follow is the rounds until the step was detected; sample is the
	// round after them that was checked.
	follow, sample phaseResult
}

// splitWorld is what the weighted-split act leaves to the acts after it:
// the traffic of splitService, counted per version, and its backends.
type splitWorld struct {
	t        *traffic
	backends map[string]*echo.Backend
	versions []string
}

// runSplit is the weighted-split act: it registers the versioned backends
// of splitService, writes its service-defaults and service-resolver, dials
// it through Switchyard at xdsAddr and walks the splitter through
// cfg.SplitSteps.
func runSplit(ctx context.Context, out io.Writer, c *api.Client, xdsAddr string, cfg runConfig, start time.Time, cl *cleanups) (splitWorld, error) {
	versions := versionsOf(cfg.SplitBackends)
	for _, s := range cfg.SplitSteps {
		if err := s.validate(versions); err != nil {
			return splitWorld{}, err
		}
	}
	heading(out, fmt.Sprintf("weighted split: service %q, versions %s", splitService, strings.Join(versions, ", ")))
	backends, err := startSplitBackends(ctx, out, c, cfg, cl)
	if err != nil {
		return splitWorld{}, err
	}
	if err := writeSubsets(ctx, out, c, versions); err != nil {
		return splitWorld{}, err
	}
	cc, err := grpcxds.Dial(grpcxds.BootstrapJSON(xdsAddr, "demo-split-client", "demo"), "xds:///"+splitService)
	if err != nil {
		return splitWorld{}, err
	}
	cl.add("split grpc client", cc.Close)
	splitCfg := cfg
	splitCfg.RPCs = cfg.SplitRPCs
	t := &traffic{out: out, cc: cc, cfg: splitCfg, service: splitService, ids: versions, versionOf: cfg.SplitBackends, start: start}
	if err := t.waitFirstAnswer(ctx); err != nil {
		return splitWorld{}, err
	}
	a := &splitAct{t: t, steps: cfg.SplitSteps, versions: versions, tolerance: cfg.SplitTolerance,
		write: func(ctx context.Context, s splitStep) error { return setEntry(ctx, c, splitterEntry(splitService, s)) }}
	return splitWorld{t: t, backends: backends, versions: versions}, a.run(ctx)
}

// startSplitBackends starts and registers cfg.SplitBackends, waits until
// Consul reports them all passing and returns them by id.
func startSplitBackends(ctx context.Context, out io.Writer, c *api.Client, cfg runConfig, cl *cleanups) (map[string]*echo.Backend, error) {
	ids := slices.Sorted(maps.Keys(cfg.SplitBackends))
	backends, err := startBackends(ctx, out, c, splitService, ids, cfg.SplitBackends, cl)
	if err != nil {
		return nil, err
	}
	if err := waitPassing(ctx, c, splitService, len(ids), cfg.StartTimeout); err != nil {
		return nil, fmt.Errorf("wait for the %s health checks: %w", splitService, err)
	}
	fmt.Fprintf(out, "consul: all %d %s instances passing\n", len(ids), splitService)
	return backends, nil
}

// writeSubsets writes splitService's service-defaults and a
// service-resolver with one subset per version.
func writeSubsets(ctx context.Context, out io.Writer, c *api.Client, versions []string) error {
	if err := setEntry(ctx, c, defaultsEntry(splitService)); err != nil {
		return err
	}
	fmt.Fprintf(out, "consul: service-defaults %s: protocol grpc\n", splitService)
	resolver := resolverEntry(splitService, versions)
	if err := setEntry(ctx, c, resolver); err != nil {
		return err
	}
	var subsets []string
	for _, v := range versions {
		subsets = append(subsets, fmt.Sprintf("%s (%s)", v, resolver.Subsets[v].Filter))
	}
	fmt.Fprintf(out, "consul: service-resolver %s: subsets %s\n", splitService, strings.Join(subsets, ", "))
	return nil
}

// run shows the baseline, without a splitter, then each step, then a
// summary.
func (a *splitAct) run(ctx context.Context) error {
	heading(a.t.out, fmt.Sprintf("%s baseline, no splitter: %d round(s) of %d RPCs", splitService, a.t.cfg.Baseline, a.t.cfg.RPCs))
	base, err := a.t.steady(ctx, splitService+" baseline", a.t.cfg.Baseline)
	if err != nil {
		return err
	}
	for _, v := range a.versions {
		if base.totals.Counts[v] == 0 {
			return fmt.Errorf("%s baseline: %s got no traffic (answers: %v)", splitService, v, base.totals.Counts)
		}
	}
	from := measuredShares(base.totals, a.versions)
	var results []stepResult
	for _, s := range a.steps {
		res, err := a.step(ctx, from, s)
		if err != nil {
			return err
		}
		results = append(results, res)
		from = s.shares()
	}
	a.summary(base, results)
	return nil
}

// step writes s, waits until the traffic shows it and checks it over the
// next round. from are the shares the traffic followed before.
func (a *splitAct) step(ctx context.Context, from map[string]float64, s splitStep) (stepResult, error) {
	res := stepResult{step: s}
	heading(a.t.out, fmt.Sprintf("splitting %s: %s", splitService, s))
	changed := time.Now()
	if err := a.write(ctx, s); err != nil {
		return res, err
	}
	var at time.Time
	var err error
	res.follow, at, err = a.follow(ctx, s, newShift(from, s.shares()))
	if err != nil {
		return res, err
	}
	res.took = at.Sub(changed)
	fmt.Fprintf(a.t.out, "traffic followed %s %s after the splitter was written\n", s, res.took.Round(time.Millisecond))
	res.sample, err = a.t.steady(ctx, s.String()+" sample", 1)
	if err != nil {
		return res, err
	}
	if why := splitUnmet(s, res.sample.totals, a.tolerance); why != "" {
		return res, fmt.Errorf("split %s: the %d RPCs after it took effect are off it by more than %g points: %s", s, res.sample.totals.Total, a.tolerance, why)
	}
	fmt.Fprintf(a.t.out, "checked over the next %d RPCs: %s, within %g points of the split\n", res.sample.totals.Total, shareList(a.versions, res.sample.totals), a.tolerance)
	return res, nil
}

// follow runs rounds until d detects the shift to s and returns when it
// happened, failing once cfg.Converge has passed without it.
func (a *splitAct) follow(ctx context.Context, s splitStep, d *shift) (phaseResult, time.Time, error) {
	res := phaseResult{name: s.String(), totals: newRound()}
	began := time.Now()
	why := "no round yet"
	for range int(a.t.cfg.Converge/a.t.cfg.Round) + 1 {
		r, err := a.t.next(ctx, &res)
		if err != nil {
			return res, time.Time{}, err
		}
		for _, ans := range r.Answers {
			if d.observe(ans.ID, ans.At) {
				at, _ := d.detected()
				return res, at, nil
			}
		}
		why = splitUnmet(s, r, a.tolerance)
		if time.Since(began) >= a.t.cfg.Converge {
			break
		}
	}
	return res, time.Time{}, fmt.Errorf("split %s: traffic did not follow it within %s (%d round(s); last round: %s)", s, a.t.cfg.Converge, res.rounds, why)
}

// summary prints the baseline and, per step, how long it took to show in
// traffic and what its checked sample measured.
func (a *splitAct) summary(base phaseResult, results []stepResult) {
	heading(a.t.out, "split summary")
	fmt.Fprintf(a.t.out, "  %-18s %31s %5d RPCs: %s\n", "no splitter", "", base.totals.Total, shareList(a.versions, base.totals))
	all := newRound()
	all.add(base.totals)
	for _, r := range results {
		all.add(r.follow.totals)
		all.add(r.sample.totals)
		fmt.Fprintf(a.t.out, "  %-18s in traffic after %6s, checked %5d RPCs: %s (%d errors on the way)\n",
			r.step, r.took.Round(time.Millisecond), r.sample.totals.Total, shareList(a.versions, r.sample.totals), r.follow.totals.Failed)
	}
	fmt.Fprintln(a.t.out, "  "+errorVerdict(all))
}

// shareList renders r's share of each version as "v1 90.1%, v2 9.9%".
func shareList(versions []string, r round) string {
	parts := make([]string, len(versions))
	for i, v := range versions {
		parts[i] = fmt.Sprintf("%s %.1f%%", v, 100*r.share(v))
	}
	return strings.Join(parts, ", ")
}
