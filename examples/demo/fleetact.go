package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/hashicorp/consul/api"

	"github.com/switchyard/switchyard/internal/simenvoy"
)

const (
	// edgeFleet is the node.cluster the act stores a profile for;
	// otherFleet is that of a proxy without one, which keeps the
	// default resources.
	edgeFleet  = "edge"
	otherFleet = "other"
	// fleetWait bounds each wait of the act: for the profile to be in
	// force, for the proxies' resources, for a rotated certificate.
	fleetWait = 20 * time.Second
	// staleIndex is the modify index of the act's refused apply: Consul
	// passed it long before the act stores anything.
	staleIndex = 1
	// certPrefix is where Switchyard reads certificate bundles in KV.
	certPrefix = "switchyard/certs/"
)

// edgeProfile is the fleet profile of the edge fleet: one HTTPS listener
// on loopback serving a certificate per SNI name, a plain-HTTP redirect
// listener, a JSON access log, a 10s route timeout, and only the echo
// service in scope, so that the split act's web service is left out.
const edgeProfile = `version: 1
listeners:
  - name: public-https
    address: 127.0.0.1
    port: 8443
    protocol: https
    certificates:
      - sni: [shop.demo.local]
        secret: shop
      - sni: [api.demo.local]
        secret: api
    redirect_http_port: 8080
services:
  names: ["echo*"]
access_log:
  format: json
routes:
  timeout: 10s
`

// The resources an edge proxy must hold once the profile is in force, as
// the sorted, comma-separated names that resourceNames returns.
const (
	edgeClusters  = "echo"
	edgeListeners = "public-https,public-https_redirect"
	edgeSecrets   = "api,shop"
)

// certSNI maps each secret of edgeProfile to the DNS name its
// certificate is issued for and served to.
func certSNI() map[string]string {
	return map[string]string{"api": "api.demo.local", "shop": "shop.demo.local"}
}

// demoCert is a self-signed certificate and its private key, PEM-encoded.
type demoCert struct {
	certPEM, keyPEM []byte
}

// bundle is the certificate then its key, as Switchyard reads it from KV.
func (c demoCert) bundle() []byte {
	return slices.Concat(c.certPEM, c.keyPEM)
}

// newDemoCert generates, in memory, a fresh ECDSA P-256 key and a
// self-signed server certificate for dnsName, valid for a day.
func newDemoCert(dnsName string) (demoCert, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return demoCert{}, fmt.Errorf("generate key for %s: %w", dnsName, err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return demoCert{}, fmt.Errorf("serial for %s: %w", dnsName, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: dnsName, Organization: []string{"switchyard demo"}},
		DNSNames:     []string{dnsName},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return demoCert{}, fmt.Errorf("certificate for %s: %w", dnsName, err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return demoCert{}, fmt.Errorf("encode key for %s: %w", dnsName, err)
	}
	return demoCert{
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
	}, nil
}

// fleetSetup is what the fleet-profile act needs of the demo's world.
type fleetSetup struct {
	client *api.Client
	// bin is the switchyard binary, for its fleet commands; consulAddr the
	// Consul agent they talk to; xdsAddr and adminAddr the addresses of the
	// Switchyard under demonstration.
	bin, consulAddr, xdsAddr, adminAddr string
	// dir is the demo's temporary directory, where the profile file goes.
	dir string
}

// fleetAct shows a fleet profile end to end: certificates in KV, the
// profile stored by the CLI, simulated Envoys of the fleet and of no
// fleet, a certificate rotation, a refused stale write and a config dump
// without private keys.
type fleetAct struct {
	fleetSetup
	out io.Writer
	// keys are every private key the act generated, rotated ones too,
	// none of which may show in the config dump.
	keys [][]byte
	// certs are the certificates in KV, by secret name.
	certs map[string]demoCert
}

// runFleet is the fleet-profile act; it leaves the simulated Envoys it
// connects to cl.
func runFleet(ctx context.Context, out io.Writer, setup fleetSetup, cl *cleanups) error {
	a := &fleetAct{fleetSetup: setup, out: out, certs: map[string]demoCert{}}
	heading(out, fmt.Sprintf("fleet profile: Envoys of node.cluster %q get their own listeners, scope and certificates", edgeFleet))
	if err := a.storeCerts(ctx); err != nil {
		return err
	}
	path, err := a.applyProfile(ctx)
	if err != nil {
		return err
	}
	edge, err := a.connect(ctx, cl)
	if err != nil {
		return err
	}
	if err := a.rotate(ctx, edge, "shop"); err != nil {
		return err
	}
	if err := a.applyStale(ctx, path); err != nil {
		return err
	}
	return a.checkConfigDump(ctx)
}

// storeCerts generates a certificate per secret of the profile and stores
// each as a PEM bundle in KV.
func (a *fleetAct) storeCerts(ctx context.Context) error {
	began := time.Now()
	sni := certSNI()
	var stored []string
	for _, secret := range slices.Sorted(maps.Keys(sni)) {
		if err := a.putCert(ctx, secret, sni[secret]); err != nil {
			return err
		}
		stored = append(stored, fmt.Sprintf("%s%s (%s)", certPrefix, secret, sni[secret]))
	}
	fmt.Fprintf(a.out, "consul kv: self-signed ECDSA certificates with their PKCS#8 keys at %s, in %s\n",
		strings.Join(stored, ", "), time.Since(began).Round(time.Millisecond))
	return nil
}

// putCert generates a new certificate for dnsName and stores it as the
// bundle of secret.
func (a *fleetAct) putCert(ctx context.Context, secret, dnsName string) error {
	cert, err := newDemoCert(dnsName)
	if err != nil {
		return err
	}
	pair := &api.KVPair{Key: certPrefix + secret, Value: cert.bundle()}
	if _, err := a.client.KV().Put(pair, (&api.WriteOptions{}).WithContext(ctx)); err != nil {
		return fmt.Errorf("store certificate %s in consul kv: %w", secret, err)
	}
	a.certs[secret] = cert
	a.keys = append(a.keys, cert.keyPEM)
	return nil
}

// applyProfile writes edgeProfile to a file, stores it with `switchyard
// fleet apply` and waits until Switchyard has it in force. It returns the
// file's path.
func (a *fleetAct) applyProfile(ctx context.Context) (string, error) {
	path := filepath.Join(a.dir, edgeFleet+".yaml")
	if err := os.WriteFile(path, []byte(edgeProfile), 0o600); err != nil {
		return "", fmt.Errorf("write fleet profile: %w", err)
	}
	began := time.Now()
	out, err := a.fleetCLI(ctx, "apply", edgeFleet, path)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(a.out, "  %s\n", strings.ReplaceAll(out, "\n", "\n  "))
	if err := a.awaitInForce(ctx); err != nil {
		return "", err
	}
	fmt.Fprintf(a.out, "switchyard: the %s profile is in force %s after `fleet apply`\n", edgeFleet, time.Since(began).Round(time.Millisecond))
	return path, nil
}

// fleetCLI prints and runs `switchyard fleet args... --consul-addr
// <consul>` and returns its output, standard error included, trimmed. A
// non-zero exit is an error that carries the output.
func (a *fleetAct) fleetCLI(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, cliTimeout)
	defer cancel()
	full := append(append([]string{"fleet"}, args...), "--consul-addr", a.consulAddr)
	fmt.Fprintf(a.out, "$ switchyard %s\n", strings.Join(full, " "))
	out, err := exec.CommandContext(ctx, a.bin, full...).CombinedOutput()
	text := strings.TrimSpace(string(out))
	if err != nil {
		return text, fmt.Errorf("switchyard %s: %w: %s", strings.Join(full, " "), err, text)
	}
	return text, nil
}

// fleetStatus is the part of Switchyard's /status the act reads.
type fleetStatus struct {
	Fleets map[string]struct {
		Index    uint64 `json:"index"`
		Rejected string `json:"rejected"`
	} `json:"fleets"`
}

// awaitInForce polls /status until the edge fleet has a profile in force,
// so that its proxies connect onto it rather than being moved onto it.
func (a *fleetAct) awaitInForce(ctx context.Context) error {
	began := time.Now()
	for {
		var st fleetStatus
		body, err := a.adminGet(ctx, "/status")
		if err == nil {
			err = json.Unmarshal(body, &st)
		}
		if err != nil {
			return err
		}
		f := st.Fleets[edgeFleet]
		if f.Rejected != "" {
			return fmt.Errorf("switchyard rejected the %s profile: %s", edgeFleet, f.Rejected)
		}
		if f.Index != 0 {
			return nil
		}
		if time.Since(began) > fleetWait {
			return fmt.Errorf("the %s profile is not in force after %s", edgeFleet, fleetWait)
		}
		if err := pause(ctx, statusPoll); err != nil {
			return err
		}
	}
}

// adminGet fetches path from Switchyard's admin API; a status other than
// 200 is an error.
func (a *fleetAct) adminGet(ctx context.Context, path string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, cliTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+a.adminAddr+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %.200s", path, resp.Status, body)
	}
	return body, nil
}

// connect starts a simulated Envoy of the edge fleet and one of another
// node.cluster, waits until each holds what it should and prints both.
// It returns the edge proxy.
func (a *fleetAct) connect(ctx context.Context, cl *cleanups) (*simenvoy.Envoy, error) {
	began := time.Now()
	edge, err := a.startEnvoy(ctx, edgeFleet, cl)
	if err != nil {
		return nil, err
	}
	other, err := a.startEnvoy(ctx, otherFleet, cl)
	if err != nil {
		return nil, err
	}
	if err := waitEnvoy(ctx, edge, "the edge fleet's resources", a.edgeHolds); err != nil {
		return nil, err
	}
	if err := waitEnvoy(ctx, other, "the default resources", defaultHolds); err != nil {
		return nil, err
	}
	es, ds := edge.State(), other.State()
	routing, err := sniRouting(es)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(a.out, "edge proxy: %s, listeners %s, secrets %s — the other proxy: %s, no secrets (%s)\n",
		clusterList(es), strings.ReplaceAll(resourceNames(es, resourcev3.ListenerType), ",", " + "),
		strings.ReplaceAll(resourceNames(es, resourcev3.SecretType), ",", ", "), clusterList(ds), time.Since(began).Round(time.Millisecond))
	fmt.Fprintf(a.out, "edge proxy: public-https serves %s; every resource valid and ACKed\n", routing)
	return edge, nil
}

// startEnvoy connects a simulated Envoy of cluster, closed at cleanup.
func (a *fleetAct) startEnvoy(ctx context.Context, cluster string, cl *cleanups) (*simenvoy.Envoy, error) {
	node := cluster + "-1"
	e, err := simenvoy.Start(ctx, a.xdsAddr, simenvoy.Config{NodeID: node, Cluster: cluster})
	if err != nil {
		return nil, fmt.Errorf("simulated envoy %s: %w", node, err)
	}
	cl.add("simulated envoy "+node, func() error { e.Close(); return nil })
	return e, nil
}

// edgeHolds reports whether an edge proxy holds exactly the scoped
// clusters, the profile's listeners and the current certificates, nothing
// warming and nothing rejected.
func (a *fleetAct) edgeHolds(s simenvoy.State) bool {
	for secret, cert := range a.certs {
		if secretKey(s, secret) != string(cert.keyPEM) {
			return false
		}
	}
	return resourceNames(s, resourcev3.ClusterType) == edgeClusters &&
		resourceNames(s, resourcev3.ListenerType) == edgeListeners &&
		resourceNames(s, resourcev3.SecretType) == edgeSecrets && settled(s)
}

// defaultHolds reports whether a proxy of no fleet holds the default
// resources: the services the edge fleet leaves out too, and no secret.
func defaultHolds(s simenvoy.State) bool {
	clusters := strings.Split(resourceNames(s, resourcev3.ClusterType), ",")
	return slices.Contains(clusters, "echo") && slices.Contains(clusters, splitService) &&
		resourceNames(s, resourcev3.SecretType) == "" && settled(s)
}

// settled reports whether nothing is warming and nothing was rejected.
func settled(s simenvoy.State) bool {
	nacks := 0
	for _, n := range s.NACKs {
		nacks += n
	}
	return len(s.Warming) == 0 && len(s.WarmingListeners) == 0 && nacks == 0
}

// waitEnvoy waits up to fleetWait for cond on e's state; the error says
// what e holds.
func waitEnvoy(ctx context.Context, e *simenvoy.Envoy, what string, cond func(simenvoy.State) bool) error {
	ctx, cancel := context.WithTimeout(ctx, fleetWait)
	defer cancel()
	if err := e.Wait(ctx, cond); err != nil {
		s := e.State()
		return fmt.Errorf("wait for %s: %w (clusters %q, listeners %q, secrets %q, NACKs %v %v)", what, err,
			resourceNames(s, resourcev3.ClusterType), resourceNames(s, resourcev3.ListenerType),
			resourceNames(s, resourcev3.SecretType), s.NACKs, s.LastNACK)
	}
	return nil
}

// rotate replaces the certificate of secret with a new one in KV, waits
// until the edge proxy holds its key and checks that it arrived alone, in
// one SDS response.
func (a *fleetAct) rotate(ctx context.Context, edge *simenvoy.Envoy, secret string) error {
	heading(a.out, fmt.Sprintf("rotating certificate %s: a new key in %s%s", secret, certPrefix, secret))
	before := edge.State()
	began := time.Now()
	if err := a.putCert(ctx, secret, certSNI()[secret]); err != nil {
		return err
	}
	if err := waitEnvoy(ctx, edge, "the rotated certificate", a.edgeHolds); err != nil {
		return err
	}
	took := time.Since(began)
	sent := responsesSince(before, edge.State())
	if want := map[string]int{resourcev3.SecretType: 1}; !maps.Equal(sent, want) {
		return fmt.Errorf("rotating %s sent the edge proxy %v, want one SDS response and nothing else", secret, sent)
	}
	fmt.Fprintf(a.out, "edge proxy: holds the new %s key %s after the KV write, sent in 1 SDS response and nothing else\n",
		secret, took.Round(time.Millisecond))
	return nil
}

// responsesSince counts, by type URL, the responses a proxy received
// between two of its states; types without any are left out.
func responsesSince(before, after simenvoy.State) map[string]int {
	out := map[string]int{}
	for typ, n := range after.Responses {
		if d := n - before.Responses[typ]; d != 0 {
			out[typ] = d
		}
	}
	return out
}

// applyStale runs `switchyard fleet apply` over a stale index and checks
// that it is refused with a message naming the stale index.
func (a *fleetAct) applyStale(ctx context.Context, path string) error {
	heading(a.out, fmt.Sprintf("a stale write: `fleet apply` over index %d", staleIndex))
	out, err := a.fleetCLI(ctx, "apply", edgeFleet, path, "--index", fmt.Sprint(staleIndex))
	var exit *exec.ExitError
	switch {
	case err == nil:
		return fmt.Errorf("fleet apply over index %d succeeded, want it refused: %s", staleIndex, out)
	case !errors.As(err, &exit):
		return err
	case !strings.Contains(out, "stale index"):
		return fmt.Errorf("fleet apply over index %d failed without naming the stale index: %w", staleIndex, err)
	}
	fmt.Fprintf(a.out, "  refused (exit status %d): %s\n", exit.ExitCode(), staleMessage(out))
	return nil
}

// staleMessage is the line of the CLI's output that names the stale index.
func staleMessage(out string) string {
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "stale index") {
			return strings.TrimSpace(line)
		}
	}
	return out
}

// checkConfigDump fetches the edge fleet's config dump and checks that it
// shows the secrets redacted and none of the private keys.
func (a *fleetAct) checkConfigDump(ctx context.Context) error {
	heading(a.out, "config dump of the edge fleet")
	path := "/debug/config_dump?group=envoy/" + edgeFleet
	fmt.Fprintf(a.out, "GET http://%s%s\n", a.adminAddr, path)
	began := time.Now()
	body, err := a.adminGet(ctx, path)
	if err != nil {
		return err
	}
	if !strings.Contains(string(body), "[redacted]") {
		return fmt.Errorf("config dump of %s: no [redacted] key: %.300s", edgeFleet, body)
	}
	if leaks := keyLeaks(string(body), a.keys); len(leaks) > 0 {
		return fmt.Errorf("config dump of %s shows %d private key(s)", edgeFleet, len(leaks))
	}
	fmt.Fprintf(a.out, "config dump: private keys redacted (%d bytes, none of the %d keys generated, as PEM or base64), in %s\n",
		len(body), len(a.keys), time.Since(began).Round(time.Millisecond))
	return nil
}

// keyLeaks returns the indexes of the PEM private keys of which text holds
// a line, or their bytes base64-encoded as a JSON dump of a proto would,
// at any alignment. It never returns key material, so that the caller
// may print its result.
func keyLeaks(text string, keys [][]byte) []int {
	var leaks []int
	for i, key := range keys {
		if slices.ContainsFunc(keyNeedles(key), func(n string) bool { return strings.Contains(text, n) }) {
			leaks = append(leaks, i)
		}
	}
	return leaks
}

// keyNeedles are the strings that give key away: each base64 line of its
// PEM body, and a run of its base64 encoding for each of the three
// alignments the key may start at within a longer encoded value.
func keyNeedles(key []byte) []string {
	var needles []string
	for _, line := range strings.Split(string(key), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "-----") {
			needles = append(needles, line)
		}
	}
	for shift := range 3 {
		if enc := base64.StdEncoding.EncodeToString(key[min(shift, len(key)):]); len(enc) >= 64 {
			needles = append(needles, enc[:60])
		}
	}
	return needles
}

// resourceNames returns the sorted names of the resources of a type a
// proxy holds, comma-separated.
func resourceNames(s simenvoy.State, typeURL string) string {
	return strings.Join(slices.Sorted(maps.Keys(s.Types[typeURL].Resources)), ",")
}

// clusterList renders a proxy's clusters as "2 clusters (echo, web)".
func clusterList(s simenvoy.State) string {
	names := slices.Sorted(maps.Keys(s.Types[resourcev3.ClusterType].Resources))
	noun := "clusters"
	if len(names) == 1 {
		noun = "cluster"
	}
	return fmt.Sprintf("%d %s (%s)", len(names), noun, strings.Join(names, ", "))
}

// secretKey returns the private key a proxy holds in secret.
func secretKey(s simenvoy.State, secret string) string {
	sec, ok := s.Types[resourcev3.SecretType].Resources[secret].(*tlsv3.Secret)
	if !ok {
		return ""
	}
	return string(sec.GetTlsCertificate().GetPrivateKey().GetInlineBytes())
}

// sniRouting renders which secret the public-https listener serves to
// each SNI name, "api.demo.local → api, shop.demo.local → shop", and
// checks that it is what edgeProfile asks for.
func sniRouting(s simenvoy.State) (string, error) {
	l, ok := s.Types[resourcev3.ListenerType].Resources["public-https"].(*listenerv3.Listener)
	if !ok {
		return "", errors.New("edge proxy: no listener public-https")
	}
	got := map[string]string{}
	var parts []string
	for _, fc := range l.GetFilterChains() {
		tc := &tlsv3.DownstreamTlsContext{}
		if err := fc.GetTransportSocket().GetTypedConfig().UnmarshalTo(tc); err != nil {
			return "", fmt.Errorf("edge proxy: public-https filter chain: %w", err)
		}
		secrets := tc.GetCommonTlsContext().GetTlsCertificateSdsSecretConfigs()
		for _, name := range fc.GetFilterChainMatch().GetServerNames() {
			if len(secrets) == 1 {
				got[secrets[0].GetName()] = name
				parts = append(parts, name+" → "+secrets[0].GetName())
			}
		}
	}
	if !maps.Equal(got, certSNI()) {
		return "", fmt.Errorf("edge proxy: public-https serves %v (secret → SNI), want %v", got, certSNI())
	}
	slices.Sort(parts)
	return strings.Join(parts, ", "), nil
}
