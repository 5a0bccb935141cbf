package discovery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultTokenPoll is how often a TokenFile looks at its file: a stat
// every few seconds is cheap, and a refused query has it look at once.
const DefaultTokenPoll = 5 * time.Second

// tokenRecheckGap bounds how often refused queries make a TokenFile look
// at its file between polls: during an outage of permissions every watch
// is refused, and one look a second is enough.
const tokenRecheckGap = time.Second

// TokenFile is the Consul ACL token held in a file, kept current while Run
// runs: the file is looked at every poll interval and after Consul
// refuses a query, and re-read when it changed, so that a rotated token
// is used by the next query of every client built with it, without a
// restart. consul/api reads a token file only when a client is built and
// fixes Config.Token per client; Transport sets the header per request
// instead. The token is a secret: it is never logged.
type TokenFile struct {
	path  string
	poll  time.Duration
	log   *slog.Logger
	token atomic.Pointer[string]
	// recheck asks Run to look at the file before its next poll.
	recheck chan struct{}
	// stat is the file as last read; only Run's goroutine uses it after
	// OpenTokenFile.
	stat os.FileInfo

	// inFlight cancels the requests sent with the token in force, so that
	// a blocking query does not wait out its wait time (minutes) on the
	// old token once the token changed.
	mu       sync.Mutex
	inFlight map[*inFlightRequest]struct{}
}

// ErrTokenChanged ends the queries in flight when the token changes;
// they are sent again, with the new token, at once.
var ErrTokenChanged = errors.New("consul token file changed: query sent again with the new token")

// inFlightRequest is one request sent with the token in force.
type inFlightRequest struct {
	cancel context.CancelCauseFunc
}

// OpenTokenFile reads the token in path, which must exist and hold one,
// and returns a TokenFile that Run keeps current by looking at the file
// every poll (DefaultTokenPoll when zero or less).
func OpenTokenFile(path string, poll time.Duration, log *slog.Logger) (*TokenFile, error) {
	if poll <= 0 {
		poll = DefaultTokenPoll
	}
	if log == nil {
		log = slog.Default()
	}
	f := &TokenFile{path: path, poll: poll, log: log.With("component", "discovery"), recheck: make(chan struct{}, 1)}
	token, st, err := readTokenFile(path)
	if err != nil {
		return nil, err
	}
	f.token.Store(&token)
	f.stat = st
	return f, nil
}

// readTokenFile reads the trimmed token in path and the file's stat.
func readTokenFile(path string) (string, os.FileInfo, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", nil, fmt.Errorf("consul token file: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", nil, fmt.Errorf("consul token file: %w", err)
	}
	token := strings.TrimSpace(string(data))
	if token == "" {
		return "", nil, fmt.Errorf("consul token file %s is empty", path)
	}
	return token, st, nil
}

// Token returns the token in force.
func (f *TokenFile) Token() string {
	return *f.token.Load()
}

// Run looks at the file until ctx is done, then returns nil. A file that
// cannot be read, or is empty (a rotation half done), is logged and the
// token in force stays.
func (f *TokenFile) Run(ctx context.Context) error {
	tick := time.NewTicker(f.poll)
	defer tick.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-f.recheck:
			if time.Since(last) < tokenRecheckGap {
				continue
			}
		}
		last = time.Now()
		f.check()
	}
}

// check re-reads the file when its stat differs from the last read's.
func (f *TokenFile) check() {
	st, err := os.Stat(f.path)
	if err == nil && f.stat != nil && os.SameFile(st, f.stat) && st.ModTime().Equal(f.stat.ModTime()) && st.Size() == f.stat.Size() {
		return
	}
	token, st, err := readTokenFile(f.path)
	if err != nil {
		f.log.Warn("cannot read the consul token file; keeping the token in force", "path", f.path, "error", err)
		return
	}
	f.stat = st
	if token == f.Token() {
		return
	}
	f.token.Store(&token)
	n := f.cancelInFlight()
	f.log.Info("consul token file changed; queries use the new token", "path", f.path, "queries_resent", n)
}

// track records a request in flight.
func (f *TokenFile) track(r *inFlightRequest) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.inFlight == nil {
		f.inFlight = map[*inFlightRequest]struct{}{}
	}
	f.inFlight[r] = struct{}{}
}

// untrack forgets a request that ended.
func (f *TokenFile) untrack(r *inFlightRequest) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.inFlight, r)
}

// cancelInFlight ends every request in flight with ErrTokenChanged and
// returns how many there were.
func (f *TokenFile) cancelInFlight() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	for r := range f.inFlight {
		r.cancel(ErrTokenChanged)
	}
	n := len(f.inFlight)
	clear(f.inFlight)
	return n
}

// askRecheck has Run look at the file soon, without waiting for it.
func (f *TokenFile) askRecheck() {
	select {
	case f.recheck <- struct{}{}:
	default:
	}
}

// Transport returns base with the token in force set on every request.
// A request Consul refuses (401, 403) has the file looked at again, in
// case it was rotated since the last poll.
func (f *TokenFile) Transport(base http.RoundTripper) http.RoundTripper {
	return &tokenTransport{base: base, file: f}
}

// tokenTransport sets X-Consul-Token from a TokenFile.
type tokenTransport struct {
	base http.RoundTripper
	file *TokenFile
}

// RoundTrip sends a copy of req that carries the token in force. Until
// its body is closed the request is ended with ErrTokenChanged if the
// token changes.
func (t *tokenTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	flight := &inFlightRequest{cancel: cancel}
	t.file.track(flight)
	done := func() {
		t.file.untrack(flight)
		cancel(nil)
	}
	r := req.Clone(ctx)
	r.Header.Set("X-Consul-Token", t.file.Token())
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		done()
		if errors.Is(context.Cause(ctx), ErrTokenChanged) {
			return nil, fmt.Errorf("%w (%w)", ErrTokenChanged, err)
		}
		return nil, err
	}
	if resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized {
		t.file.askRecheck()
	}
	resp.Body = &trackedBody{ReadCloser: resp.Body, done: done}
	return resp, nil
}

// trackedBody ends its request's tracking when it is closed.
type trackedBody struct {
	io.ReadCloser
	once sync.Once
	done func()
}

// Close closes the body and forgets the request.
func (b *trackedBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.done)
	return err
}
