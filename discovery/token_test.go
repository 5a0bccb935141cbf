package discovery

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/switchyard/switchyard/internal/consulagent"
)

// writeToken replaces the token file at path the way rotation tools do:
// a new file renamed over the old one.
func writeToken(t *testing.T, path, token string) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// quietLog discards a test's logs.
func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestOpenTokenFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name     string
		contents *string
		want     string
		wantErr  bool
	}{
		{name: "missing", contents: nil, wantErr: true},
		{name: "empty", contents: ptr("  \n"), wantErr: true},
		{name: "trailing newline", contents: ptr("secret-1\n"), want: "secret-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			if tc.contents != nil {
				writeToken(t, path, *tc.contents)
			}
			f, err := OpenTokenFile(path, time.Hour, quietLog())
			if tc.wantErr {
				if err == nil {
					t.Fatalf("OpenTokenFile() = %q, want an error", f.Token())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Token(); got != tc.want {
				t.Fatalf("Token() = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestTokenFileCheck replaces, empties and removes the file: a new token
// is taken, an empty or missing file leaves the one in force.
func TestTokenFileCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	writeToken(t, path, "first")
	f, err := OpenTokenFile(path, time.Hour, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		name  string
		write func()
		want  string
	}{
		{name: "replaced", write: func() { writeToken(t, path, "second\n") }, want: "second"},
		{name: "emptied", write: func() { writeToken(t, path, "") }, want: "second"},
		{name: "removed", write: func() { os.Remove(path) }, want: "second"},
		{name: "back", write: func() { writeToken(t, path, "third") }, want: "third"},
	} {
		step.write()
		f.check()
		if got := f.Token(); got != step.want {
			t.Fatalf("%s: Token() = %q, want %q", step.name, got, step.want)
		}
	}
}

// tokenRecorder is a fake Consul that records the token of each request
// and refuses the token "revoked".
type tokenRecorder struct {
	mu   sync.Mutex
	seen []string
}

func (r *tokenRecorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	tok := req.Header.Get("X-Consul-Token")
	r.mu.Lock()
	r.seen = append(r.seen, tok)
	r.mu.Unlock()
	if tok == "revoked" {
		http.Error(w, "ACL not found", http.StatusForbidden)
		return
	}
	w.Header().Set("X-Consul-Index", "1")
	io.WriteString(w, `{"web":[]}`)
}

func (r *tokenRecorder) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[len(r.seen)-1]
}

// TestTokenTransport checks that a client built with a TokenFile sends
// the file's token, not CONSUL_HTTP_TOKEN's, and that a refused query
// has the file looked at again at once, without waiting for the poll.
func TestTokenTransport(t *testing.T) {
	t.Setenv(api.HTTPTokenEnvName, "from-the-environment")
	rec := &tokenRecorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "token")
	writeToken(t, path, "revoked")
	f, err := OpenTokenFile(path, time.Hour, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	defer func() { cancel(); <-done }()
	client, err := NewClient(ClientOptions{Address: srv.Listener.Addr().String(), Tokens: f})
	if err != nil {
		t.Fatal(err)
	}
	writeToken(t, path, "rotated")
	if _, _, err := client.Catalog().Services(nil); asPermissionError("/v1/catalog/services", err) == nil {
		t.Fatalf("query with the revoked token: %v, want a refusal", err)
	}
	if got := rec.last(); got != "revoked" {
		t.Fatalf("first query carried %q, want the file's token", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for f.Token() != "rotated" {
		if time.Now().After(deadline) {
			t.Fatal("the refusal did not have the rotated file read (the poll is an hour)")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, _, err := client.Catalog().Services(nil); err != nil {
		t.Fatal(err)
	}
	if got := rec.last(); got != "rotated" {
		t.Fatalf("query after the rotation carried %q, want %q", got, "rotated")
	}
}

// TestACLGuard feeds one watch's answers to its guard.
func TestACLGuard(t *testing.T) {
	type answer struct {
		n        int
		filtered bool
		wantErr  bool
	}
	for _, tc := range []struct {
		name    string
		answers []answer
	}{
		{name: "unfiltered catalog shrinks", answers: []answer{{5, false, false}, {3, false, false}}},
		{name: "scoped token, entries come and go", answers: []answer{{5, true, false}, {2, true, false}, {4, true, false}}},
		{name: "token loses permissions", answers: []answer{{5, false, false}, {1, true, true}, {1, true, true}, {5, false, false}}},
		{name: "a hidden service appears", answers: []answer{{5, false, false}, {5, true, false}, {6, true, false}}},
		{name: "first answer is filtered", answers: []answer{{1, true, false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var g aclGuard
			for i, a := range tc.answers {
				err := g.check("/v1/catalog/services", a.n, &api.QueryMeta{ResultsFilteredByACLs: a.filtered})
				if (err != nil) != a.wantErr {
					t.Fatalf("answer %d (%d, filtered %v): error %v, want error %v", i, a.n, a.filtered, err, a.wantErr)
				}
			}
		})
	}
}

// TestNarrowedTokenKeepsTheCatalog runs a source on a token file against
// an agent with ACLs on. The file is replaced by a token that may read
// web only: Consul's answers are now filtered and hold less, which is an
// error, not services leaving; the model keeps api. The first token back
// brings the changes made meanwhile.
func TestNarrowedTokenKeepsTheCatalog(t *testing.T) {
	agent := consulagent.StartWithT(t, consulagent.Options{HCL: []string{aclHCL}})
	admin := tokenClient(t, agent, managementToken)
	waitACLs(t, admin)
	all := policyToken(t, admin, "read-all", `service_prefix "" { policy = "read" }`+"\n"+`node_prefix "" { policy = "read" }`)
	webOnly := policyToken(t, admin, "web-only", `service "web" { policy = "read" }`+"\n"+`node_prefix "" { policy = "read" }`)
	for _, name := range []string{"web", "api"} {
		if err := admin.Agent().ServiceRegister(&api.AgentServiceRegistration{ID: name + "-1", Name: name, Port: 80}); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "token")
	writeToken(t, path, all.SecretID)
	tokens, err := OpenTokenFile(path, time.Hour, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	client, err := NewClient(ClientOptions{Address: agent.HTTPAddr, Tokens: tokens})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, agent, func(c *Config) {
		c.Datacenter = "dc1"
		c.Client = client
		c.MaxBackoff = 500 * time.Millisecond
	})
	h.run()
	h.waitModel("web and api", func(m Model) bool {
		return slices.Contains(serviceNames(m), "web") && slices.Contains(serviceNames(m), "api")
	})
	sent := h.src.status.publishCount()

	writeToken(t, path, webOnly.SecretID)
	tokens.check()
	// Wake the catalog watch with a new name the narrowed token cannot see.
	if err := admin.Agent().ServiceRegister(&api.AgentServiceRegistration{ID: "db-1", Name: "db", Port: 81}); err != nil {
		t.Fatal(err)
	}
	h.eventually("the narrowed view is an error", func() bool {
		return strings.Contains(h.src.Status().LastError, "lost permissions")
	})
	if got := h.src.status.publishCount(); got != sent {
		t.Errorf("%d models sent under the narrowed token, want none", got-sent)
	}

	writeToken(t, path, all.SecretID)
	tokens.check()
	h.waitModel("db after the token came back", func(m Model) bool {
		names := serviceNames(m)
		return slices.Contains(names, "web") && slices.Contains(names, "api") && slices.Contains(names, "db")
	})
}

// TestTokenChangeEndsQueriesInFlight holds a blocking query open on the
// old token: changing the token ends it with ErrTokenChanged at once,
// rather than after its wait time, so it is sent again with the new one.
func TestTokenChangeEndsQueriesInFlight(t *testing.T) {
	held := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		held <- struct{}{}
		<-r.Context().Done()
	}))
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "token")
	writeToken(t, path, "old")
	f, err := OpenTokenFile(path, time.Hour, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	client, err := NewClient(ClientOptions{Address: srv.Listener.Addr().String(), Tokens: f})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, _, err := client.Catalog().Services(&api.QueryOptions{WaitIndex: 5, WaitTime: time.Minute})
		errc <- err
	}()
	<-held
	writeToken(t, path, "new")
	f.check()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrTokenChanged) {
			t.Fatalf("query in flight ended with %v, want ErrTokenChanged", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the query in flight was not ended by the token change")
	}
	f.mu.Lock()
	n := len(f.inFlight)
	f.mu.Unlock()
	if n != 0 {
		t.Errorf("%d requests still tracked", n)
	}
}
