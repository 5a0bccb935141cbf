package discovery

import (
	"testing"

	"github.com/hashicorp/consul/api"
)

// FuzzConfigEntries decodes config entries as Consul's API serves them
// (anyone with write access to Consul can write them) and converts them:
// conversion must never panic, whatever the decoder lets through, and a
// converted entry must be found under its own name.
func FuzzConfigEntries(f *testing.F) {
	for _, s := range []string{
		`{"Kind":"service-splitter","Name":"web","Splits":[{"Weight":90,"ServiceSubset":"v1"},{"Weight":10,"ServiceSubset":"v2"}]}`,
		`{"Kind":"service-resolver","Name":"web","DefaultSubset":"v1","Subsets":{"v1":{"Filter":"Service.Meta.version == v1"}},"Failover":{"*":{"Targets":[{"Service":"api"}]}},"LoadBalancer":{"Policy":"ring_hash","HashPolicies":[{"Field":"header","FieldValue":"x"}]}}`,
		`{"Kind":"service-router","Name":"web","Routes":[{"Match":{"HTTP":{"PathPrefix":"/a","Header":[{"Name":"x","Exact":"1"}],"QueryParam":[{"Name":"q","Present":true}]}},"Destination":{"Service":"api","RetryOn":["5xx"],"RequestHeaders":{"Add":{"a":"b"}}}}]}`,
		`{"Kind":"service-defaults","Name":"web","Protocol":"grpc","UpstreamConfig":{"Defaults":{"PassiveHealthCheck":{"Interval":"1s","MaxFailures":3}}}}`,
		`{"Kind":"service-resolver","Name":"web","Redirect":{"Service":"api","ServiceSubset":"v2"}}`,
		`{"Kind":"service-splitter","Name":"","Splits":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := api.DecodeConfigEntryFromJSON(data)
		if err != nil || e == nil {
			return
		}
		switch e.(type) {
		case *api.ServiceConfigEntry, *api.ServiceResolverConfigEntry, *api.ServiceSplitterConfigEntry, *api.ServiceRouterConfigEntry:
		default:
			return
		}
		cfg := configEntriesFrom([]api.ConfigEntry{e})
		if e.GetName() != "" && !containsName(cfg.Names(), e.GetName()) {
			t.Fatalf("entry %s %q converted, but Names() is %v", e.GetKind(), e.GetName(), cfg.Names())
		}
	})
}

// containsName reports whether names holds name.
func containsName(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}
