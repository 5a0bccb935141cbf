package main

import (
	"fmt"
	"net"
	"strconv"

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
	if err := nonEmpty(nodeID); err != nil {
		return envoy.BootstrapOptions{}, bad("--node-id", err)
	}
	if err := nonEmpty(cluster); err != nil {
		return envoy.BootstrapOptions{}, bad("--cluster", err)
	}
	host, portText, err := net.SplitHostPort(xdsAddress)
	if err != nil || host == "" {
		return envoy.BootstrapOptions{}, bad("--xds-address", fmt.Errorf("%q is not host:port", xdsAddress))
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
