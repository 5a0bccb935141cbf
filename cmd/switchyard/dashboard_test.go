package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// getDashboard sends a GET for path to the dashboard handler and returns
// the response and its body.
func getDashboard(t *testing.T, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	dashboardHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	resp := rec.Result()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// TestDashboardServesPageAndAssets checks that the page and each asset it
// loads are embedded and served with their content types and the page's
// security headers.
func TestDashboardServesPageAndAssets(t *testing.T) {
	for _, tc := range []struct {
		path, contentType string
		contains          []string
	}{
		{"/", "text/html; charset=utf-8", []string{"<title>Switchyard</title>", `src="/dashboard/dashboard.js"`, `href="/dashboard/dashboard.css"`, `id="services"`, `id="proxies"`, `id="fleets"`, `id="certs"`}},
		{"/dashboard/dashboard.js", "text/javascript; charset=utf-8", []string{"/v1/services", "/v1/proxies", "data-service", "data-target", "data-fleet", "data-cert"}},
		{"/dashboard/dashboard.css", "text/css; charset=utf-8", []string{".share", "REJECTED", "tr.fleet.is-rejected"}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp, body := getDashboard(t, tc.path)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200", resp.StatusCode)
			}
			if got := resp.Header.Get("Content-Type"); got != tc.contentType {
				t.Errorf("Content-Type %q, want %q", got, tc.contentType)
			}
			if got := resp.Header.Get("Content-Security-Policy"); !strings.Contains(got, "default-src 'self'") {
				t.Errorf("Content-Security-Policy %q, want default-src 'self'", got)
			}
			if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q, want nosniff", got)
			}
			for _, want := range tc.contains {
				if !strings.Contains(body, want) {
					t.Errorf("body lacks %q", want)
				}
			}
		})
	}
}

// TestDashboardUnknownPaths checks that paths other than the page and its
// assets are 404: the handler sits on the admin mux's catch-all pattern.
func TestDashboardUnknownPaths(t *testing.T) {
	for _, path := range []string{"/nope", "/index.html", "/dashboard/", "/dashboard/index.html", "/dashboard/missing.js", "/dashboard", "/v1/unknown"} {
		resp, _ := getDashboard(t, path)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", path, resp.StatusCode)
		}
	}
}

// TestDashboardOnAdminMux checks the dashboard's place on the admin mux:
// it answers / without shadowing the other endpoints, and unknown paths
// stay 404. Only paths that need no running server are asked.
func TestDashboardOnAdminMux(t *testing.T) {
	h := (&app{}).adminHandler(prometheus.NewRegistry())
	for _, tc := range []struct {
		path string
		code int
		body string
	}{
		{"/", http.StatusOK, "<title>Switchyard</title>"},
		{"/dashboard/dashboard.js", http.StatusOK, "/v1/proxies"},
		{"/healthz", http.StatusOK, "ok"},
		{"/v1/services/web", http.StatusNotFound, "404 page not found"},
		{"/nope", http.StatusNotFound, "404 page not found"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
		if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.body) {
			t.Errorf("GET %s: %d %.60q, want %d containing %q", tc.path, rec.Code, rec.Body.String(), tc.code, tc.body)
		}
	}
}
