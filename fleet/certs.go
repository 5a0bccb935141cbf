package fleet

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"
)

// CertPair is one certificate chain and its private key, PEM-encoded, as
// stored in Consul KV under switchyard/certs/<name>: one PEM bundle
// holding the certificate chain (leaf first) and the private key.
type CertPair struct {
	CertPEM []byte
	KeyPEM  []byte
	// NotAfter is when the leaf certificate expires.
	NotAfter time.Time
	// Names are the leaf's DNS names, for status.
	Names []string
}

// ParseCertBundle splits a PEM bundle into its certificate chain and
// private key and checks that the key belongs to the leaf. Its errors
// never quote the bundle: it holds a private key.
func ParseCertBundle(data []byte) (CertPair, error) {
	var certs, keys [][]byte
	rest := data
	for i := 0; i < 64; i++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch {
		case block.Type == "CERTIFICATE":
			certs = append(certs, pem.EncodeToMemory(block))
		case strings.HasSuffix(block.Type, "PRIVATE KEY"):
			keys = append(keys, pem.EncodeToMemory(block))
		default:
			return CertPair{}, fmt.Errorf("PEM block %q is neither a CERTIFICATE nor a PRIVATE KEY", block.Type)
		}
	}
	switch {
	case len(certs) == 0:
		return CertPair{}, errors.New("no PEM CERTIFICATE block: want the certificate chain and its private key in one PEM bundle")
	case len(keys) != 1:
		return CertPair{}, fmt.Errorf("%d PEM private keys, want exactly one", len(keys))
	}
	pair := CertPair{CertPEM: bytes.Join(certs, nil), KeyPEM: keys[0]}
	tc, err := tls.X509KeyPair(pair.CertPEM, pair.KeyPEM)
	if err != nil {
		return CertPair{}, fmt.Errorf("certificate and key: %w", err)
	}
	leaf, err := x509.ParseCertificate(tc.Certificate[0])
	if err != nil {
		return CertPair{}, fmt.Errorf("certificate: %w", err)
	}
	pair.NotAfter, pair.Names = leaf.NotAfter, leaf.DNSNames
	return pair, nil
}

// CheckSecretName checks a certificate's name, as a profile's
// certificates[].secret must spell it.
func CheckSecretName(name string) error {
	return checkName(name)
}
