package snapshot

import (
	"encoding/hex"
	"fmt"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"

	"github.com/switchyard/switchyard/discovery"
	"github.com/switchyard/switchyard/fleet"
)

// FleetPreview returns what the proxies of a fleet with profile p would be
// served over the model published last: by type ("CDS", "EDS", "LDS",
// "RDS", "SDS"), each resource's name and content hash, the hashes the
// server reports. It changes nothing; an error says why the profile could
// not be served.
func (p *Publisher) FleetPreview(profile *fleet.Profile) (map[string]map[string]string, error) {
	p.mu.Lock()
	m, certs := p.view.model, p.status.Certs
	hashes := p.secretHashes
	p.mu.Unlock()
	opts := p.cfg.Translate
	opts.Flavour, opts.Fleet = FlavourEnvoy, profile
	res, err := Translate(m, opts)
	if err != nil {
		return nil, err
	}
	if err := Validate(res); err != nil {
		return nil, fmt.Errorf("validate: %w", err)
	}
	out := map[string]map[string]string{}
	for typ, list := range map[string][]types.Resource{"CDS": res.Clusters, "EDS": res.Endpoints, "LDS": res.Listeners, "RDS": res.Routes} {
		out[typ] = map[string]string{}
		for _, r := range list {
			d, err := digestResource(r)
			if err != nil {
				return nil, err
			}
			out[typ][cachev3.GetResourceName(r)] = hex.EncodeToString(d[:])
		}
	}
	out["SDS"] = map[string]string{}
	for _, name := range profile.SecretNames() {
		h, ok := hashes[name]
		if !ok {
			why := "no key " + discovery.CertsPrefix + name + " in Consul KV"
			if st, found := certs[name]; found && st.Error != "" {
				why = st.Error
			}
			return nil, fmt.Errorf("certificate %q: %s", name, why)
		}
		out["SDS"][name] = h
	}
	return out, nil
}
