package main

import (
	"net/http"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrapeOne reads one metric family of a single series from the /metrics
// of the admin server at adminAddr, failing the test when it is missing.
func scrapeOne(t *testing.T, adminAddr, name string) *dto.Metric {
	t.Helper()
	resp, err := http.Get("http://" + adminAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	f, ok := families[name]
	if !ok || len(f.GetMetric()) != 1 {
		t.Fatalf("%s: no single series %s in /metrics", adminAddr, name)
	}
	return f.GetMetric()[0]
}
