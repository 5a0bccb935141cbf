package snapshot

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/switchyard/switchyard/discovery"
)

// FleetStatus is what the publisher reports of one fleet profile.
type FleetStatus struct {
	// Index is the modify index of the profile in force; 0 when none is
	// (the fleet's proxies get what every other Envoy gets).
	Index uint64 `json:"index,omitempty"`
	// Rejected says why the stored profile, or a certificate it serves,
	// is not in force, naming the field; the last good profile stays.
	Rejected      string `json:"rejected,omitempty"`
	RejectedIndex uint64 `json:"rejected_index,omitempty"`
	// Services are the services in the fleet's scope, Clusters the
	// clusters its proxies get, Secrets the certificates they serve.
	Services int      `json:"services"`
	Clusters int      `json:"clusters"`
	Secrets  []string `json:"secrets,omitempty"`
	// Error is the last error building or publishing the fleet's
	// resources; what was published last stays in force.
	Error string `json:"error,omitempty"`
	// Warnings name the parts of the profile in force that match nothing
	// in the catalog: a name or glob, a TCP listener's service.
	Warnings []string `json:"warnings,omitempty"`
}

// fleetTarget is one fleet whose profile is in force: its builder, which
// follows the scoped model, and the secrets its sink holds.
type fleetTarget struct {
	in      fleetProfile
	builder *memoBuilder
	// secrets are, by name, the hashes of the secrets the sink holds.
	secrets   map[string]string
	published bool
	// held are the removals of clusters and endpoint assignments the
	// last update held back, to go with the next one (make before break).
	held []Change
	// scope are the names of the services the builder last followed, and
	// scoper follows which services the profile matches; warnings are the
	// profile's warnings against the catalog, computed when scope changes.
	scope    []string
	scoper   scoper
	warnings []string
}

// fleetSet is every fleet the publisher serves. Only Run's goroutine
// touches it.
type fleetSet struct {
	opts    Options
	inputs  *discovery.FleetInputs
	certs   map[string]*certInForce
	targets map[string]*fleetTarget
	// judged are the stored profiles as last judged, by cluster.
	judged map[string]fleetProfile
	// files are the bundles of the certificate directory, by name;
	// filesChanged is set when they changed since the last sync.
	files        map[string]fileCert
	filesChanged bool
}

// newFleetSet returns an empty set whose builders translate with opts.
func newFleetSet(opts Options) *fleetSet {
	opts.Flavour = FlavourEnvoy
	return &fleetSet{opts: opts, certs: map[string]*certInForce{}, targets: map[string]*fleetTarget{}, judged: map[string]fleetProfile{}}
}

// sync brings the profiles and certificates in force to the model's fleet
// inputs. A profile that is good replaces the one in force; a bad one
// leaves it. It returns the fleets whose profile was deleted.
func (s *fleetSet) sync(in *discovery.FleetInputs) (removed []string) {
	if in == s.inputs && !s.filesChanged {
		return nil
	}
	s.inputs, s.filesChanged = in, false
	var profiles, certs map[string]discovery.KVEntry
	if in != nil {
		profiles, certs = in.Profiles, in.Certs
	}
	syncCerts(s.certs, s.storedCerts(certs), s.served)
	s.judged = make(map[string]fleetProfile, len(profiles))
	for _, cluster := range slices.Sorted(maps.Keys(profiles)) {
		e := profiles[cluster]
		t := s.targets[cluster]
		judged := judgeProfile(cluster, e, s.certs)
		s.judged[cluster] = judged
		switch {
		case judged.err != nil:
		case t == nil:
			opts := s.opts
			opts.Fleet = judged.profile
			s.targets[cluster] = &fleetTarget{in: judged, builder: newMemoBuilder(opts), secrets: map[string]string{}}
		case !t.in.same(e.Value):
			t.in = judged
			t.builder.opts.Fleet = judged.profile
		default:
			t.in.index = e.ModifyIndex
		}
	}
	for cluster := range s.targets {
		if _, ok := profiles[cluster]; !ok {
			delete(s.targets, cluster)
			removed = append(removed, cluster)
		}
	}
	slices.Sort(removed)
	return removed
}

// served reports whether a profile in force serves a certificate.
func (s *fleetSet) served(name string) bool {
	for _, t := range s.targets {
		if slices.Contains(t.in.profile.SecretNames(), name) {
			return true
		}
	}
	return false
}

// build brings one fleet's builder to the model and returns the update
// that takes its sink there, or nil when the sink holds it already.
func (s *fleetSet) build(cluster string, t *fleetTarget, m discovery.Model, plans planSet) (*Update, built, error) {
	sm := t.scoper.scopedModel(m, t.in.profile, plans)
	if scope := serviceNames(sm.Services); !slices.Equal(scope, t.scope) {
		// A service that enters or leaves the scope by a change of the
		// profile or of another service's routing is not among the
		// model's changed names: the builder compares every service.
		sm.Delta, sm.Changed, t.scope = false, nil, scope
		t.warnings = t.in.profile.Warnings(serviceNames(m.Services))
	}
	b, err := t.builder.rebuild(sm)
	if err != nil {
		return nil, built{}, err
	}
	changes := t.builder.changes()
	t.held = nil
	if !t.builder.holding {
		// As for the default flavours: routes that stop using a cluster
		// go first, the cluster a moment later (see holdRemovals).
		changes, t.held = holdRemovals(changes)
	}
	secrets, version := s.secretChanges(t)
	if len(changes) == 0 && len(secrets) == 0 && t.published {
		return nil, b, nil
	}
	v := b.versions
	v.Secrets = version
	return &Update{Flavour: FlavourEnvoy, Fleet: cluster, Versions: v, Changes: append(changes, secrets...), Observed: m.Observed}, b, nil
}

// accepted records that the sink took a fleet's update.
func (s *fleetSet) accepted(t *fleetTarget, u *Update) {
	n := 0
	for _, c := range u.Changes {
		if c.TypeURL != resourcev3.SecretType {
			u.Changes[n] = c
			n++
			continue
		}
		if c.Resource == nil {
			delete(t.secrets, c.Name)
		} else {
			t.secrets[c.Name] = c.Hash
		}
	}
	t.builder.accept(u.Changes[:n])
	t.published = true
	t.builder.holding = len(t.held) > 0
	t.builder.hold(t.held)
}

// secretChanges returns the secrets a fleet's sink must be sent or must
// drop, and the version of the fleet's secrets.
func (s *fleetSet) secretChanges(t *fleetTarget) ([]Change, string) {
	names := t.in.profile.SecretNames()
	var out []Change
	h := sha256.New()
	for _, name := range slices.Sorted(slices.Values(names)) {
		c := s.certs[name]
		if c == nil || !c.good {
			continue
		}
		fmt.Fprintf(h, "%s\x00%s\x00", name, c.hash)
		if t.secrets[name] != c.hash {
			out = append(out, Change{TypeURL: resourcev3.SecretType, Name: name, Hash: c.hash, Resource: c.secret})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(t.secrets)) {
		if !slices.Contains(names, name) {
			out = append(out, Change{TypeURL: resourcev3.SecretType, Name: name})
		}
	}
	return out, hex.EncodeToString(h.Sum(nil)[:8])
}

// status returns every stored or served fleet's status; errs are the
// build or publish errors of this round, by cluster.
func (s *fleetSet) status(errs map[string]string, builds map[string]built) map[string]FleetStatus {
	out := map[string]FleetStatus{}
	for cluster, j := range s.judged {
		st := FleetStatus{}
		if j.err != nil {
			st.Rejected, st.RejectedIndex = j.err.Error(), j.index
		}
		out[cluster] = st
	}
	for cluster, t := range s.targets {
		st := out[cluster]
		st.Index = t.in.index
		st.Secrets = t.in.profile.SecretNames()
		st.Services = len(t.builder.entries)
		st.Clusters = builds[cluster].clusters
		st.Error = errs[cluster]
		st.Warnings = t.warnings
		if ce := certErrors(t.in.profile, s.certs); st.Rejected == "" && len(ce) > 0 {
			st.Rejected = strings.Join(ce, "\n")
		}
		out[cluster] = st
	}
	return out
}

// serviceNames returns the names of services, in their order.
func serviceNames(services []discovery.Service) []string {
	out := make([]string, len(services))
	for i, svc := range services {
		out[i] = svc.Name
	}
	return out
}
