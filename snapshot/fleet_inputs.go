package snapshot

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"

	"github.com/switchyard/switchyard/discovery"
	"github.com/switchyard/switchyard/envoy"
	"github.com/switchyard/switchyard/fleet"
)

// CertStatus is what the publisher reports of one certificate in Consul
// KV. It never holds key material.
type CertStatus struct {
	// Source is where the certificate comes from: "consul" (the key
	// switchyard/certs/<name>) or "file <path>" (--fleet-cert-dir).
	Source string `json:"source"`
	// Index is the modify index of the value in force (for a file, how
	// many of its contents were seen); 0 when none is.
	Index    uint64    `json:"index,omitempty"`
	NotAfter time.Time `json:"not_after,omitzero"`
	Names    []string  `json:"names,omitempty"`
	// Error says why the stored value is not in force; the last good one,
	// if any, stays.
	Error string `json:"error,omitempty"`
	// Shadowed names a file of the same name that Consul KV's value wins
	// over.
	Shadowed string `json:"shadowed,omitempty"`
}

// certEntry is one stored certificate value and where it is stored.
type certEntry struct {
	discovery.KVEntry
	source   string
	shadowed string
}

// certInForce is one certificate the fleets may serve: the last good value
// of its key and the SDS secret built from it.
type certInForce struct {
	status CertStatus
	secret types.Resource
	hash   string
	// good is set once a value parsed; secret and hash are then those of
	// the last good value. deleted is set while the value is gone from
	// where it was stored and kept only for the fleets that serve it.
	good, deleted bool
}

// fleetProfile is a stored profile as the publisher judged it.
type fleetProfile struct {
	index   uint64
	raw     []byte
	profile *fleet.Profile
	err     error
}

// syncCerts brings the certificates to what KV holds: a changed value is
// parsed and, if good, put in force; a bad one leaves the last good in
// force with an error; a deleted one stays in force while a profile in
// force names it. keep reports whether a name is still needed.
func syncCerts(certs map[string]*certInForce, stored map[string]certEntry, keep func(string) bool) {
	for name, e := range stored {
		c := certs[name]
		if c != nil && c.status.Index == e.ModifyIndex && c.status.Source == e.source && c.status.Error == "" {
			c.status.Shadowed = e.shadowed
			continue
		}
		if c == nil {
			c = &certInForce{}
			certs[name] = c
		}
		where := fmt.Sprintf("%s%s (index %d)", discovery.CertsPrefix, name, e.ModifyIndex)
		if e.source != sourceConsul {
			where = e.source
		}
		pair, err := fleet.ParseCertBundle(e.Value)
		if err != nil {
			c.status.Error = fmt.Sprintf("%s: %v", where, err)
			continue
		}
		secret := envoy.TLSSecret(name, pair.CertPEM, pair.KeyPEM)
		hash, err := resourceHash(secret)
		if err != nil {
			c.status.Error = fmt.Sprintf("%s: %v", where, err)
			continue
		}
		*c = certInForce{secret: secret, hash: hash, good: true,
			status: CertStatus{Source: e.source, Index: e.ModifyIndex, NotAfter: pair.NotAfter, Names: pair.Names, Shadowed: e.shadowed}}
	}
	for name, c := range certs {
		if _, ok := stored[name]; ok {
			continue
		}
		if !c.good || !keep(name) {
			delete(certs, name)
			continue
		}
		where := discovery.CertsPrefix + name
		if c.status.Source != sourceConsul {
			where = c.status.Source
		}
		c.deleted = true
		c.status.Error = fmt.Sprintf("%s was deleted; the last good certificate stays in force for the fleets that serve it", where)
	}
}

// judgeProfile parses a stored profile and checks that every certificate
// it serves has a good value.
func judgeProfile(cluster string, e discovery.KVEntry, certs map[string]*certInForce) fleetProfile {
	out := fleetProfile{index: e.ModifyIndex, raw: e.Value}
	if err := fleet.CheckCluster(cluster); err != nil {
		out.err = fmt.Errorf("key %s%s: %w", discovery.FleetsPrefix, cluster, err)
		return out
	}
	p, err := fleet.Parse(e.Value)
	if err != nil {
		out.err = err
		return out
	}
	var errs []error
	for _, name := range p.SecretNames() {
		switch c := certs[name]; {
		case c == nil:
			errs = append(errs, fmt.Errorf("certificate %q: no key %s%s in Consul KV (nor %s.pem in the certificate directory)", name, discovery.CertsPrefix, name, name))
		case !c.good || c.deleted:
			errs = append(errs, fmt.Errorf("certificate %q: %s", name, c.status.Error))
		}
	}
	if len(errs) > 0 {
		out.err = errors.Join(errs...)
		return out
	}
	out.profile = &p
	return out
}

// same reports whether the judged profile has the stored bytes raw.
func (f fleetProfile) same(raw []byte) bool {
	return bytes.Equal(f.raw, raw)
}

// certErrors returns the errors of the certificates a profile serves that
// keep their last good value in force.
func certErrors(p *fleet.Profile, certs map[string]*certInForce) []string {
	var out []string
	for _, name := range p.SecretNames() {
		if c := certs[name]; c != nil && c.status.Error != "" {
			out = append(out, fmt.Sprintf("certificate %q: %s", name, c.status.Error))
		}
	}
	return out
}

// certStatuses returns the certificates' statuses by name.
func certStatuses(certs map[string]*certInForce) map[string]CertStatus {
	out := make(map[string]CertStatus, len(certs))
	for name, c := range certs {
		out[name] = c.status
	}
	return out
}

// resourceHash is a resource's content hash, as the memo builder's.
func resourceHash(r types.Resource) (string, error) {
	b, err := cachev3.MarshalResource(r)
	if err != nil {
		return "", err
	}
	return cachev3.HashResource(b), nil
}
