package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/switchyard/switchyard/rollout"
)

const (
	// statusPoll is the pause between two `switchyard rollout status`
	// calls while the demo waits for the controller.
	statusPoll = 100 * time.Millisecond
	// cliTimeout bounds one run of the switchyard CLI.
	cliTimeout = 15 * time.Second
)

// rolloutCLI runs `switchyard rollout` against the demo's Consul, as an
// operator would.
type rolloutCLI struct {
	bin, consulAddr string
}

// run runs `switchyard rollout args... --consul-addr <consul>` and returns
// its standard output; a failure carries its standard error.
func (c rolloutCLI) run(ctx context.Context, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, cliTimeout)
	defer cancel()
	full := append(append([]string{"rollout"}, args...), "--consul-addr", c.consulAddr)
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, c.bin, full...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("switchyard %s: %w: %s", strings.Join(full, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// status is `switchyard rollout status <service> -o json`, parsed.
func (c rolloutCLI) status(ctx context.Context, service string) (rolloutView, error) {
	out, err := c.run(ctx, "status", service, "-o", "json")
	if err != nil {
		return rolloutView{}, err
	}
	return parseRolloutStatus(out)
}

// rolloutAct drives rollouts of splitService with the switchyard CLI and
// checks each step the controller of `switchyard serve` applies in the
// traffic of the split act's client.
type rolloutAct struct {
	// split follows and samples the traffic; its write resets the splitter.
	split *splitAct
	cli   rolloutCLI
	world splitWorld
	// converge bounds every wait for the controller.
	converge time.Duration
}

// runRollouts is the two rollout acts: one that completes and one whose
// canary fails at its first step.
func runRollouts(ctx context.Context, c *api.Client, world splitWorld, cfg runConfig, consulAddr string) error {
	a := &rolloutAct{
		split: &splitAct{t: world.t, versions: world.versions, tolerance: cfg.SplitTolerance,
			write: func(ctx context.Context, s splitStep) error { return setEntry(ctx, c, splitterEntry(splitService, s)) }},
		cli: rolloutCLI{bin: cfg.Switchyard, consulAddr: consulAddr}, world: world, converge: cfg.Converge,
	}
	spec := rollout.Spec{Service: splitService, From: "v1", To: "v2", Steps: cfg.RolloutSteps, Interval: cfg.RolloutInterval}
	if err := a.complete(ctx, spec); err != nil {
		return err
	}
	spec.Steps, spec.Interval = cfg.RollbackSteps, cfg.RollbackInterval
	return a.rollback(ctx, spec)
}

// complete resets the splitter to all spec.From, starts the rollout and
// checks every step in traffic until it succeeds.
func (a *rolloutAct) complete(ctx context.Context, spec rollout.Spec) error {
	fmt.Fprintf(a.out(), "\nresetting %s to all %s for the rollouts\n", spec.Service, spec.From)
	if _, err := a.split.step(ctx, rolloutSplit(spec, 100).shares(), rolloutSplit(spec, 0)); err != nil {
		return fmt.Errorf("reset the splitter before the rollout: %w", err)
	}
	heading(a.out(), fmt.Sprintf("rollout: %s %s → %s in steps %s, every %s, by `switchyard rollout` and the controller of `switchyard serve`",
		spec.Service, spec.From, spec.To, stepsText(spec.Steps), spec.Interval))
	began, err := a.start(ctx, spec)
	if err != nil {
		return err
	}
	from := rolloutSplit(spec, 0).shares()
	var results []stepResult
	for i := range spec.Steps {
		res, err := a.step(ctx, spec, i, from)
		if err != nil {
			return err
		}
		results = append(results, res)
		from = res.step.shares()
	}
	v, err := a.await(ctx, "the rollout to finish", func(v rolloutView) (bool, error) { return v.Phase.Finished(), nil })
	if err != nil {
		return err
	}
	if why := v.finishedUnmet(rollout.PhaseSucceeded, 100); why != "" {
		return fmt.Errorf("rollout of %s: %s", spec.Service, why)
	}
	fmt.Fprintf(a.out(), "status: %s %s after `rollout start`, splitter %s; history: %s\n",
		v.Phase, since(began), v.splitterText(), v.historyText())
	a.summary("rollout summary", results)
	return nil
}

// rollback starts a rollout, fails the health of every spec.To instance
// once its first step is in traffic, and checks that the controller
// aborts it and traffic returns to spec.From.
func (a *rolloutAct) rollback(ctx context.Context, spec rollout.Spec) error {
	heading(a.out(), fmt.Sprintf("rollback: %s %s → %s in steps %s, every %s; the canary fails at %d%%",
		spec.Service, spec.From, spec.To, stepsText(spec.Steps), spec.Interval, spec.Steps[0]))
	if _, err := a.start(ctx, spec); err != nil {
		return err
	}
	first, err := a.step(ctx, spec, 0, rolloutSplit(spec, 0).shares())
	if err != nil {
		return err
	}
	failed, err := a.failCanary(spec)
	if err != nil {
		return err
	}
	back, err := a.split.t.converge(ctx, spec.To+" failing", goal{serving: []string{spec.From}, drained: []string{spec.To}})
	if err != nil {
		return err
	}
	v, err := a.await(ctx, "the controller to abort", func(v rolloutView) (bool, error) { return v.Phase.Finished(), nil })
	if err != nil {
		return err
	}
	if why := v.finishedUnmet(rollout.PhaseAborted, 0); why != "" {
		return fmt.Errorf("rollout of %s after its canary failed: %s", spec.Service, why)
	}
	abort, _ := v.lastEvent(rollout.ActionAbort)
	if !rollout.ByController(abort.Actor) || abort.Reason == "" {
		return fmt.Errorf("rollout of %s: aborted by %q for %q, want the controller with a reason", spec.Service, abort.Actor, abort.Reason)
	}
	t := rollbackTimes(failed, abort.At, spec.To, back.totals)
	fmt.Fprintf(a.out(), "status: %s by the %s %s after the failure: %q; splitter %s; history: %s\n",
		v.Phase, abort.Actor, t.aborted.Round(time.Millisecond), abort.Reason, v.splitterText(), v.historyText())
	fmt.Fprintf(a.out(), "%s answered last %s after the failure, the last RPC failed %s after it (%d failed RPCs, the %d%% sent to %s while it had no healthy instance)\n",
		spec.To, t.lastTo.Round(time.Millisecond), t.lastFailed.Round(time.Millisecond), back.totals.Failed, spec.Steps[0], spec.To)
	fmt.Fprintf(a.out(), "traffic back on %s, every RPC answered, %s after the failure\n", spec.From, t.back.Round(time.Millisecond))
	s := rolloutSplit(spec, 0)
	sample, err := a.split.t.steady(ctx, s.String()+" sample", 1)
	if err != nil {
		return err
	}
	if why := splitUnmet(s, sample.totals, a.split.tolerance); why != "" {
		return fmt.Errorf("after the abort: the next %d RPCs are off %s: %s", sample.totals.Total, s, why)
	}
	fmt.Fprintf(a.out(), "checked over the next %d RPCs: %s\n", sample.totals.Total, shareList(a.split.versions, sample.totals))
	heading(a.out(), "rollback summary")
	fmt.Fprintf(a.out(), "  %-18s in traffic after %6s, checked %5d RPCs: %s\n", first.step, first.took.Round(time.Millisecond), first.sample.totals.Total, shareList(a.split.versions, first.sample.totals))
	fmt.Fprintf(a.out(), "  %s failed → controller aborted in %s → all traffic on %s, no errors, in %s (%d RPCs failed on the way)\n",
		spec.To, t.aborted.Round(time.Millisecond), spec.From, t.back.Round(time.Millisecond), back.totals.Failed)
	return nil
}

// start runs `switchyard rollout start` for spec and prints the command
// and its output; it returns when the command was run.
func (a *rolloutAct) start(ctx context.Context, spec rollout.Spec) (time.Time, error) {
	args := []string{"start", spec.Service, "--to", spec.To, "--from", spec.From,
		"--steps", stepsFlag(spec.Steps), "--interval", spec.Interval.String()}
	fmt.Fprintf(a.out(), "$ switchyard rollout %s --consul-addr %s\n", strings.Join(args, " "), a.cli.consulAddr)
	began := time.Now()
	out, err := a.cli.run(ctx, args...)
	if err != nil {
		return began, err
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fmt.Fprintln(a.out(), "  "+line)
	}
	return began, nil
}

// step waits until the status shows step i applied, then follows the
// traffic from the shares from to it and checks it over one round.
func (a *rolloutAct) step(ctx context.Context, spec rollout.Spec, i int, from map[string]float64) (stepResult, error) {
	s := rolloutSplit(spec, spec.Steps[i])
	res := stepResult{step: s}
	v, err := a.await(ctx, fmt.Sprintf("step %d (%d%%)", i+1, spec.Steps[i]), func(v rolloutView) (bool, error) { return v.atStep(i) })
	if err != nil {
		return res, err
	}
	fmt.Fprintf(a.out(), "status: %s, step %d/%d, splitter %s (applied by the controller at %s)\n",
		v.Phase, i+1, len(spec.Steps), v.splitterText(), v.StepStartedAt.Format("15:04:05.000"))
	var at time.Time
	res.follow, at, err = a.split.follow(ctx, s, newShift(from, s.shares()))
	if err != nil {
		return res, err
	}
	res.took = max(at.Sub(v.StepStartedAt), 0)
	fmt.Fprintf(a.out(), "traffic followed %s %s after the controller applied it\n", s, res.took.Round(time.Millisecond))
	res.sample, err = a.split.t.steady(ctx, s.String()+" sample", 1)
	if err != nil {
		return res, err
	}
	if why := splitUnmet(s, res.sample.totals, a.split.tolerance); why != "" {
		return res, fmt.Errorf("rollout step %s: the %d RPCs after it took effect are off it by more than %g points: %s", s, res.sample.totals.Total, a.split.tolerance, why)
	}
	fmt.Fprintf(a.out(), "checked over the next %d RPCs: %s, within %g points of the step\n", res.sample.totals.Total, shareList(a.split.versions, res.sample.totals), a.split.tolerance)
	return res, nil
}

// await polls the rollout's status until done says so, failing on done's
// error or after a.converge.
func (a *rolloutAct) await(ctx context.Context, what string, done func(rolloutView) (bool, error)) (rolloutView, error) {
	began := time.Now()
	var v rolloutView
	for {
		var err error
		if v, err = a.cli.status(ctx, splitService); err != nil {
			return v, err
		}
		ok, err := done(v)
		if err != nil {
			return v, err
		}
		if ok {
			return v, nil
		}
		if time.Since(began) > a.converge {
			return v, fmt.Errorf("waited %s for %s: phase %s, step %d, splitter %s", a.converge, what, v.Phase, v.Step+1, v.splitterText())
		}
		if err := pause(ctx, statusPoll); err != nil {
			return v, err
		}
	}
}

// failCanary turns the gRPC health of every spec.To backend to
// NOT_SERVING and returns when it did.
func (a *rolloutAct) failCanary(spec rollout.Spec) (time.Time, error) {
	var ids []string
	for id, version := range a.split.t.versionOf {
		if version == spec.To {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return time.Time{}, fmt.Errorf("no backend of version %s to fail", spec.To)
	}
	heading(a.out(), fmt.Sprintf("failing the health check of every %s instance (%s)", spec.To, strings.Join(slices.Sorted(slices.Values(ids)), ", ")))
	failed := time.Now()
	for _, id := range ids {
		b, ok := a.world.backends[id]
		if !ok {
			return failed, fmt.Errorf("backend %s not started", id)
		}
		b.SetServing(false)
	}
	return failed, nil
}

// summary prints, per step, how long it took to show in traffic and what
// its checked sample measured.
func (a *rolloutAct) summary(title string, results []stepResult) {
	heading(a.out(), title)
	all := newRound()
	for _, r := range results {
		all.add(r.follow.totals)
		all.add(r.sample.totals)
		fmt.Fprintf(a.out(), "  %-18s in traffic after %6s, checked %5d RPCs: %s (%d errors on the way)\n",
			r.step, r.took.Round(time.Millisecond), r.sample.totals.Total, shareList(a.split.versions, r.sample.totals), r.follow.totals.Failed)
	}
	fmt.Fprintln(a.out(), "  "+errorVerdict(all))
}

// out is where the act prints.
func (a *rolloutAct) out() io.Writer { return a.split.t.out }
