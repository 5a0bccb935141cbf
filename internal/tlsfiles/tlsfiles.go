// Package tlsfiles serves TLS from certificate files that may change while
// the process runs: a certificate manager (cert-manager, Vault agent, a
// cron job) replaces them, and the next handshake after a change uses the
// new certificate, key and client CA without a restart.
package tlsfiles

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultCheckInterval is how often, at most, the files are looked at:
// a handshake after that long stats them, and reads them only if one
// changed.
const DefaultCheckInterval = time.Second

// Config names the files and where to report.
type Config struct {
	// CertFile and KeyFile are the PEM certificate chain (leaf first) and
	// its private key.
	CertFile string
	KeyFile  string
	// ClientCAFile, when set, is a PEM bundle of the CAs that sign client
	// certificates; every client must then present one (mutual TLS).
	ClientCAFile string
	// CheckInterval is how often, at most, the files are checked for a
	// change (default DefaultCheckInterval).
	CheckInterval time.Duration
	Logger        *slog.Logger
	Registerer    prometheus.Registerer
}

// Reloader hands out the TLS configuration of the files as they were at
// their last good reading. A change that does not load (a key that does
// not match, an expired certificate, a half-written file) keeps the last
// good configuration, is logged as an error and counted in
// switchyard_tls_reload_errors_total.
type Reloader struct {
	cfg     Config
	log     *slog.Logger
	errs    prometheus.Counter
	reloads prometheus.Counter

	mu sync.Mutex
	// checked is when the files were last looked at.
	checked time.Time
	// stamps are the files' modification times and sizes when last read,
	// good or bad, so that unchanged bad files are not read again.
	stamps []stamp
	// sum is the hash of the contents in force.
	sum     [sha256.Size]byte
	current *tls.Config
	lastErr string
}

// stamp is what a cheap stat tells of a file. The inode is part of it:
// a file replaced by a rename (how certificate managers write) within the
// same clock tick and at the same size — a new key of the same type — has
// an unchanged modification time (the kernel's file times are coarse) but
// a new inode.
type stamp struct {
	mod   time.Time
	size  int64
	inode uint64
}

// New reads the files once; an error means they cannot serve TLS.
func New(cfg Config) (*Reloader, error) {
	if cfg.CheckInterval <= 0 {
		cfg.CheckInterval = DefaultCheckInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	r := &Reloader{
		cfg: cfg,
		log: cfg.Logger.With("component", "tls"),
		errs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchyard_tls_reload_errors_total",
			Help: "Changes of the TLS certificate, key or client CA files that could not be loaded (the last good ones stay in force).",
		}),
		reloads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchyard_tls_reloads_total",
			Help: "Changes of the TLS certificate, key or client CA files put in force without a restart.",
		}),
	}
	stamps, err := r.stat()
	if err != nil {
		return nil, err
	}
	contents, sum, err := r.read()
	if err != nil {
		return nil, err
	}
	if r.current, err = build(contents, r.cfg.ClientCAFile != "", time.Now()); err != nil {
		return nil, err
	}
	r.stamps, r.sum, r.checked = stamps, sum, time.Now()
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(r.errs, r.reloads)
	}
	r.log.Info("tls certificate loaded", certAttrs(r.current)...)
	return r, nil
}

// ServerConfig returns a server configuration whose every handshake gets
// the certificate and client CAs in force: TLS 1.2 at least and, with a
// client CA file, a verified client certificate required.
func (r *Reloader) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return r.config(), nil
		},
	}
}

// config returns the configuration in force, first reloading the files if
// the check interval has passed and one of them changed.
func (r *Reloader) config() *tls.Config {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if now.Sub(r.checked) >= r.cfg.CheckInterval {
		r.checked = now
		if err := r.reload(now); err != nil {
			r.failed(err)
		}
	}
	return r.current
}

// reload puts the files' new contents in force if they changed and load.
func (r *Reloader) reload(now time.Time) error {
	stamps, err := r.stat()
	if err != nil {
		return err
	}
	if equalStamps(stamps, r.stamps) {
		return nil
	}
	r.stamps = stamps
	contents, sum, err := r.read()
	if err != nil {
		return err
	}
	if sum == r.sum {
		r.lastErr = ""
		return nil
	}
	next, err := build(contents, r.cfg.ClientCAFile != "", now)
	if err != nil {
		return err
	}
	r.current, r.sum, r.lastErr = next, sum, ""
	r.reloads.Inc()
	r.log.Info("tls certificate files changed: reloaded", certAttrs(next)...)
	return nil
}

// failed logs and counts a failed reload once per distinct failure, so
// that files left bad do not log every check interval.
func (r *Reloader) failed(err error) {
	if err.Error() == r.lastErr {
		return
	}
	r.lastErr = err.Error()
	r.errs.Inc()
	r.log.Error("tls certificate files changed but cannot be loaded: keeping the last good ones", "error", err)
}

// files returns the names of the files, certificate, key, then client CA.
func (r *Reloader) files() []string {
	names := []string{r.cfg.CertFile, r.cfg.KeyFile}
	if r.cfg.ClientCAFile != "" {
		names = append(names, r.cfg.ClientCAFile)
	}
	return names
}

// stat stats every file, following symbolic links (Kubernetes swaps a
// symlink to a new directory).
func (r *Reloader) stat() ([]stamp, error) {
	var out []stamp
	for _, name := range r.files() {
		fi, err := os.Stat(name)
		if err != nil {
			return nil, fmt.Errorf("stat tls file: %w", err)
		}
		out = append(out, stamp{mod: fi.ModTime(), size: fi.Size(), inode: inodeOf(fi)})
	}
	return out, nil
}

// read reads every file and hashes their contents together.
func (r *Reloader) read() ([][]byte, [sha256.Size]byte, error) {
	h := sha256.New()
	var out [][]byte
	for _, name := range r.files() {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, [sha256.Size]byte{}, fmt.Errorf("read tls file: %w", err)
		}
		out = append(out, b)
		fmt.Fprintf(h, "%d:", len(b))
		h.Write(b)
	}
	var sum [sha256.Size]byte
	copy(sum[:], h.Sum(nil))
	return out, sum, nil
}

// build makes the server configuration of the files' contents.
func build(contents [][]byte, mutual bool, now time.Time) (*tls.Config, error) {
	pair, err := ParsePair(contents[0], contents[1], now)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{pair},
		NextProtos:   []string{"h2"},
		// A resumed session skips verifying the client certificate, which
		// would let a client whose CA was just removed back in; xDS
		// connections are few and long-lived, so full handshakes cost
		// little.
		SessionTicketsDisabled: true,
	}
	if mutual {
		if cfg.ClientCAs, err = ParsePool(contents[2]); err != nil {
			return nil, err
		}
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// ParsePair parses a PEM certificate chain and its key, refusing a pair
// that does not match or a leaf that is not valid at now.
func ParsePair(certPEM, keyPEM []byte, now time.Time) (tls.Certificate, error) {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tls certificate and key: %w", err)
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return tls.Certificate{}, fmt.Errorf("tls certificate: %w", err)
		}
		pair.Leaf = leaf
	}
	if now.After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
		return tls.Certificate{}, fmt.Errorf("tls certificate %s is valid only from %s to %s",
			leaf.SerialNumber, leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return pair, nil
}

// ParsePool parses a PEM bundle of CA certificates.
func ParsePool(caPEM []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("client ca file holds no PEM certificate")
	}
	return pool, nil
}

// equalStamps reports whether two statings of the files agree.
func equalStamps(a, b []stamp) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].mod.Equal(b[i].mod) || a[i].size != b[i].size || a[i].inode != b[i].inode {
			return false
		}
	}
	return true
}

// certAttrs describes the certificate in force for a log line: never its
// key.
func certAttrs(cfg *tls.Config) []any {
	leaf := cfg.Certificates[0].Leaf
	return []any{"serial", leaf.SerialNumber.String(), "subject", leaf.Subject.String(),
		"not_after", leaf.NotAfter.UTC().Format(time.RFC3339), "mutual_tls", cfg.ClientAuth == tls.RequireAndVerifyClientCert}
}
