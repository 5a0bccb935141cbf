package grpcxds_test

import (
	"encoding/json"
	"testing"

	"github.com/switchyard/switchyard/internal/grpcxds"
	"github.com/switchyard/switchyard/internal/testcerts"
)

func TestBootstrapTLSJSON(t *testing.T) {
	ca := testcerts.NewCA(t, "A")
	files := ca.Client(t, "demo").Write(t, t.TempDir(), "client", ca)
	tests := []struct {
		name  string
		files grpcxds.TLSFiles
	}{
		{"mutual TLS", grpcxds.TLSFiles{CAFile: files.CA, CertFile: files.Cert, KeyFile: files.Key}},
		{"server TLS only", grpcxds.TLSFiles{CAFile: files.CA}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := grpcxds.BootstrapTLSJSON("127.0.0.1:18000", "client-1", "demo", tt.files)
			var got struct {
				XDSServers []struct {
					ChannelCreds []struct {
						Type   string `json:"type"`
						Config struct {
							CA   string `json:"ca_certificate_file"`
							Cert string `json:"certificate_file"`
							Key  string `json:"private_key_file"`
						} `json:"config"`
					} `json:"channel_creds"`
				} `json:"xds_servers"`
			}
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatalf("bootstrap is not JSON: %v\n%s", err, raw)
			}
			creds := got.XDSServers[0].ChannelCreds
			if len(creds) != 1 || creds[0].Type != "tls" || creds[0].Config.CA != tt.files.CAFile ||
				creds[0].Config.Cert != tt.files.CertFile || creds[0].Config.Key != tt.files.KeyFile {
				t.Errorf("channel_creds = %+v, want one tls with %+v", creds, tt.files)
			}
			// gRPC-Go must know the "tls" channel credentials.
			cc, err := grpcxds.Dial(raw, "xds:///echo")
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			if err := cc.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
	}
}
