package snapshot

import (
	"bytes"
	"strings"
	"time"

	"github.com/switchyard/switchyard/discovery"
	"github.com/switchyard/switchyard/fleet"
	"github.com/switchyard/switchyard/internal/certdir"
)

// sourceConsul is the source of a certificate stored in Consul KV.
const sourceConsul = "consul"

// fileCert is a certificate bundle read from the certificate directory;
// seq counts the contents seen of it, and stands for a modify index.
type fileCert struct {
	path  string
	value []byte
	seq   uint64
}

// readCertDir reads the certificate directory into the set and reports
// whether any bundle was added, changed or removed. A directory that
// cannot be read changes nothing.
func (s *fleetSet) readCertDir(dir string) (changed bool, problems []string, err error) {
	bundles, problems, err := certdir.Read(dir, fleet.CheckSecretName)
	if err != nil {
		return false, nil, err
	}
	next := make(map[string]fileCert, len(bundles))
	for name, b := range bundles {
		old, ok := s.files[name]
		switch {
		case !ok:
			next[name] = fileCert{path: b.Path, value: b.Value, seq: 1}
			changed = true
		case !bytes.Equal(old.value, b.Value):
			next[name] = fileCert{path: b.Path, value: b.Value, seq: old.seq + 1}
			changed = true
		default:
			next[name] = old
		}
	}
	changed = changed || len(next) != len(s.files)
	s.files = next
	s.filesChanged = s.filesChanged || changed
	return changed, problems, nil
}

// storedCerts merges the certificates of Consul KV and of the directory:
// Consul KV wins over a file of the same name, which its status names.
func (s *fleetSet) storedCerts(kv map[string]discovery.KVEntry) map[string]certEntry {
	out := make(map[string]certEntry, len(kv)+len(s.files))
	for name, f := range s.files {
		out[name] = certEntry{KVEntry: discovery.KVEntry{Value: f.value, ModifyIndex: f.seq}, source: "file " + f.path}
	}
	for name, e := range kv {
		shadowed := ""
		if f, ok := s.files[name]; ok {
			shadowed = "file " + f.path
		}
		out[name] = certEntry{KVEntry: e, source: sourceConsul, shadowed: shadowed}
	}
	return out
}

// startCertDir reads the certificate directory, if one is configured, and
// returns the ticker that reads it again; a stopped one otherwise.
func (p *Publisher) startCertDir() *time.Ticker {
	t := time.NewTicker(p.cfg.CertDirInterval)
	if p.cfg.CertDir == "" {
		t.Stop()
		return t
	}
	p.readCertDir()
	return t
}

// readCertDir reads the certificate directory and reports whether a
// bundle changed. Problems are logged when they change, not at every read.
func (p *Publisher) readCertDir() bool {
	changed, problems, err := p.fleets.readCertDir(p.cfg.CertDir)
	note := strings.Join(problems, "; ")
	if err != nil {
		note = err.Error()
	}
	if note != p.certDirNote {
		p.certDirNote = note
		if note != "" {
			p.log.Warn("certificate directory: some bundles are not read; the last good ones stay in force", "dir", p.cfg.CertDir, "problems", note)
		}
	}
	if changed {
		p.log.Info("certificate directory changed", "dir", p.cfg.CertDir, "bundles", len(p.fleets.files))
	}
	return changed
}
