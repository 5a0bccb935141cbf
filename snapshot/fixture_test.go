package snapshot

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/switchyard/switchyard/discovery"
)

// fixtureModel is the readable JSON form of a discovery model that test
// inputs under testdata/ are written in.
type fixtureModel struct {
	Datacenter string `json:"datacenter"`
	Services   []struct {
		Name      string            `json:"name"`
		Tags      []string          `json:"tags"`
		Meta      map[string]string `json:"meta"`
		Instances []fixtureInstance `json:"instances"`
	} `json:"services"`
	// Config holds L7 config entries in discovery's own field names.
	Config *discovery.ConfigEntries `json:"config"`
}

type fixtureInstance struct {
	ID      string `json:"id"`
	Node    string `json:"node"`
	Address string `json:"address"`
	Port    int    `json:"port"`
	Health  string `json:"health"`
	Passing int    `json:"passing"`
	Warning int    `json:"warning"`
	Region  string `json:"region"`
	Zone    string `json:"zone"`
	// Meta is the instance's service meta, which subset filters read.
	Meta map[string]string `json:"meta"`
}

// loadModel reads a fixture model.
func loadModel(path string) (discovery.Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return discovery.Model{}, err
	}
	var f fixtureModel
	if err := json.Unmarshal(data, &f); err != nil {
		return discovery.Model{}, fmt.Errorf("%s: %w", path, err)
	}
	m := discovery.Model{Datacenter: f.Datacenter, Config: f.Config}
	for _, s := range f.Services {
		svc := discovery.Service{Name: s.Name, Datacenter: f.Datacenter, Tags: s.Tags, Meta: s.Meta}
		for _, i := range s.Instances {
			h, err := parseHealth(i.Health)
			if err != nil {
				return discovery.Model{}, fmt.Errorf("%s: instance %s: %w", path, i.ID, err)
			}
			svc.Instances = append(svc.Instances, discovery.Instance{
				ID: i.ID, Node: i.Node, Address: i.Address, Port: i.Port, Health: h,
				Weights:  discovery.Weights{Passing: i.Passing, Warning: i.Warning},
				Locality: discovery.Locality{Region: i.Region, Zone: i.Zone},
				Meta:     i.Meta,
			})
		}
		m.Services = append(m.Services, svc)
	}
	return m, nil
}

// parseHealth reads Consul's word for a health state.
func parseHealth(s string) (discovery.Health, error) {
	for _, h := range []discovery.Health{discovery.HealthPassing, discovery.HealthWarning, discovery.HealthCritical, discovery.HealthMaintenance} {
		if h.String() == s {
			return h, nil
		}
	}
	return 0, fmt.Errorf("unknown health %q", s)
}
