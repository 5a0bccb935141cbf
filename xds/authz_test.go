package xds

import (
	"crypto/x509"
	"net/url"
	"testing"
)

func TestNodeNamedBy(t *testing.T) {
	uri := func(s string) *url.URL {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	tests := []struct {
		name    string
		cluster string
		leaf    *x509.Certificate
		want    bool
	}{
		{"DNS SAN equal", "edge", &x509.Certificate{DNSNames: []string{"other", "edge"}}, true},
		{"DNS SAN in another case", "Edge", &x509.Certificate{DNSNames: []string{"edge"}}, true},
		{"DNS SAN differs", "billing", &x509.Certificate{DNSNames: []string{"edge"}}, false},
		{"DNS SAN only a suffix", "edge", &x509.Certificate{DNSNames: []string{"edge.example.org"}}, false},
		{"SPIFFE id's last segment", "edge", &x509.Certificate{URIs: []*url.URL{uri("spiffe://example.org/ns/prod/sa/edge")}}, true},
		{"URI with a trailing slash", "edge", &x509.Certificate{URIs: []*url.URL{uri("spiffe://example.org/edge/")}}, true},
		{"URI equal", "urn:switchyard:edge", &x509.Certificate{URIs: []*url.URL{uri("urn:switchyard:edge")}}, true},
		{"URI segment in the middle", "prod", &x509.Certificate{URIs: []*url.URL{uri("spiffe://example.org/ns/prod/sa/edge")}}, false},
		{"URI host only", "edge", &x509.Certificate{URIs: []*url.URL{uri("spiffe://edge")}}, false},
		{"common name is not a SAN", "edge", &x509.Certificate{DNSNames: []string{"x"}, EmailAddresses: []string{"edge"}}, false},
		{"empty cluster", "", &x509.Certificate{DNSNames: []string{""}}, false},
		{"no certificate", "edge", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nodeNamedBy(tt.cluster, tt.leaf); got != tt.want {
				t.Errorf("nodeNamedBy(%q, %v) = %v, want %v", tt.cluster, sans(tt.leaf), got, tt.want)
			}
		})
	}
}
