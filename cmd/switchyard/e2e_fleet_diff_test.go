package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/switchyard/switchyard/internal/simenvoy"
	"github.com/switchyard/switchyard/internal/testcerts"
)

// TestFleetDiffGolden runs `switchyard fleet diff` against a running
// Switchyard: the profile in force diffs to nothing, and a profile that
// scopes other services and serves one certificate fewer shows what each
// of the fleet's proxies would gain, lose and see change (golden).
func TestFleetDiffGolden(t *testing.T) {
	c := startConsul(t)
	c.registerFleetServices(t)
	ca := testcerts.NewCA(t, "fleet diff CA")
	c.kvPut(t, "switchyard/certs/site-a", bundle(ca.Server(t)))
	c.kvPut(t, "switchyard/certs/site-b", bundle(ca.Server(t)))
	c.kvPut(t, "switchyard/fleets/edge", []byte(edgeProfile))
	sy := startSwitchyard(t, c.agent.HTTPAddr)
	admin := sy.app.AdminAddr()
	edge := startFleetEnvoy(t, sy.app.XDSAddr(), "edge-1", "edge")
	waitEnvoy(t, edge, "the edge fleet's resources", func(s simenvoy.State) bool {
		return names(s, resourcev3.ClusterType) == "api,web" && names(s, resourcev3.SecretType) == "site-a,site-b"
	})

	dir := t.TempDir()
	same := filepath.Join(dir, "same.yaml")
	next := filepath.Join(dir, "next.yaml")
	writeFile(t, same, edgeProfile)
	changed := strings.Replace(edgeProfile, "  tags: [public]", "  names: [web, db]", 1)
	changed = strings.Replace(changed, "      - sni: [a.example.com]\n        secret: site-a\n", "", 1)
	writeFile(t, next, changed)

	out, errOut, code := runCLI(t, "fleet", "diff", "edge", same, "--admin-addr", admin)
	if code != 0 || !strings.Contains(out, "0 to gain, 0 to lose, 0 to change") {
		t.Fatalf("diff of the profile in force: exit %d, stdout:\n%s\nstderr: %s", code, out, errOut)
	}
	out, errOut, code = runCLI(t, "fleet", "diff", "edge", next, "--admin-addr", admin)
	if code != 0 {
		t.Fatalf("diff: exit %d: %s", code, errOut)
	}
	checkGoldenFile(t, filepath.Join("testdata", "fleet", "diff.golden"), []byte(out))

	bad := strings.Replace(edgeProfile, "secret: site-b", "secret: missing", 1)
	writeFile(t, next, bad)
	_, errOut, code = runCLI(t, "fleet", "diff", "edge", next, "--admin-addr", admin)
	if code == 0 || !strings.Contains(errOut, `certificate "missing"`) {
		t.Fatalf("diff naming a missing certificate: exit %d, stderr %q", code, errOut)
	}
}

// writeFile writes a test file.
func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}
