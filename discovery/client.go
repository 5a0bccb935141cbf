package discovery

import (
	"errors"
	"fmt"

	"github.com/hashicorp/consul/api"
)

// ClientOptions describe a Consul client of Switchyard's. Everything else
// (TLS, namespace, partition and, without Tokens, the token) comes from
// Consul's own CONSUL_* environment variables, as for Consul's CLI.
type ClientOptions struct {
	// Address is the agent's HTTP address.
	Address string
	// Tokens, when set, supplies the token of every request, overriding
	// CONSUL_HTTP_TOKEN and a token file consul/api read at start.
	Tokens *TokenFile
	// Conns, when set, counts the client's connections and bounds them
	// to MaxConns (see ConnCounter.Wrap).
	Conns    *ConnCounter
	MaxConns int
}

// NewClient builds the Consul client o describes.
func NewClient(o ClientOptions) (*api.Client, error) {
	if o.Address == "" {
		return nil, errors.New("consul client: no address")
	}
	cfg := api.DefaultConfig()
	cfg.Address = o.Address
	if o.Conns != nil {
		o.Conns.Wrap(cfg.Transport, o.MaxConns)
	}
	if o.Tokens != nil {
		hc, err := api.NewHttpClient(cfg.Transport, cfg.TLSConfig)
		if err != nil {
			return nil, fmt.Errorf("consul client: %w", err)
		}
		hc.Transport = o.Tokens.Transport(hc.Transport)
		cfg.HttpClient = hc
		cfg.Token = ""
	}
	client, err := api.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("consul client: %w", err)
	}
	return client, nil
}
