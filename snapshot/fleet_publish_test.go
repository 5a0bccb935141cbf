package snapshot

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard/switchyard/discovery"
	"github.com/switchyard/switchyard/internal/testcerts"
)

// fleetSink holds what each fleet was sent, refusing removals of what it
// does not hold and unchanged resends, as the xds server would log them.
type fleetSink struct {
	t       *testing.T
	mu      sync.Mutex
	held    map[string]map[string]string // fleet → "type/name" → hash
	updates map[string]int
	removed []string
}

func (s *fleetSink) Publish(u Update) error {
	if u.Fleet == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held[u.Fleet] == nil {
		s.held[u.Fleet] = map[string]string{}
	}
	for _, c := range u.Changes {
		key := c.TypeURL[strings.LastIndex(c.TypeURL, ".")+1:] + "/" + c.Name
		old, had := s.held[u.Fleet][key]
		switch {
		case c.Resource == nil && !had:
			s.t.Errorf("fleet %s: removal of %s, which it does not hold", u.Fleet, key)
		case c.Resource == nil:
			delete(s.held[u.Fleet], key)
		case had && old == c.Hash:
			s.t.Errorf("fleet %s: %s sent again unchanged", u.Fleet, key)
		default:
			s.held[u.Fleet][key] = c.Hash
		}
	}
	s.updates[u.Fleet]++
	return nil
}

func (s *fleetSink) RemoveFleet(cluster string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.removed = append(s.removed, cluster)
	delete(s.held, cluster)
}

// holds returns, sorted, what a fleet holds of one type.
func (s *fleetSink) holds(fleet, typ string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for key := range s.held[fleet] {
		if name, ok := strings.CutPrefix(key, typ+"/"); ok {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return fmt.Sprint(out)
}

// TestFleetPublishKeepsLastGood walks one fleet through a good profile, a
// bad profile, a bad and then a deleted certificate, and the profile's
// deletion, checking what its proxies are sent and what status says.
func TestFleetPublishKeepsLastGood(t *testing.T) {
	sink := &fleetSink{t: t, held: map[string]map[string]string{}, updates: map[string]int{}}
	p, err := NewPublisher(PublisherConfig{
		Sink: sink, Translate: Options{ListenerPort: 10000},
		Quiet: time.Millisecond, MaxDelay: time.Millisecond,
		Logger: slog.New(slog.DiscardHandler), Registerer: prometheus.NewRegistry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ca := testcerts.NewCA(t, "fleet publish CA")
	cert := ca.Server(t)
	good := `{"version": 1, "services": {"tags": ["public"]},
		"listeners": [{"name": "https", "port": 443, "protocol": "https", "certificates": [{"secret": "site"}]}]}`
	m := benchModel(3, 1)
	m.Services[1].Tags = []string{"public"}
	inputs := func(profiles map[string]string, certs map[string][]byte, index uint64) *discovery.FleetInputs {
		in := &discovery.FleetInputs{Profiles: map[string]discovery.KVEntry{}, Certs: map[string]discovery.KVEntry{}}
		for c, v := range profiles {
			in.Profiles[c] = discovery.KVEntry{Value: []byte(v), ModifyIndex: index}
		}
		for n, v := range certs {
			in.Certs[n] = discovery.KVEntry{Value: v, ModifyIndex: index}
		}
		return in
	}
	bundle := append(append([]byte{}, cert.CertPEM...), cert.KeyPEM...)
	steps := []struct {
		name     string
		profiles map[string]string
		certs    map[string][]byte
		// updates is how many updates the fleet has had after the step;
		// rejected, certErr a part of its status.
		updates           int
		rejected, certErr string
		index             uint64
	}{
		{name: "good", profiles: map[string]string{"edge": good}, certs: map[string][]byte{"site": bundle}, updates: 1, index: 1},
		{name: "bad profile", profiles: map[string]string{"edge": strings.Replace(good, "443", "70000", 1)}, certs: map[string][]byte{"site": bundle},
			updates: 1, rejected: "listeners[0].port", index: 1},
		{name: "bad certificate", profiles: map[string]string{"edge": good}, certs: map[string][]byte{"site": []byte("junk")},
			updates: 1, rejected: `certificate "site"`, certErr: "no PEM CERTIFICATE block", index: 3},
		{name: "deleted certificate", profiles: map[string]string{"edge": good}, updates: 1, rejected: "switchyard/certs/site was deleted", certErr: "was deleted", index: 3},
		{name: "certificate back", profiles: map[string]string{"edge": good}, certs: map[string][]byte{"site": bundle}, updates: 1, index: 5},
	}
	for i, st := range steps {
		m.Fleets = inputs(st.profiles, st.certs, uint64(i+1))
		p.publishModel(m)
		fs := p.Status().Fleets["edge"]
		if sink.updates["edge"] != st.updates || fs.Index != st.index {
			t.Errorf("%s: %d updates, index %d in force; want %d, %d", st.name, sink.updates["edge"], fs.Index, st.updates, st.index)
		}
		if !strings.Contains(fs.Rejected, st.rejected) || (st.rejected == "") != (fs.Rejected == "") {
			t.Errorf("%s: rejected %q, want it to name %q", st.name, fs.Rejected, st.rejected)
		}
		if ce := p.Status().Certs["site"].Error; !strings.Contains(ce, st.certErr) || (st.certErr == "") != (ce == "") {
			t.Errorf("%s: certificate error %q, want it to name %q", st.name, ce, st.certErr)
		}
		if got := sink.holds("edge", "Cluster") + sink.holds("edge", "Secret"); got != "[service-0001][site]" {
			t.Errorf("%s: the fleet holds %s, want cluster service-0001 and secret site", st.name, got)
		}
	}

	m.Fleets = inputs(map[string]string{"new": good}, nil, 9)
	p.publishModel(m)
	if fmt.Sprint(sink.removed) != "[edge]" {
		t.Errorf("removed fleets %v, want [edge]", sink.removed)
	}
	fs, ok := p.Status().Fleets["new"]
	if !ok || fs.Index != 0 || !strings.Contains(fs.Rejected, "switchyard/certs/site was deleted") || sink.updates["new"] != 0 {
		t.Errorf("a profile whose certificate is missing: status %+v, %d updates; want rejected, nothing sent", fs, sink.updates["new"])
	}
	if _, ok := p.Status().Fleets["edge"]; ok {
		t.Error("the deleted fleet is still in the status")
	}
}
