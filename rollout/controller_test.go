package rollout

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// controllerFixture is a Consul holding web with subsets v1 (web-1) and v2
// (web-2, the canary), a Controller on a clock the test moves, and its
// metrics registry.
type controllerFixture struct {
	client *api.Client
	ctl    *Controller
	store  *Store
	reg    *prometheus.Registry
	now    time.Time
	fleet  *fleetDouble
}

// fleetDouble stands for the proxies, which these tests do not run (the
// end-to-end tests in cmd/switchyard do): every proxy accepts the routes
// of any step unless told otherwise, and reports what the test sets.
type fleetDouble struct {
	acks  AckReport
	loads map[string]LoadReport
}

func (d *fleetDouble) Acks(context.Context, Spec, int) (AckReport, error) { return d.acks, nil }

func (d *fleetDouble) Load(context.Context, Spec) (map[string]LoadReport, error) {
	return d.loads, nil
}

func newControllerFixture(t *testing.T) *controllerFixture {
	t.Helper()
	f := &controllerFixture{client: startConsul(t), reg: prometheus.NewRegistry(), now: t0,
		fleet: &fleetDouble{acks: AckReport{Routing: 2, Accepted: 2}}}
	f.store = NewStore(f.client)
	for _, inst := range []struct{ id, version string }{{"web-1", "v1"}, {"web-2", "v2"}} {
		err := f.client.Agent().ServiceRegister(&api.AgentServiceRegistration{
			ID: inst.id, Name: "web", Port: 9000, Meta: map[string]string{"version": inst.version},
			Check: &api.AgentServiceCheck{CheckID: "ttl:" + inst.id, TTL: "10m", Status: api.HealthPassing},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range []api.ConfigEntry{
		&api.ServiceConfigEntry{Kind: api.ServiceDefaults, Name: "web", Protocol: "http"},
		&api.ServiceResolverConfigEntry{Kind: api.ServiceResolver, Name: "web", Subsets: map[string]api.ServiceResolverSubset{
			"v1": {Filter: "Service.Meta.version == v1"}, "v2": {Filter: "Service.Meta.version == v2"}}},
	} {
		if _, _, err := f.client.ConfigEntries().Set(e, nil); err != nil {
			t.Fatal(err)
		}
	}
	ctl, err := NewController(ControllerConfig{
		Client: f.client, Registerer: f.reg, Now: func() time.Time { return f.now },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Fleet: f.fleet,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.ctl = ctl
	return f
}

// start stores a running rollout of web from v1 to v2 in 10, 50, 100.
func (f *controllerFixture) start(t *testing.T) {
	t.Helper()
	spec := validSpec()
	spec.Webhooks, spec.MaxErrorRate = nil, 0
	if err := f.store.Create(context.Background(), New(spec, f.now, "alice@ops")); err != nil {
		t.Fatal(err)
	}
}

// tick runs one tick and returns the stored state and splitter percentage.
func (f *controllerFixture) tick(t *testing.T) (State, int) {
	t.Helper()
	ctx := context.Background()
	f.ctl.Tick(ctx)
	st, _, err := f.store.Get(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	sp, _, err := ReadSplitter(ctx, f.client, "web")
	if err != nil {
		t.Fatal(err)
	}
	return st, SplitterPercent(st.Spec, sp)
}

// history renders a history as "action:weight" words.
func history(st State) string {
	var out []string
	for _, e := range st.History {
		out = append(out, e.Action+":"+strings.TrimSpace(formatPercent(float64(e.Weight)/100)))
	}
	return strings.Join(out, " ")
}

func TestControllerDrivesToSuccess(t *testing.T) {
	f := newControllerFixture(t)
	f.start(t)
	for _, tt := range []struct {
		advance    time.Duration
		wantPhase  Phase
		wantStep   int
		wantWeight int
	}{
		{0, PhaseRunning, 0, 10},
		{0, PhaseRunning, 0, 10}, // the proxies' acceptance recorded
		{59 * time.Second, PhaseRunning, 0, 10},
		{time.Second, PhaseRunning, 1, 50},
		{0, PhaseRunning, 1, 50},
		{time.Minute, PhaseRunning, 2, 100},
		{0, PhaseRunning, 2, 100},
		{time.Minute, PhaseSucceeded, 2, 100},
		{time.Minute, PhaseSucceeded, 2, 100},
	} {
		f.now = f.now.Add(tt.advance)
		st, weight := f.tick(t)
		if st.Phase != tt.wantPhase || st.Step != tt.wantStep || weight != tt.wantWeight {
			t.Fatalf("at +%s: phase %s step %d splitter %d%%, want %s step %d splitter %d%%",
				f.now.Sub(t0), st.Phase, st.Step, weight, tt.wantPhase, tt.wantStep, tt.wantWeight)
		}
	}
	st, _ := f.tick(t)
	if got, want := history(st), "start:0% step:10% step:50% step:100% succeed:100%"; got != want {
		t.Errorf("history %s, want %s", got, want)
	}
}

func TestControllerAbortsOnUnhealthyCanary(t *testing.T) {
	f := newControllerFixture(t)
	f.start(t)
	if st, w := f.tick(t); st.Step != 0 || w != 10 {
		t.Fatalf("first tick: step %d splitter %d%%", st.Step, w)
	}
	if err := f.client.Agent().UpdateTTL("ttl:web-2", "down", api.HealthCritical); err != nil {
		t.Fatal(err)
	}
	st, w := f.tick(t)
	if st.Phase != PhaseAborted || w != 0 {
		t.Fatalf("after the canary failed: phase %s splitter %d%%, want aborted at 0%%", st.Phase, w)
	}
	last := st.History[len(st.History)-1]
	if last.Actor != Actor || last.Reason != "canary v2: 0 of 1 instances passing, want ≥ 100%" {
		t.Errorf("abort event %+v", last)
	}
	if got := testutil.ToFloat64(f.ctl.aborts.WithLabelValues("web")); got != 1 {
		t.Errorf("aborts counter %v, want 1", got)
	}
}

func TestControllerPausesOnHandEdit(t *testing.T) {
	f := newControllerFixture(t)
	f.start(t)
	f.tick(t)
	edited := &api.ServiceSplitterConfigEntry{Kind: api.ServiceSplitter, Name: "web", Splits: []api.ServiceSplit{
		{Weight: 70, ServiceSubset: "v1"}, {Weight: 30, ServiceSubset: "v2"}}}
	if _, _, err := f.client.ConfigEntries().Set(edited, nil); err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(time.Hour)
	st, w := f.tick(t)
	if st.Phase != PhasePaused || st.PauseReason != EditedReason || w != 30 {
		t.Errorf("after a hand edit: phase %s reason %q splitter %d%%, want paused, %q, the edit's 30%%", st.Phase, st.PauseReason, w, EditedReason)
	}
}

// TestControllerResumesWithoutRepeating stands for a controller that wrote
// step 1's splitter and stopped before recording it: the next tick records
// step 1 without writing the splitter again, and never records it twice.
func TestControllerResumesWithoutRepeating(t *testing.T) {
	f := newControllerFixture(t)
	f.start(t)
	f.tick(t)
	ctx := context.Background()
	st, _, _ := f.store.Get(ctx, "web")
	if err := WriteSplitter(ctx, f.client, st.Spec, 50); err != nil {
		t.Fatal(err)
	}
	_, before, err := ReadSplitter(ctx, f.client, "web")
	if err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(time.Second)
	for range 2 {
		st, _ = f.tick(t)
	}
	_, after, err := ReadSplitter(ctx, f.client, "web")
	if err != nil {
		t.Fatal(err)
	}
	if st.Step != 1 || !st.StepStartedAt.Equal(f.now) || after != before {
		t.Errorf("step %d started %s, splitter index %d → %d; want step 1 recorded at %s and the splitter untouched", st.Step, st.StepStartedAt, before, after, f.now)
	}
	if got, want := history(st), "start:0% step:10% step:50%"; got != want {
		t.Errorf("history %s, want %s", got, want)
	}
}

// TestControllerAbortsOnFailingWebhook checks the webhook gate: each tick
// of a running rollout POSTs its state to every webhook; one answering 500
// aborts it back to 100 % --from with the status in the reason.
func TestControllerAbortsOnFailingWebhook(t *testing.T) {
	var fail atomic.Bool
	var calls atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var st State
		if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&st) != nil || st.Spec.Service != "web" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		calls.Add(1)
		if fail.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(hook.Close)
	f := newControllerFixture(t)
	spec := validSpec()
	spec.Webhooks, spec.MaxErrorRate = []string{hook.URL}, 0
	if err := f.store.Create(context.Background(), New(spec, f.now, "alice@ops")); err != nil {
		t.Fatal(err)
	}
	if st, w := f.tick(t); st.Step != 0 || w != 10 || calls.Load() != 1 {
		t.Fatalf("first tick: step %d splitter %d%%, webhook calls %d; want step 0 at 10%% after one call", st.Step, w, calls.Load())
	}
	fail.Store(true)
	st, w := f.tick(t)
	if st.Phase != PhaseAborted || w != 0 {
		t.Fatalf("after the webhook failed: phase %s splitter %d%%, want aborted at 0%%", st.Phase, w)
	}
	if last := st.History[len(st.History)-1]; last.Reason != "webhook "+hook.URL+" answered 500 Internal Server Error" {
		t.Errorf("abort reason %q", last.Reason)
	}
}
