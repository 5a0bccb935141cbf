package main

import (
	"embed"
	"net/http"
	"strings"
)

// dashboardFiles holds the dashboard's page and assets, so that the binary
// serves them with no files beside it.
//
//go:embed dashboard
var dashboardFiles embed.FS

// dashboardCSP lets the page load only its own assets and fetch only its
// own origin's JSON: it has no inline script and no third-party content.
const dashboardCSP = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// dashboardHandler serves the dashboard: the page at / and its assets
// under /dashboard/. Anything else is 404, so the handler can sit on the
// admin mux's catch-all pattern.
func dashboardHandler() http.Handler {
	// The embedded paths start with dashboard/, as the assets' URLs do.
	files := http.FileServerFS(dashboardFiles)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", dashboardCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		// The assets change with the binary; revalidating costs little on
		// an operator's loopback connection.
		h.Set("Cache-Control", "no-cache")
		switch {
		case r.URL.Path == "/":
			http.ServeFileFS(w, r, dashboardFiles, "dashboard/index.html")
		case dashboardAsset(r.URL.Path):
			files.ServeHTTP(w, r)
		default:
			http.NotFound(w, r)
		}
	})
}

// dashboardAsset reports whether path names a file under /dashboard/:
// directory listings and the page's second address are not served.
func dashboardAsset(path string) bool {
	name, ok := strings.CutPrefix(path, "/dashboard/")
	return ok && name != "" && !strings.HasSuffix(name, "/") && name != "index.html"
}
