package main

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/consul/api"

	"github.com/switchyard/switchyard/internal/consulagent"
)

// replicaEntry returns the passing instance of service switchyard
// registered on addr, or nil.
func replicaEntry(t *testing.T, client *api.Client, addr string) *api.ServiceEntry {
	t.Helper()
	entries, _, err := client.Health().Service(replicaService, "", true, nil)
	if err != nil {
		t.Logf("health of %s: %v", replicaService, err)
		return nil
	}
	for _, e := range entries {
		if net.JoinHostPort(e.Service.Address, strconv.Itoa(e.Service.Port)) == addr {
			return e
		}
	}
	return nil
}

// TestReplicaRegistersInConsul checks that a serving Switchyard is listed
// in Consul as service switchyard on its admin address, with its xDS
// address and a passing /healthz check, and is gone once it stops.
func TestReplicaRegistersInConsul(t *testing.T) {
	c := startConsul(t)
	sy := startSwitchyard(t, c.agent.HTTPAddr, withRegister)
	admin := sy.app.AdminAddr()
	if host, _, _ := net.SplitHostPort(admin); !net.ParseIP(host).IsLoopback() {
		t.Fatalf("admin address %s is not loopback", admin)
	}
	var entry *api.ServiceEntry
	waitUntil(t, "switchyard registered and passing", func() bool {
		entry = replicaEntry(t, c.client, admin)
		return entry != nil
	})
	if got := entry.Service.Meta[replicaMetaXDSAddr]; got != sy.app.XDSAddr() {
		t.Errorf("meta %s = %q, want %q", replicaMetaXDSAddr, got, sy.app.XDSAddr())
	}
	if entry.Service.Meta[replicaMetaVersion] != version {
		t.Errorf("meta %s = %q, want %q", replicaMetaVersion, entry.Service.Meta[replicaMetaVersion], version)
	}
	// The agent runs the check first at a random point of its 10 s
	// interval; its output (on the agent: the catalog gets output-only
	// changes late) names the URL it fetched.
	waitUntil(t, "the /healthz check ran and passed", func() bool {
		checks, err := c.client.Agent().ChecksWithFilter(fmt.Sprintf("ServiceID == %q", entry.Service.ID))
		if err != nil {
			return false
		}
		for _, ch := range checks {
			if ch.Type == "http" && ch.Status == api.HealthPassing &&
				strings.Contains(ch.Output, "http://"+admin+"/healthz") && strings.Contains(ch.Output, "200") {
				return true
			}
		}
		return false
	})

	// A second replica on the same agent registers beside the first.
	other := startSwitchyard(t, c.agent.HTTPAddr, withRegister)
	waitUntil(t, "second replica registered", func() bool { return replicaEntry(t, c.client, other.app.AdminAddr()) != nil })

	sy.stop()
	waitUntil(t, "first replica deregistered", func() bool {
		services, err := c.client.Agent().Services()
		if err != nil {
			return false
		}
		_, stillThere := services[entry.Service.ID]
		return !stillThere
	})
	if replicaEntry(t, c.client, other.app.AdminAddr()) == nil {
		t.Error("the second replica went away with the first")
	}
}

// TestReplicaWithoutWriteTokenKeepsServing runs Switchyard with a token
// that may read the catalog but not register services: it serves, and
// stops cleanly, without a registration.
func TestReplicaWithoutWriteTokenKeepsServing(t *testing.T) {
	agent := consulagent.StartWithT(t, consulagent.Options{HCL: []string{aclHCL}})
	admin, err := api.NewClient(&api.Config{Address: agent.HTTPAddr, Token: managementToken})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := admin.ACL().PolicyCreate(&api.ACLPolicy{Name: "read-only", Rules: readOnlyRules}, nil); err != nil {
		t.Fatal(err)
	}
	tok, _, err := admin.ACL().TokenCreate(&api.ACLToken{Policies: []*api.ACLTokenPolicyLink{{Name: "read-only"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("CONSUL_HTTP_TOKEN", tok.SecretID)
	sy := startSwitchyard(t, agent.HTTPAddr, withRegister, func(cfg *serveConfig) { cfg.Datacenter = "dc1" })
	if code := httpStatus(sy.app.AdminAddr(), "/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz = %d", code)
	}
	services, _, err := admin.Catalog().Service(replicaService, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(services) != 0 {
		t.Errorf("a read-only token registered %+v", services[0])
	}
	sy.stop()
}

// aclHCL enables ACLs with default deny and a known management token.
const aclHCL = `acl {
  enabled = true
  default_policy = "deny"
  tokens {
    initial_management = "` + managementToken + `"
  }
}`

// managementToken is the ACL management token of agents started with aclHCL.
const managementToken = "d1b4ae3e-6a63-4c3c-8c3f-c0ffee000002"

// readOnlyRules read every service and node, and write nothing.
const readOnlyRules = `service_prefix "" { policy = "read" }
node_prefix "" { policy = "read" }`
