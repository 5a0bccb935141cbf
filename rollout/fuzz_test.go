package rollout

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// FuzzParseSpec parses steps and percentages as the CLI does and checks
// that nothing panics and that a valid spec survives a JSON round trip
// unchanged, as it must to be stored in Consul KV and read back.
func FuzzParseSpec(f *testing.F) {
	f.Add("web", "v1", "v2", "10,50,100", "100%", "100%", "1.5%", int64(time.Minute), "https://h.example/x")
	f.Add("web", "v1", "v1", "50,10", "101%", "NaN", "-1", int64(0), "ftp://x")
	f.Add("a.b_c-d", "x", "y", "100", "0.001%", "0", "", int64(time.Second), "")
	f.Fuzz(func(t *testing.T, service, from, to, steps, minHealthy, requireAck, maxErr string, interval int64, webhook string) {
		spec := Spec{Service: service, From: from, To: to, Interval: time.Duration(interval)}
		var err error
		if spec.Steps, err = ParseSteps(steps); err != nil {
			return
		}
		for _, p := range []struct {
			in  string
			out *float64
		}{{minHealthy, &spec.MinHealthy}, {requireAck, &spec.RequireAck}, {maxErr, &spec.MaxErrorRate}} {
			if *p.out, err = ParsePercent(p.in); err != nil {
				return
			}
		}
		if webhook != "" {
			spec.Webhooks = []string{webhook}
		}
		if spec.Validate() != nil {
			return
		}
		data, err := json.Marshal(spec)
		if err != nil {
			t.Fatalf("marshal a valid spec: %v", err)
		}
		var back Spec
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatalf("unmarshal %s: %v", data, err)
		}
		if diff := cmp.Diff(spec, back); diff != "" {
			t.Fatalf("round trip changed the spec (-before +after):\n%s", diff)
		}
	})
}
