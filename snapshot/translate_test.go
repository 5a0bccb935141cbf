package snapshot

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/google/go-cmp/cmp"

	"github.com/switchyard/switchyard/discovery"
	"github.com/switchyard/switchyard/internal/golden"
	"google.golang.org/protobuf/proto"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// TestTranslateGolden translates every model under testdata/translate into
// both flavours and compares each resource type with its golden file.
func TestTranslateGolden(t *testing.T) {
	cases, err := filepath.Glob("testdata/translate/*/model.json")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, modelPath := range cases {
		dir := filepath.Dir(modelPath)
		m, err := loadModel(modelPath)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range Flavours() {
			t.Run(filepath.Base(dir)+"/"+f.String(), func(t *testing.T) {
				res, err := Translate(m, Options{Flavour: f, ListenerPort: 10000, LoadReporting: true})
				if err != nil {
					t.Fatalf("Translate: %v", err)
				}
				if err := Validate(res); err != nil {
					t.Fatalf("Validate: %v", err)
				}
				for name, list := range map[string][]types.Resource{
					"clusters": res.Clusters, "endpoints": res.Endpoints,
					"listeners": res.Listeners, "routes": res.Routes,
				} {
					compareGolden(t, filepath.Join(dir, f.String(), name+".json"), list)
				}
				compareWarnings(t, filepath.Join(dir, f.String(), "warnings.txt"), res.Warnings)
			})
		}
	}
}

// compareWarnings compares warnings, one per line, with a golden file.
func compareWarnings(t *testing.T, path string, got []string) {
	t.Helper()
	text := strings.Join(got, "\n")
	if text != "" {
		text += "\n"
	}
	if *update {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run go test ./snapshot -update): %v", err)
	}
	if d := cmp.Diff(string(want), text); d != "" {
		t.Errorf("%s (-want +got):\n%s", path, d)
	}
}

// compareGolden compares resources with a golden file of Any-wrapped JSON
// resources, or rewrites it with -update.
func compareGolden(t *testing.T, path string, got []types.Resource) {
	t.Helper()
	msgs := make([]proto.Message, 0, len(got))
	for _, r := range got {
		msgs = append(msgs, r)
	}
	golden.File{Path: path, Update: *update, Hint: "go test ./snapshot -update"}.Compare(t, msgs)
}

// TestTranslateWarnsOnTakenDomains checks that a service whose Envoy domains
// belong to another service keeps its cluster, gets no virtual host, and is
// named in a warning, while everything else is translated.
func TestTranslateWarnsOnTakenDomains(t *testing.T) {
	m, err := loadModel("testdata/translate/mixed/model.json")
	if err != nil {
		t.Fatal(err)
	}
	m.Services = append(m.Services, discovery.Service{Name: "web.service.consul"})
	res, err := Translate(m, Options{Flavour: FlavourEnvoy, ListenerPort: 10000})
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(res); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	want := []string{
		`service "web" gets no Envoy virtual host: domain "web" already belongs to service "Web"`,
		`service "web.service.consul" gets no Envoy virtual host: domain "web.service.consul" already belongs to service "Web"`,
	}
	if diff := cmp.Diff(want, res.Warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	if got := names(res.Clusters); !got["web"] || !got["web.service.consul"] || !got["Web"] {
		t.Errorf("clusters %v: every service keeps its cluster", got)
	}
}
