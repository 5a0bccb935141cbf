package main

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/envoy"
)

// newBootstrapCommand builds `switchyard bootstrap`, which prints an Envoy
// bootstrap that connects an Envoy to Switchyard over ADS.
func newBootstrapCommand() *cobra.Command {
	var (
		nodeID, cluster, xdsAddress, adminAddress string
		adminPort                                 uint32
	)
	cmd := &cobra.Command{
		Use:   "bootstrap",
		Short: "Print an Envoy bootstrap (YAML) that points an Envoy at Switchyard",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := bootstrapOptions(nodeID, cluster, xdsAddress, adminAddress, adminPort)
			if err != nil {
				return err
			}
			out, err := envoy.BootstrapYAML(envoy.Bootstrap(opts))
			if err != nil {
				return fmt.Errorf("render bootstrap: %w", err)
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&nodeID, "node-id", "", "Envoy node id (required)")
	f.StringVar(&cluster, "cluster", "edge", "Envoy node cluster; proxies with the same cluster share one snapshot")
	f.StringVar(&xdsAddress, "xds-address", "127.0.0.1:18000", "host:port of Switchyard's xDS server as the Envoy reaches it")
	f.StringVar(&adminAddress, "admin-address", "127.0.0.1", "address Envoy's admin interface binds to; keep it on loopback unless a container needs it published")
	f.Uint32Var(&adminPort, "admin-port", 9901, "port of Envoy's admin interface")
	return cmd
}

// bootstrapOptions checks the flags and names the first bad one.
func bootstrapOptions(nodeID, cluster, xdsAddress, adminAddress string, adminPort uint32) (envoy.BootstrapOptions, error) {
	bad := func(flag string, err error) error {
		return usageError{fmt.Errorf("invalid value for %s: %w", flag, err)}
	}
	if err := nodeText(nodeID); err != nil {
		return envoy.BootstrapOptions{}, bad("--node-id", err)
	}
	if err := nodeText(cluster); err != nil {
		return envoy.BootstrapOptions{}, bad("--cluster", err)
	}
	host, portText, err := net.SplitHostPort(xdsAddress)
	if err != nil || host == "" {
		return envoy.BootstrapOptions{}, bad("--xds-address", fmt.Errorf("%q is not host:port", xdsAddress))
	}
	if net.ParseIP(host) == nil && !isDNSName(host) {
		return envoy.BootstrapOptions{}, bad("--xds-address", fmt.Errorf("host %q is neither an IP address nor a DNS name", host))
	}
	port, err := strconv.ParseUint(portText, 10, 32)
	if err != nil || portRange(uint32(port)) != nil {
		return envoy.BootstrapOptions{}, bad("--xds-address", fmt.Errorf("%q has a bad port", xdsAddress))
	}
	if net.ParseIP(adminAddress) == nil {
		return envoy.BootstrapOptions{}, bad("--admin-address", fmt.Errorf("%q is not an IP address", adminAddress))
	}
	if err := portRange(adminPort); err != nil {
		return envoy.BootstrapOptions{}, bad("--admin-port", err)
	}
	return envoy.BootstrapOptions{
		NodeID: nodeID, Cluster: cluster, XDSHost: host, XDSPort: uint32(port),
		AdminAddress: adminAddress, AdminPort: adminPort,
	}, nil
}

// nodeText checks a node id or cluster: not empty, valid UTF-8 (the
// bootstrap is JSON), and no control characters.
func nodeText(s string) error {
	if err := nonEmpty(s); err != nil {
		return err
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%q is not valid UTF-8", s)
	}
	if i := strings.IndexFunc(s, unicode.IsControl); i >= 0 {
		return fmt.Errorf("%q holds a control character at byte %d", s, i)
	}
	return nil
}

// isDNSName reports whether host is a DNS name: dot-separated labels of
// letters, digits and hyphens, each 1 to 63 long and not starting or
// ending with a hyphen, 253 characters at most.
func isDNSName(host string) bool {
	host = strings.TrimSuffix(host, ".")
	if host == "" || len(host) > 253 {
		return false
	}
	for _, label := range strings.Split(host, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if r > unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-') {
				return false
			}
		}
	}
	return true
}
