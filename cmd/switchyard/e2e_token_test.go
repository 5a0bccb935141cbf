package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/switchyard/switchyard/internal/consulagent"
)

// goodTokenRules are what a Switchyard replica needs: discovery reads every
// service and node, registration writes service switchyard, the rollout
// controller writes its keys and its lock's session.
const goodTokenRules = `service_prefix "" { policy = "read" }
node_prefix "" { policy = "read" }
service "switchyard" { policy = "write" }
key_prefix "switchyard/" { policy = "write" }
session_prefix "" { policy = "write" }`

// noServiceReadRules are goodTokenRules less the read of every service: a
// policy narrowed by mistake.
const noServiceReadRules = `node_prefix "" { policy = "read" }
service "switchyard" { policy = "write" }
key_prefix "switchyard/" { policy = "write" }
session_prefix "" { policy = "write" }`

// aclConsul is a dev agent with ACLs enabled, default deny, and a client
// holding the management token.
func aclConsul(t *testing.T) *consulFixture {
	t.Helper()
	agent := consulagent.StartWithT(t, consulagent.Options{HCL: []string{aclHCL}})
	admin, err := api.NewClient(&api.Config{Address: agent.HTTPAddr, Token: managementToken})
	if err != nil {
		t.Fatal(err)
	}
	// For a moment after start, while ACLs initialise, the agent answers
	// "ACL not found" even to the management token.
	waitUntil(t, "ACLs initialised", func() bool {
		_, err := admin.Agent().Services()
		return err == nil
	})
	return &consulFixture{agent: agent, client: admin}
}

// aclToken creates a policy of rules and returns the secret of a token
// holding it.
func (c *consulFixture) aclToken(t *testing.T, name, rules string) string {
	t.Helper()
	if _, _, err := c.client.ACL().PolicyCreate(&api.ACLPolicy{Name: name, Rules: rules}, nil); err != nil {
		t.Fatal(err)
	}
	tok, _, err := c.client.ACL().TokenCreate(&api.ACLToken{Policies: []*api.ACLTokenPolicyLink{{Name: name}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tok.SecretID
}

// writeTokenFile replaces the token file at path as rotation tools do: a
// new file renamed over the old one.
func writeTokenFile(t *testing.T, path, token string) {
	t.Helper()
	if err := os.WriteFile(path+".new", []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
}

// withTokenFile has startSwitchyard take its token from path, looked at
// every 200ms.
func withTokenFile(path string) func(*serveConfig) {
	return func(cfg *serveConfig) {
		cfg.ConsulTokenFile = path
		cfg.ConsulTokenPoll = 200 * time.Millisecond
		cfg.Datacenter = "dc1"
	}
}

// TestTokenFileRotationAndLostPermissions runs Switchyard on a token file
// against a Consul with ACLs on and default deny. The file's token is the
// only one (no CONSUL_HTTP_TOKEN): discovery, registration and the rollout
// controller all work with it. The file is then replaced by a token whose
// policy lacks service read: /status shows the ACL error while the proxies
// keep the last endpoints. Writing the good token back recovers without a
// restart, and a service registered meanwhile appears.
func TestTokenFileRotationAndLostPermissions(t *testing.T) {
	c := aclConsul(t)
	good := c.aclToken(t, "switchyard", goodTokenRules)
	narrowed := c.aclToken(t, "switchyard-narrowed", noServiceReadRules)
	startBackends(t, c, "web", "web-1", "web-2")
	path := filepath.Join(t.TempDir(), "consul-token")
	writeTokenFile(t, path, good)

	sy := startSwitchyard(t, c.agent.HTTPAddr, withRegister, withTokenFile(path))
	admin := sy.app.AdminAddr()
	cc := dialXDS(t, sy.app.XDSAddr(), "token-client", "web")
	waitUntil(t, "both backends serve", func() bool { return servedBy(spread(t, cc, 20), "web-1", "web-2") })
	waitUntil(t, "the replica registered with the file's token", func() bool {
		return replicaEntry(t, c.client, admin) != nil
	})
	waitUntil(t, "the rollout controller leads with the file's token", func() bool {
		return strings.Contains(adminText(t, admin, "/metrics"), "switchyard_rollout_leader 1")
	})
	var before adminStatus
	adminJSON(t, admin, "/status", &before)

	writeTokenFile(t, path, narrowed)
	waitUntil(t, "the narrowed token in force", func() bool { return sy.app.tokens.Token() == narrowed })
	// Wake the blocking queries with a change: the next answers come
	// with the narrowed token.
	c.register(t, "api", "api-1", 9)
	var during adminStatus
	waitUntil(t, "/status shows the ACL error", func() bool {
		adminJSON(t, admin, "/status", &during)
		return during.Consul.Failing && strings.Contains(during.Consul.LastError, "ACL")
	})
	t.Logf("while the token lacks service read: %s", during.Consul.LastError)
	if during.Consul.Services != before.Consul.Services || during.Consul.Instances != before.Consul.Instances {
		t.Errorf("consul state went from %d services, %d instances to %d, %d under the narrowed token, want it kept",
			before.Consul.Services, before.Consul.Instances, during.Consul.Services, during.Consul.Instances)
	}
	var stdout, stderr bytes.Buffer
	if code := execute(context.Background(), []string{"status", "--admin-addr", admin}, &stdout, &stderr); code != 0 {
		t.Fatalf("switchyard status: exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "Consul queries failing") || !strings.Contains(stderr.String(), "ACL") {
		t.Errorf("switchyard status does not show the ACL error:\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}
	if code := httpStatus(admin, "/readyz"); code != http.StatusOK {
		t.Errorf("/readyz = %d under the narrowed token, want 200: the last good model is in force", code)
	}
	if counts := spreadStrict(t, cc, 40); !servedBy(counts, "web-1", "web-2") {
		t.Errorf("under the narrowed token web was answered by %v, want both backends", counts)
	}

	writeTokenFile(t, path, good)
	waitUntil(t, "the good token in force", func() bool { return sy.app.tokens.Token() == good })
	var after adminStatus
	waitUntil(t, "recovered with the good token, api included", func() bool {
		adminJSON(t, admin, "/status", &after)
		return !after.Consul.Failing && after.Consul.Services == before.Consul.Services+1
	})
	if counts := spreadStrict(t, cc, 40); !servedBy(counts, "web-1", "web-2") {
		t.Errorf("after recovery web was answered by %v, want both backends", counts)
	}
}
