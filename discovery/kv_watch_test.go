package discovery

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/consul/api"

	"github.com/switchyard/switchyard/internal/consulagent"
)

func TestKVEntriesFrom(t *testing.T) {
	pairs := api.KVPairs{
		{Key: FleetsPrefix, ModifyIndex: 1},                                  // the prefix itself
		{Key: FleetsPrefix + "edge", Value: []byte("e"), ModifyIndex: 7},     // an input
		{Key: FleetsPrefix + "a/b", Value: []byte("folder"), ModifyIndex: 8}, // under a folder
		{Key: FleetsPrefix + "a/", ModifyIndex: 9},                           // a folder
		{Key: "switchyard/fleetsX", Value: []byte("x"), ModifyIndex: 10},     // not under the prefix
	}
	want := map[string]KVEntry{"edge": {Value: []byte("e"), ModifyIndex: 7}}
	if diff := cmp.Diff(want, kvEntriesFrom(FleetsPrefix, pairs)); diff != "" {
		t.Errorf("kvEntriesFrom (-want +got):\n%s", diff)
	}
	if got := kvEntriesFrom(CertsPrefix, nil); got == nil || len(got) != 0 {
		t.Errorf("kvEntriesFrom(nothing stored) = %#v, want an empty, non-nil map", got)
	}
}

// TestWithPrefix checks that fleet inputs are shared while unchanged and
// replaced, never modified, when a prefix changes.
func TestWithPrefix(t *testing.T) {
	edge := map[string]KVEntry{"edge": {Value: []byte("v1"), ModifyIndex: 5}}
	first := withPrefix(nil, FleetsPrefix, map[string]KVEntry{})
	if first == nil || first.Profiles == nil || first.Certs == nil {
		t.Fatalf("first answer = %+v, want both maps set", first)
	}
	if got := withPrefix(first, CertsPrefix, map[string]KVEntry{}); got != first {
		t.Errorf("an unchanged prefix made a new value")
	}
	second := withPrefix(first, FleetsPrefix, edge)
	if second == first || len(first.Profiles) != 0 {
		t.Fatalf("a change reused or modified the value models share: first %+v", first)
	}
	for _, tc := range []struct {
		name string
		from map[string]KVEntry
		same bool
	}{
		{"same keys, values and indexes", map[string]KVEntry{"edge": {Value: []byte("v1"), ModifyIndex: 5}}, true},
		{"same value, new index", map[string]KVEntry{"edge": {Value: []byte("v1"), ModifyIndex: 6}}, false},
		{"new value", map[string]KVEntry{"edge": {Value: []byte("v2"), ModifyIndex: 5}}, false},
		{"key removed", map[string]KVEntry{}, false},
	} {
		if got := withPrefix(second, FleetsPrefix, tc.from); (got == second) != tc.same {
			t.Errorf("%s: same value %v, want %v", tc.name, got == second, tc.same)
		}
	}
	if got := withPrefix(second, CertsPrefix, edge); got == second || !cmp.Equal(got.Profiles, second.Profiles) || !cmp.Equal(got.Certs, edge) {
		t.Errorf("certs change = %+v, want profiles kept and certs replaced", got)
	}
}

func TestCoalesceKeepsNewerFleets(t *testing.T) {
	older := Model{Fleets: &FleetInputs{}, Delta: true}
	newer := Model{Fleets: &FleetInputs{}, Delta: true}
	if got := Coalesce(older, newer); got.Fleets != newer.Fleets {
		t.Errorf("Coalesce kept %p, want newer's %p", got.Fleets, newer.Fleets)
	}
}

// TestFirstModelGatedOnEveryPrefix checks that the first model waits for
// both KV watches, and that a later change of fleet inputs alone sends a
// delta that names no service.
func TestFirstModelGatedOnEveryPrefix(t *testing.T) {
	src := offlineSource(t, Config{})
	ws := newWatchSet(src, "dc1")
	ws.catalogLoaded = true
	for _, kind := range configKinds() {
		ws.applyConfig(configUpdate{kind: kind})
	}
	ws.applyKV(kvUpdate{prefix: FleetsPrefix, entries: map[string]KVEntry{}})
	ws.maybePublish()
	select {
	case m := <-src.Models():
		t.Fatalf("model sent before the certificates watch answered: %+v", m)
	default:
	}
	ws.applyKV(kvUpdate{prefix: CertsPrefix, entries: map[string]KVEntry{}})
	ws.maybePublish()
	first := <-src.Models() // maybePublish sends synchronously or not at all
	if first.Delta || first.Fleets == nil {
		t.Fatalf("first model = %+v, want a full model with fleet inputs", first)
	}
	ws.applyKV(kvUpdate{prefix: CertsPrefix, entries: map[string]KVEntry{}})
	ws.maybePublish()
	select {
	case m := <-src.Models():
		t.Fatalf("model sent for an unchanged answer: %+v", m)
	default:
	}
	site := map[string]KVEntry{"site": {Value: []byte("pem"), ModifyIndex: 3}}
	ws.applyKV(kvUpdate{prefix: CertsPrefix, entries: site})
	ws.maybePublish()
	select {
	case m := <-src.Models():
		if !m.Delta || len(m.Changed) != 0 || m.Fleets == first.Fleets || !cmp.Equal(m.Fleets.Certs, site) {
			t.Fatalf("model after a certificate change = %+v, want a delta naming nothing with the certificate", m)
		}
	default:
		t.Fatal("no model after a certificate change")
	}
}

// fleetsOf returns the model's fleet inputs, failing the test when it has
// none: a ConsulSource always sends them.
func fleetsOf(t *testing.T, m Model) *FleetInputs {
	t.Helper()
	if m.Fleets == nil || m.Fleets.Profiles == nil || m.Fleets.Certs == nil {
		t.Fatalf("model fleet inputs = %+v, want both maps set", m.Fleets)
	}
	return m.Fleets
}

// TestFleetInputsFollowConsul writes, ignores and deletes KV keys and checks
// what reaches the models: changes under the two prefixes make new fleet
// inputs in a delta that names no service; folders and other prefixes are
// not inputs.
func TestFleetInputsFollowConsul(t *testing.T) {
	h := newHarness(t, consulagent.StartT(t), nil)
	kv := h.client.KV()
	put := func(key, value string) {
		t.Helper()
		if _, err := kv.Put(&api.KVPair{Key: key, Value: []byte(value)}, nil); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
	}
	read := func(key string) KVEntry {
		t.Helper()
		p, _, err := kv.Get(key, nil)
		if err != nil || p == nil {
			t.Fatalf("get %s = %v, %v", key, p, err)
		}
		return KVEntry{Value: p.Value, ModifyIndex: p.ModifyIndex}
	}
	h.register("web-1", "web", 8080, api.HealthPassing)
	h.run()

	// (a) Nothing stored: the first model has empty inputs.
	m := h.waitModel("the first model", func(m Model) bool { return slices.Contains(serviceNames(m), "web") })
	if f := fleetsOf(t, m); len(f.Profiles)+len(f.Certs) != 0 {
		t.Fatalf("first model fleet inputs = %+v, want none", f)
	}
	prev := m

	// (b) A profile and a certificate.
	put(FleetsPrefix+"edge", "profile-1")
	put(CertsPrefix+"site", "cert-1")
	want := FleetInputs{
		Profiles: map[string]KVEntry{"edge": read(FleetsPrefix + "edge")},
		Certs:    map[string]KVEntry{"site": read(CertsPrefix + "site")},
	}
	m = h.waitModel("edge and site in the fleet inputs", func(m Model) bool {
		return m.Fleets != nil && len(m.Fleets.Profiles) == 1 && len(m.Fleets.Certs) == 1
	})
	if diff := cmp.Diff(want, *m.Fleets); diff != "" {
		t.Errorf("fleet inputs (-want +got):\n%s", diff)
	}
	checkFleetsDelta(t, "put", prev, m)
	prev = m

	// (d) A key under a folder is not an input; (c) a deleted key is gone.
	// The folder is written first, so the model that drops edge would
	// carry it were it taken.
	put(FleetsPrefix+"a/b", "folder")
	if _, err := kv.Delete(FleetsPrefix+"edge", nil); err != nil {
		t.Fatal(err)
	}
	m = h.waitModel("edge deleted", func(m Model) bool { return m.Fleets != nil && len(m.Fleets.Profiles) == 0 })
	if diff := cmp.Diff(FleetInputs{Profiles: map[string]KVEntry{}, Certs: want.Certs}, *m.Fleets); diff != "" {
		t.Errorf("fleet inputs after delete (-want +got):\n%s", diff)
	}
	checkFleetsDelta(t, "delete", prev, m)
	prev = m

	// (e) A key under another prefix sends no model: the next model sent
	// after it is the one of the fleet key written after it.
	sent := h.src.status.publishCount()
	put("switchyard/rollouts/x", "unrelated")
	put(FleetsPrefix+"after", "marker")
	m = h.waitModel("the marker in the fleet inputs", func(m Model) bool {
		if m.Fleets == nil {
			return false
		}
		_, ok := m.Fleets.Profiles["after"]
		return ok
	})
	if got := h.src.status.publishCount() - sent; got != 1 {
		t.Errorf("%d models sent for an unrelated key and a fleet key, want 1", got)
	}
	checkFleetsDelta(t, "marker", prev, m)
	if !slices.Contains(serviceNames(m), "web") || !cmp.Equal(m.Fleets.Certs, want.Certs) {
		t.Errorf("marker model = %+v, want web and the certificate unchanged", m)
	}
}

// checkFleetsDelta checks that m, sent after prev for a change of fleet
// inputs alone, is a delta naming no service with new inputs, and that
// prev's inputs were left as they were sent.
func checkFleetsDelta(t *testing.T, step string, prev, m Model) {
	t.Helper()
	if !m.Delta || len(m.Changed) != 0 {
		t.Errorf("%s: Changed = %q (delta %v), want a delta naming nothing", step, m.Changed, m.Delta)
	}
	if m.Fleets == prev.Fleets {
		t.Errorf("%s: the model reuses the previous fleet inputs", step)
	}
	if m.Config != prev.Config {
		t.Errorf("%s: config entries changed with the fleet inputs", step)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestFleetInputsWithoutKeyRead gives the source a token that may read the
// catalog but no key, with stored inputs: whether Consul filters the list
// (its default) or refuses it (acl.enable_key_list_policy), the source
// sends its first model with empty inputs instead of failing.
func TestFleetInputsWithoutKeyRead(t *testing.T) {
	for _, tc := range []struct {
		name     string
		hcl      string
		warnings int // "consul denied listing" logs: one per refused prefix
	}{
		{"filtered", aclHCL, 0},
		{"refused", strings.Replace(aclHCL, "enabled = true", "enabled = true\n  enable_key_list_policy = true", 1), kvWatches},
	} {
		t.Run(tc.name, func(t *testing.T) {
			agent := consulagent.StartWithT(t, consulagent.Options{HCL: []string{tc.hcl}})
			admin := tokenClient(t, agent, managementToken)
			waitACLs(t, admin)
			rules := `service_prefix "" { policy = "read" }` + "\n" + `node_prefix "" { policy = "read" }`
			tok := policyToken(t, admin, "catalog-read", rules)
			for _, key := range []string{FleetsPrefix + "edge", CertsPrefix + "site"} {
				if _, err := admin.KV().Put(&api.KVPair{Key: key, Value: []byte("secret")}, nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := admin.Agent().ServiceRegister(&api.AgentServiceRegistration{ID: "web-1", Name: "web", Port: 80}); err != nil {
				t.Fatal(err)
			}
			var logs syncBuffer
			h := newHarness(t, agent, func(c *Config) {
				c.Datacenter = "dc1"
				c.Client = tokenClient(t, agent, tok.SecretID)
				c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
			})
			h.run()
			m := h.waitModel("web in the first model", func(m Model) bool { return slices.Contains(serviceNames(m), "web") })
			if f := fleetsOf(t, m); len(f.Profiles)+len(f.Certs) != 0 {
				t.Errorf("fleet inputs = %+v, want none for a token that may read no key", f)
			}
			if got := strings.Count(logs.String(), "consul denied listing fleet inputs"); got != tc.warnings {
				t.Errorf("%d refusal warnings, want %d:\n%s", got, tc.warnings, logs.String())
			}
		})
	}
}

// TestRefusedKVListIsPolled serves a KV list that Consul refuses three
// times ("Permission denied") and then answers: the watch delivers empty
// inputs once, logs the refusal once, asks again only after each wait
// time, and delivers the key once the token may list it.
func TestRefusedKVListIsPolled(t *testing.T) {
	const waitTime = 50 * time.Millisecond
	var (
		mu       sync.Mutex
		requests []time.Time
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/kv/"+FleetsPrefix {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		requests = append(requests, time.Now())
		n := len(requests)
		mu.Unlock()
		if n <= 3 {
			http.Error(w, `Permission denied: token lacks permission 'key:list' on "switchyard/fleets/"`, http.StatusForbidden)
			return
		}
		w.Header().Set("X-Consul-Index", "7")
		io.WriteString(w, `[{"Key":"switchyard/fleets/edge","Value":"cHJvZmlsZQ==","ModifyIndex":7}]`)
	}))
	defer srv.Close()
	client, err := api.NewClient(&api.Config{Address: srv.Listener.Addr().String(), Scheme: "http"})
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	src, err := NewConsulSource(Config{Client: client, Datacenter: "dc1", WaitTime: waitTime,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ws := newWatchSet(src, "dc1")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- ws.kvWatch(FleetsPrefix).run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run() = %v, want nil after cancel", err)
		}
	}()
	want := []map[string]KVEntry{{}, {"edge": {Value: []byte("profile"), ModifyIndex: 7}}}
	for i, w := range want {
		select {
		case u := <-ws.kvCh:
			if diff := cmp.Diff(w, u.entries); u.prefix != FleetsPrefix || diff != "" {
				t.Fatalf("delivery %d for %s (-want +got):\n%s", i, u.prefix, diff)
			}
		case <-time.After(waitFor):
			t.Fatalf("no delivery %d within %s", i, waitFor)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for i := 1; i < 4; i++ {
		if gap := requests[i].Sub(requests[i-1]); gap < waitTime {
			t.Errorf("request %d came %s after a refusal, want at least the wait time %s", i+1, gap, waitTime)
		}
	}
	if got := strings.Count(logs.String(), "consul denied listing fleet inputs"); got != 1 {
		t.Errorf("%d refusal warnings, want 1:\n%s", got, logs.String())
	}
}
