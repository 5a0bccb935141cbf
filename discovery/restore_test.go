package discovery

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/switchyard/switchyard/internal/consulagent"
)

// catalogRegister registers an instance of service on a node of its own
// through the catalog, which the agent's anti-entropy leaves alone, so a
// snapshot restore really removes it.
func (h *harness) catalogRegister(id, service string, port int) {
	h.t.Helper()
	_, err := h.client.Catalog().Register(&api.CatalogRegistration{
		Node: "external-1", Address: "127.0.0.2",
		Service: &api.AgentService{ID: id, Service: service, Address: "127.0.0.2", Port: port},
	}, nil)
	if err != nil {
		h.t.Fatalf("catalog register %s: %v", id, err)
	}
}

// hasInstance returns a condition: service has (or, with want false, has
// not) the instance id.
func hasInstance(service, id string, want bool) func(Model) bool {
	return func(m Model) bool { _, ok := instance(m, service, id); return ok == want }
}

// TestSnapshotRestoreIndexGoesBackwards restores a Consul snapshot taken
// before the last changes (FAILURE_MODES row 3): every index goes
// backwards. The source must follow the restored catalog (the instance
// registered after the snapshot is gone) and then keep following changes
// whose indexes are lower than those it saw before the restore.
func TestSnapshotRestoreIndexGoesBackwards(t *testing.T) {
	h := newHarness(t, consulagent.StartT(t), func(c *Config) { c.IndexCheck = 200 * time.Millisecond })
	h.register("web-1", "web", 8081, api.HealthPassing)
	h.run()
	h.catalogRegister("web-x", "web", 9001)
	h.waitModel("web-x registered", hasInstance("web", "web-x", true))

	snap, meta, err := h.client.Snapshot().Save(nil)
	if err != nil {
		t.Fatal(err)
	}
	saved, err := io.ReadAll(snap)
	snap.Close()
	if err != nil {
		t.Fatal(err)
	}
	h.catalogRegister("web-y", "web", 9002)
	for range 20 { // move the catalog's index well past the snapshot's
		h.catalogRegister("churn-1", "churn", 9100)
		if _, err := h.client.Catalog().Deregister(&api.CatalogDeregistration{Node: "external-1", ServiceID: "churn-1"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	h.waitModel("web-y registered", hasInstance("web", "web-y", true))
	// The sentinel must have read the index past the snapshot's, as it
	// would have long before a real restore.
	_, churned, err := h.client.Catalog().Services(nil)
	if err != nil {
		t.Fatal(err)
	}
	h.eventually("the sentinel read the churned index", func() bool {
		return h.metric("switchyard_consul_index") >= float64(churned.LastIndex)
	})
	_, before, err := h.client.Health().Service("web", "", false, nil)
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	if err := h.client.Snapshot().Restore(nil, bytes.NewReader(saved)); err != nil {
		t.Fatal(err)
	}
	h.waitModel("web-y gone with the restore", func(m Model) bool {
		return hasInstance("web", "web-y", false)(m) && hasInstance("web", "web-x", true)(m)
	})
	restored := time.Since(start)
	_, after, err := h.client.Health().Service("web", "", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if after.LastIndex >= before.LastIndex {
		t.Fatalf("web's index went from %d to %d across the restore; the test needs it to go backwards", before.LastIndex, after.LastIndex)
	}

	h.catalogRegister("web-z", "web", 9003)
	h.waitModel("web-z registered after the restore", hasInstance("web", "web-z", true))
	t.Logf("snapshot at index %d; web's index %d → %d across the restore; restored catalog in the model after %s, then a new instance after %s",
		meta.LastIndex, before.LastIndex, after.LastIndex, restored.Round(time.Millisecond), (time.Since(start) - restored).Round(time.Millisecond))
}
