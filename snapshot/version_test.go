package snapshot

import (
	"encoding/hex"
	"slices"
	"testing"

	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"

	"github.com/switchyard/switchyard/discovery"
)

// buildVersions translates and builds a model, failing the test on error.
func buildVersions(t *testing.T, m discovery.Model, f Flavour) Versions {
	t.Helper()
	res, err := Translate(m, Options{Flavour: f, ListenerPort: 10000})
	if err != nil {
		t.Fatal(err)
	}
	_, v, err := Build(res)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mixedModel(t *testing.T) discovery.Model {
	t.Helper()
	m, err := loadModel("testdata/translate/mixed/model.json")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestVersionsFollowContent(t *testing.T) {
	for _, f := range Flavours() {
		t.Run(f.String(), func(t *testing.T) {
			base := buildVersions(t, mixedModel(t), f)

			same := mixedModel(t)
			slices.Reverse(same.Services)
			for i := range same.Services {
				slices.Reverse(same.Services[i].Instances)
			}
			if got := buildVersions(t, same, f); got != base {
				t.Errorf("reordered model changed versions: %+v vs %+v", got, base)
			}

			health := mixedModel(t)
			health.Services[0].Instances[0].Health = discovery.HealthCritical // web-1
			got := buildVersions(t, health, f)
			if got.Endpoints == base.Endpoints {
				t.Error("health change kept the endpoint version")
			}
			if got.Clusters != base.Clusters || got.Listeners != base.Listeners || got.Routes != base.Routes {
				t.Errorf("health change touched more than endpoints: %+v vs %+v", got, base)
			}

			added := mixedModel(t)
			added.Services = append(added.Services, discovery.Service{Name: "new", Instances: []discovery.Instance{
				{ID: "new-1", Address: "127.0.0.99", Port: 1, Health: discovery.HealthPassing, Weights: discovery.Weights{Passing: 1, Warning: 1}},
			}})
			got = buildVersions(t, added, f)
			if got.Clusters == base.Clusters || got.Endpoints == base.Endpoints || got.Routes == base.Routes {
				t.Errorf("new service did not change cluster, endpoint and route versions: %+v vs %+v", got, base)
			}
		})
	}
}

// TestEndpointVersionCoversClusters guards against clusters stuck warming: a
// cluster change with identical endpoints must still move the endpoint
// version.
func TestEndpointVersionCoversClusters(t *testing.T) {
	res, err := Translate(mixedModel(t), Options{Flavour: FlavourEnvoy, ListenerPort: 10000})
	if err != nil {
		t.Fatal(err)
	}
	_, before, err := Build(res)
	if err != nil {
		t.Fatal(err)
	}
	res.Clusters = res.Clusters[:len(res.Clusters)-1] // drop "web"'s cluster, keep its endpoints
	v, err := versionsOf(res)
	if err != nil {
		t.Fatal(err)
	}
	if v.Clusters == before.Clusters || v.Endpoints == before.Endpoints {
		t.Errorf("cluster change did not move both versions: %+v vs %+v", v, before)
	}
}

// TestResourceDigestIsGoControlPlaneHash keeps a resource's digest equal to
// the per-resource version go-control-plane and the delta server compute.
func TestResourceDigestIsGoControlPlaneHash(t *testing.T) {
	res, err := Translate(mixedModel(t), Options{Flavour: FlavourGRPC, ListenerPort: 10000})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range slices.Concat(res.Clusters, res.Endpoints, res.Listeners, res.Routes) {
		d, err := digestResource(r)
		if err != nil {
			t.Fatal(err)
		}
		b, err := cachev3.MarshalResource(r)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := hex.EncodeToString(d[:]), cachev3.HashResource(b); got != want {
			t.Errorf("%s: digest %s, want %s", cachev3.GetResourceName(r), got, want)
		}
	}
}
