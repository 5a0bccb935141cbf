package main

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/consul/api"

	"github.com/switchyard/switchyard/rollout"
)

// rolloutCLI runs `switchyard rollout ...` in process against one Consul,
// as one actor.
type rolloutCLI struct {
	consulAddr string
}

// run runs the command and returns its exit code, stdout and stderr.
func (r rolloutCLI) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	full := append([]string{"rollout"}, args...)
	full = append(full, "--consul-addr", r.consulAddr)
	if slices.Contains([]string{"start", "pause", "resume", "promote", "abort"}, args[0]) {
		full = append(full, "--actor", "tester@ci")
	}
	var stdout, stderr bytes.Buffer
	code := execute(context.Background(), full, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// ok runs the command and fails the test unless it exits 0.
func (r rolloutCLI) ok(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := r.run(t, args...)
	if code != 0 {
		t.Fatalf("rollout %v: exit %d: %s", args, code, errOut)
	}
	return out
}

// fails runs the command and fails the test unless it exits with code and
// a one-line message containing want.
func (r rolloutCLI) fails(t *testing.T, code int, want string, args ...string) {
	t.Helper()
	got, _, errOut := r.run(t, args...)
	if got != code || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, want) {
		t.Errorf("rollout %v: exit %d, stderr %q; want exit %d and one line containing %q", args, got, errOut, code, want)
	}
}

// status reads `rollout status -o json`.
func (r rolloutCLI) status(t *testing.T, service string) rolloutStatus {
	t.Helper()
	var st rolloutStatus
	if err := json.Unmarshal([]byte(r.ok(t, "status", service, "-o", "json")), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// setupSubsets registers web with v1 and v2 instances, an http
// service-defaults and a resolver with subsets v1 (the default) and v2.
func setupSubsets(t *testing.T, c *consulFixture) {
	t.Helper()
	c.registerMeta(t, "web", "web-1", 9001, map[string]string{"version": "v1"})
	c.registerMeta(t, "web", "web-2", 9002, map[string]string{"version": "v2"})
	c.setEntry(t, &api.ServiceConfigEntry{Kind: api.ServiceDefaults, Name: "web", Protocol: "http"})
	c.setEntry(t, &api.ServiceResolverConfigEntry{Kind: api.ServiceResolver, Name: "web", DefaultSubset: "v1",
		Subsets: map[string]api.ServiceResolverSubset{
			"v1": {Filter: `Service.Meta.version == v1`},
			"v2": {Filter: `Service.Meta.version == v2`},
		}})
}

// splitterWeights reads web's service-splitter as "subset=weight" pairs.
func splitterWeights(t *testing.T, c *consulFixture) []string {
	t.Helper()
	entry, _, err := c.client.ConfigEntries().Get(api.ServiceSplitter, "web", nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range entry.(*api.ServiceSplitterConfigEntry).Splits {
		out = append(out, s.ServiceSubset+"="+strconv.FormatFloat(float64(s.Weight), 'f', -1, 32))
	}
	return out
}

func TestRolloutCLIEndToEnd(t *testing.T) {
	c := startConsul(t)
	cli := rolloutCLI{consulAddr: c.agent.HTTPAddr}

	cli.fails(t, 1, "unknown service web", "start", "web", "--to", "v2")
	setupSubsets(t, c)
	cli.fails(t, 1, `unknown subset "v3" (--to): the service-resolver of web defines [v1, v2]`, "start", "web", "--to", "v3")
	cli.fails(t, 1, "no rollout of service web", "status", "web")
	if out := cli.ok(t, "list"); !strings.Contains(out, "No rollouts") {
		t.Errorf("empty list: %q", out)
	}

	out := cli.ok(t, "start", "web", "--to", "v2", "--steps", "10,50,100", "--interval", "30s", "--min-healthy", "90%", "--webhook", "http://127.0.0.1:1/hook")
	if !strings.Contains(out, "from v1 to v2") || !strings.Contains(out, "the rollout controller of `switchyard serve` applies its steps") {
		t.Errorf("start said %q", out)
	}
	st := cli.status(t, "web")
	if st.Phase != rollout.PhaseRunning || st.Step != -1 || st.Spec.From != "v1" || st.Spec.MinHealthy != 0.9 || st.Splitter != nil ||
		len(st.History) != 1 || st.History[0].Action != "start" || st.History[0].Actor != "tester@ci" {
		t.Errorf("after start: %+v", st)
	}
	table := cli.ok(t, "status", "web")
	for _, want := range []string{"Phase:                  running", "none applied yet (step -1)", "Splitter (Consul now):  none", "Next:                   the first step, on the controller's next tick"} {
		if !strings.Contains(table, want) {
			t.Errorf("status table lacks %q:\n%s", want, table)
		}
	}

	cli.fails(t, 1, "a rollout is already in progress (phase running, started by tester@ci)", "start", "web", "--to", "v2")
	cli.fails(t, 1, "cannot resume the rollout of web: it is not paused", "resume", "web")
	cli.ok(t, "pause", "web", "--reason", "checking dashboards")
	if st := cli.status(t, "web"); st.Phase != rollout.PhasePaused || st.PauseReason != "checking dashboards" {
		t.Errorf("after pause: phase %s, reason %q", st.Phase, st.PauseReason)
	}
	cli.fails(t, 1, "cannot pause", "pause", "web")
	cli.ok(t, "resume", "web")
	out = cli.ok(t, "promote", "web")
	if !strings.Contains(out, "v1 0%, v2 100%") {
		t.Errorf("promote said %q", out)
	}
	if got := splitterWeights(t, c); !slices.Equal(got, []string{"v1=0", "v2=100"}) {
		t.Errorf("splitter after promote: %v", got)
	}
	st = cli.status(t, "web")
	if st.Phase != rollout.PhaseSucceeded || st.Weight() != 100 || actions(st.State) != "start pause resume promote" {
		t.Errorf("after promote: phase %s, weight %d, history %s", st.Phase, st.Weight(), actions(st.State))
	}
	cli.fails(t, 1, "cannot promote the rollout of web: it is over", "promote", "web")

	// A second rollout replaces the finished one, and is aborted.
	cli.ok(t, "start", "web", "--to", "v2", "--from", "v1")
	cli.ok(t, "abort", "web", "--reason", "bad canary")
	if got := splitterWeights(t, c); !slices.Equal(got, []string{"v1=100", "v2=0"}) {
		t.Errorf("splitter after abort: %v", got)
	}
	st = cli.status(t, "web")
	if st.Phase != rollout.PhaseAborted || actions(st.State) != "start abort" || st.History[1].Reason != "bad canary" {
		t.Errorf("after abort: %+v", st.State)
	}
	cli.fails(t, 1, "cannot abort", "abort", "web")

	list := cli.ok(t, "list")
	if !strings.Contains(list, "web      aborted  v1    v2") {
		t.Errorf("list:\n%s", list)
	}
	var states []rollout.State
	if err := json.Unmarshal([]byte(cli.ok(t, "list", "-o", "json")), &states); err != nil || len(states) != 1 || states[0].Phase != rollout.PhaseAborted {
		t.Errorf("list json: %v %+v", err, states)
	}
}

// actions lists a history's actions.
func actions(st rollout.State) string {
	var out []string
	for _, e := range st.History {
		out = append(out, e.Action)
	}
	return strings.Join(out, " ")
}

func TestRolloutCLIUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"rollout", "start", "web"}, "--to"},
		{[]string{"rollout", "start", "web", "--to", "v2", "--steps", "50,10,100"}, "--steps: steps must be ascending"},
		{[]string{"rollout", "start", "web", "--to", "v2", "--steps", "10,50"}, "--steps: the last step is 50%"},
		{[]string{"rollout", "start", "web", "--to", "v2", "--steps", "ten"}, "--steps"},
		{[]string{"rollout", "start", "web", "--to", "v2", "--interval", "10ms"}, "--interval"},
		{[]string{"rollout", "start", "web", "--to", "v2", "--min-healthy", "120%"}, "--min-healthy"},
		{[]string{"rollout", "start", "web", "--to", "v2", "--max-error-rate", "lots"}, "--max-error-rate"},
		{[]string{"rollout", "start", "web", "--to", "v2", "--webhook", "ftp://x"}, "--webhook"},
		{[]string{"rollout", "start", "web", "--to", "v1", "--from", "v1"}, "--to"},
		{[]string{"rollout", "start", "web/x", "--to", "v2"}, "invalid service name"},
		{[]string{"rollout", "status", "web", "-o", "yaml"}, "--output"},
		{[]string{"rollout", "list", "-o", "yaml"}, "--output"},
		{[]string{"rollout", "pause"}, "accepts 1 arg"},
		{[]string{"rollout", "resume", "web", "--reason", "x"}, "--reason"},
		{[]string{"rollout", "list", "--timeout", "1ms"}, "--timeout"},
		{[]string{"rollout", "abort", "web", "--actor", " "}, "--actor"},
		{[]string{"rollout", "start", "web", "--to", "v2", "--actor", ""}, "--actor"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := execute(context.Background(), tt.args, &stdout, &stderr)
			msg := stderr.String()
			if code != 2 || strings.Count(msg, "\n") != 1 || !strings.Contains(msg, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 and one line containing %q", code, msg, tt.want)
			}
		})
	}
}

func TestRolloutCLIMissingDefaultSubset(t *testing.T) {
	c := startConsul(t)
	setupSubsets(t, c)
	c.setEntry(t, &api.ServiceResolverConfigEntry{Kind: api.ServiceResolver, Name: "web",
		Subsets: map[string]api.ServiceResolverSubset{"v1": {Filter: `Service.Meta.version == v1`}, "v2": {Filter: `Service.Meta.version == v2`}}})
	cli := rolloutCLI{consulAddr: c.agent.HTTPAddr}
	cli.fails(t, 2, "missing --from: the service-resolver of web has no DefaultSubset", "start", "web", "--to", "v2")
	c.deleteEntry(t, api.ServiceResolver, "web")
	cli.fails(t, 1, "service web has no service-resolver", "start", "web", "--to", "v2")
}
