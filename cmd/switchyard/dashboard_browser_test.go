package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/hashicorp/consul/api"

	"github.com/switchyard/switchyard/internal/simenvoy"
	"github.com/switchyard/switchyard/snapshot"
)

// chromiumPath is where Debian's chromium package installs the browser;
// `make browser` (a step of `make test`) installs it when it is missing.
const chromiumPath = "/usr/bin/chromium"

// browserTimeout bounds each wait on the page; the whole browser session
// is bounded by browserSessionTimeout.
const (
	browserTimeout        = 30 * time.Second
	browserSessionTimeout = 4 * time.Minute
)

// edsRefusal is the error the simulated Envoy NACKs every EDS response
// with, which the dashboard must show.
const edsRefusal = "simulated refusal: endpoints not applied by test"

// startBrowser starts headless Chromium and returns a context for its
// one tab. The browser stops when the test ends.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the dashboard's browser test needs headless Chromium at %s: run `make browser` "+
			"(installs Debian's chromium package with apt-get): %v", chromiumPath, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.WindowSize(1400, 1000))
	// The session's deadline is the parent of the browser itself: a first
	// action run under a shorter-lived context would tie the browser's
	// lifetime to it.
	session, cancelSession := context.WithTimeout(context.Background(), browserSessionTimeout)
	alloc, cancelAlloc := chromedp.NewExecAllocator(session, opts...)
	ctx, cancelTab := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		cancelSession()
	})
	start := time.Now()
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	t.Logf("headless Chromium started in %s", time.Since(start).Round(time.Millisecond))
	return ctx
}

// waitPage waits until the JavaScript expression cond holds on the page,
// failing the test with the page's text after browserTimeout.
func waitPage(t *testing.T, ctx context.Context, what, cond string) {
	t.Helper()
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, browserTimeout)
	defer cancel()
	poll := chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(browserTimeout))
	if err := chromedp.Do(wctx, poll); err != nil {
		t.Fatalf("dashboard: %s: not shown within %s: %v\npage text:\n%s", what, browserTimeout, err, pageText(ctx))
	}
	t.Logf("dashboard shows %s after %s", what, time.Since(start).Round(time.Millisecond))
}

// pageText returns the page's visible text, for failure messages.
func pageText(ctx context.Context) string {
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	text, err := chromedp.Run(tctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		return fmt.Sprintf("(unreadable: %v)", err)
	}
	return text
}

// jsHas is a JavaScript expression that holds when selector matches an
// element whose text contains text ("" for any element).
func jsHas(selector, text string) string {
	return fmt.Sprintf(`Array.from(document.querySelectorAll(%q)).some((e) => e.textContent.includes(%q))`, selector, text)
}

// jsShare is a JavaScript expression that holds when web's default route
// shows target's share as percent ("80%").
func jsShare(target, percent string) string {
	return fmt.Sprintf(`(() => { const e = document.querySelector('[data-service="web"] .route[data-match="default"] .share[data-target=%q] .percent'); return e !== null && e.textContent === %q; })()`, target, percent)
}

// rejectEDS NACKs every endpoints response, so the proxy shows REJECTED.
func rejectEDS(resp *discoveryv3.DiscoveryResponse) error {
	if resp.GetTypeUrl() == resourcev3.EndpointType {
		return errors.New(edsRefusal)
	}
	return nil
}

// TestDashboardBrowser drives the dashboard in headless Chromium against a
// real Consul and Switchyard: it shows service web with its instances and
// health, the 80/20 split between web's subsets as bars, a simulated Envoy
// that rejects every EDS response as REJECTED with its error text, a
// failing instance, then follows a rewrite of the split to 50/50 and a
// router Switchyard rejects, without a reload. It saves a full-page
// screenshot (see artifactsDir).
func TestDashboardBrowser(t *testing.T) {
	f := startL7(t)
	f.c.setEntry(t, webSplit(80, 20))
	f.c.setHealth(t, "other-2", api.HealthCritical)
	envoy, err := simenvoy.Start(context.Background(), f.sy.app.XDSAddr(), simenvoy.Config{NodeID: "edge-1", Cluster: "edge", Reject: rejectEDS})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(envoy.Close)

	ctx := startBrowser(t)
	url := "http://" + f.sy.app.AdminAddr() + "/"
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	waitPage(t, ctx, "service web", jsHas(`[data-service="web"] h3`, "web"))
	waitPage(t, ctx, "web's instances passing", `document.querySelectorAll('[data-service="web"] tr.instance[data-health="passing"]').length === 3`)
	waitPage(t, ctx, "other-2 critical", jsHas(`[data-service="other"] tr.instance[data-instance="other-2"][data-health="critical"] .health`, "critical"))
	waitPage(t, ctx, "web's subsets", jsHas(`[data-service="web"] .subset[data-subset="v2"] .subset-instances`, "web-3"))
	waitPage(t, ctx, "the 80/20 split", jsShare("web/v1", "80%")+" && "+jsShare("web/v2", "20%"))
	waitPage(t, ctx, "edge-1 REJECTED", jsHas(`tr.proxy[data-proxy="edge-1"][data-state="REJECTED"] .type[data-type="EDS"][data-state="REJECTED"]`, "REJECTED"))
	waitPage(t, ctx, "edge-1's EDS error text", jsHas(`tr.rejection[data-proxy="edge-1"][data-type="EDS"] .rejection-error`, edsRefusal))
	waitPage(t, ctx, "the gRPC client SYNCED", jsHas(`tr.proxy[data-proxy="client-1"][data-kind="grpc"][data-state="SYNCED"]`, "client-1"))

	start := time.Now()
	f.c.setEntry(t, webSplit(50, 50))
	waitPage(t, ctx, "the 50/50 split, live", jsShare("web/v1", "50%")+" && "+jsShare("web/v2", "50%"))
	t.Logf("the page followed the split rewrite %s after the write", time.Since(start).Round(time.Millisecond))

	// Consul accepts this router; Switchyard rejects it and keeps the
	// 50/50 split in force.
	f.c.setEntry(t, webRouter(httpRoute(api.ServiceRouteHTTPMatch{PathRegex: "/x{2000}"}, api.ServiceRouteDestination{ServiceSubset: "v1"})))
	waitPage(t, ctx, "web's rejected router", jsHas(`[data-service="web"] [data-rejected]`, `service-router "web"`))
	waitPage(t, ctx, "the 50/50 split still in force", jsShare("web/v1", "50%")+" && "+jsShare("web/v2", "50%"))

	saveScreenshot(t, ctx, "dashboard.png")
}

// fleetRefusal is why the fake /status says edge's stored profile is
// rejected.
const fleetRefusal = "listeners[1].port: 70000 is not a port (1–65535)"

// TestDashboardFleetsBrowser drives the dashboard in headless Chromium
// against a fake admin server whose /status reports a fleet whose stored
// profile is rejected with a good one in force, one rejected with none in
// force, a healthy one, and a valid and an expired, bad certificate: the
// Fleets panel must show each, the rejections and errors highlighted as a
// proxy's rejection is. It saves a full-page screenshot.
func TestDashboardFleetsBrowser(t *testing.T) {
	now := time.Now()
	url := fakeAdmin(t, adminStatus{
		Ready: true,
		Fleets: map[string]snapshot.FleetStatus{
			"edge":     {Index: 42, Rejected: fleetRefusal, RejectedIndex: 57, Services: 12, Clusters: 12, Secrets: []string{"site-a", "site-b"}},
			"canary":   {Rejected: `certificate "site-d": no key switchyard/certs/site-d in Consul KV`, RejectedIndex: 61},
			"internal": {Index: 7, Services: 1, Clusters: 1},
		},
		Certs: map[string]snapshot.CertStatus{
			"site-a": {Index: 30, NotAfter: now.Add(60 * 24 * time.Hour), Names: []string{"a.example.com"}},
			"site-b": {Index: 31, NotAfter: now.Add(-24 * time.Hour), Names: []string{"b.example.com"},
				Error: "switchyard/certs/site-b (index 58): certificate and key: tls: private key does not match public key"},
		},
	})
	ctx := startBrowser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	waitPage(t, ctx, "the Fleets panel", `!document.getElementById('fleets-section').hidden`)
	waitPage(t, ctx, "edge rejected", jsHas(`tr.fleet.is-rejected[data-fleet="edge"][data-rejected][data-index="42"]`, "site-a, site-b"))
	waitPage(t, ctx, "why edge's profile is rejected", jsHas(`tr.rejection[data-fleet="edge"][data-problem="rejected"]`, "Rejected (index 57), last good profile in force: "+fleetRefusal))
	waitPage(t, ctx, "canary rejected with no profile in force", jsHas(`tr.rejection[data-fleet="canary"][data-problem="rejected"] .rejection-error`, `certificate "site-d"`)+
		" && "+jsHas(`tr.fleet.is-rejected[data-fleet="canary"][data-index="0"]`, "none in force"))
	waitPage(t, ctx, "internal not rejected", `document.querySelector('tr.fleet[data-fleet="internal"]:not([data-rejected]):not(.is-rejected)') !== null && document.querySelector('tr.rejection[data-fleet="internal"]') === null`)
	waitPage(t, ctx, "site-a valid", jsHas(`tr.cert[data-cert="site-a"]:not([data-expired]):not([data-error]) .expiry`, now.Add(60*24*time.Hour).UTC().Format(time.DateOnly)))
	waitPage(t, ctx, "site-b expired, with its error", jsHas(`tr.cert.has-error[data-cert="site-b"][data-expired] .expiry.expired`, "EXPIRED")+
		" && "+jsHas(`tr.rejection[data-cert="site-b"] .rejection-error`, "private key does not match public key"))
	waitPage(t, ctx, "the fleets in the summary", jsHas(`#summary`, "3 fleets (2 rejected)"))
	saveScreenshot(t, ctx, "dashboard_fleets.png")
}

// fakeAdmin serves the dashboard beside fixed answers: no service, no
// proxy, and status as /status. It returns the page's URL.
func fakeAdmin(t *testing.T, status adminStatus) string {
	t.Helper()
	answer := func(v any) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			if err := json.NewEncoder(w).Encode(v); err != nil {
				t.Errorf("fake admin: %v", err)
			}
		}
	}
	mux := http.NewServeMux()
	mux.Handle("GET /", dashboardHandler())
	mux.Handle("GET /v1/services", answer([]any{}))
	mux.Handle("GET /v1/proxies", answer([]any{}))
	mux.Handle("GET /status", answer(status))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

// saveScreenshot writes a full-page PNG of the page to artifactsDir.
func saveScreenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, browserTimeout)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dir := artifactsDir(t)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("dashboard screenshot: %s (%d bytes)", path, len(png))
}

// artifactsDir is where tests leave files for people to look at:
// $SWITCHYARD_ARTIFACTS if set, else bin/artifacts in the repository
// (bin/ is ignored by git).
func artifactsDir(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("SWITCHYARD_ARTIFACTS"); dir != "" {
		return dir
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "bin", "artifacts")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}
