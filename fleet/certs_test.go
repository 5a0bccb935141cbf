package fleet

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"
)

// selfSigned returns a self-signed certificate for name and its key, PEM.
func selfSigned(t testing.TB, name string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd})
}

// keyLines returns the body lines of a PEM key: what an error must never
// quote.
func keyLines(keyPEM []byte) []string {
	var out []string
	for _, l := range strings.Split(string(keyPEM), "\n") {
		if len(l) > 16 && !strings.HasPrefix(l, "-----") {
			out = append(out, l)
		}
	}
	return out
}

func TestParseCertBundle(t *testing.T) {
	cert, key := selfSigned(t, "a.example.com")
	_, otherKey := selfSigned(t, "b.example.com")
	cat := func(parts ...[]byte) []byte {
		var out []byte
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	for _, tt := range []struct {
		name, data, err string
	}{
		{"chain then key", string(cat(cert, key)), ""},
		{"key then chain", string(cat(key, cert)), ""},
		{"key of another certificate", string(cat(cert, otherKey)), "private key does not match public key"},
		{"no key", string(cert), "0 PEM private keys, want exactly one"},
		{"two keys", string(cat(cert, key, key)), "2 PEM private keys"},
		{"no certificate", string(key), "no PEM CERTIFICATE block"},
		{"not PEM", "hello", "no PEM CERTIFICATE block"},
		{"another block", string(cat(cert, key, []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"))), `PEM block "PUBLIC KEY"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pair, err := ParseCertBundle([]byte(tt.data))
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if string(pair.KeyPEM) != string(key) || pair.Names[0] != "a.example.com" || pair.NotAfter.IsZero() {
					t.Errorf("pair %+v: want the key, the name and the expiry", pair.Names)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("error %v, want one containing %q", err, tt.err)
			}
			for _, l := range append(keyLines(key), keyLines(otherKey)...) {
				if strings.Contains(err.Error(), l) {
					t.Fatal("the error quotes the private key")
				}
			}
		})
	}
}

// FuzzParseCertBundle checks that ParseCertBundle never panics, that a
// bundle it accepts is a usable key pair, and that its errors never quote
// the input's PEM bodies (a private key).
func FuzzParseCertBundle(f *testing.F) {
	cert, key := selfSigned(f, "fuzz.example.com")
	f.Add(append(append([]byte{}, cert...), key...))
	f.Add(cert)
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pair, err := ParseCertBundle(data)
		if err == nil {
			if len(pair.CertPEM) == 0 || len(pair.KeyPEM) == 0 {
				t.Fatal("accepted a bundle without a certificate or a key")
			}
			return
		}
		for _, l := range keyLines(data) {
			if strings.Contains(err.Error(), l) {
				t.Fatalf("the error %q quotes the input", err)
			}
		}
	})
}
