//go:build tools

// Package consul pins the Consul server version that tests and the demo build
// from the Go module proxy.
package consul

import _ "github.com/hashicorp/consul"
