package main

import (
	"github.com/spf13/cobra"
)

// newServeCommand builds `switchyard serve`.
func newServeCommand() *cobra.Command {
	cfg := defaultServeConfig()
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Watch Consul and serve xDS",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.validate(); err != nil {
				return err
			}
			log := newLogger(cmd.ErrOrStderr(), cfg.LogLevel, cfg.LogFormat)
			a, err := newApp(cfg, log)
			if err != nil {
				return err
			}
			return a.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.ConsulAddr, "consul-addr", cfg.ConsulAddr, "Consul HTTP address (default: $CONSUL_HTTP_ADDR, else 127.0.0.1:8500); token and TLS come from Consul's own CONSUL_* variables")
	f.StringVar(&cfg.Datacenter, "datacenter", cfg.Datacenter, "Consul datacenter to watch (default: the agent's)")
	f.StringVar(&cfg.XDSAddr, "xds-addr", cfg.XDSAddr, "address the xDS gRPC server (state of the world and delta) listens on")
	f.StringVar(&cfg.AdminAddr, "admin-addr", cfg.AdminAddr, "address of the admin HTTP server (/healthz, /readyz, /metrics, /status)")
	f.Uint32Var(&cfg.EnvoyListenerPort, "envoy-listener-port", cfg.EnvoyListenerPort, "port of the HTTP listener sent to Envoy proxies")
	f.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "log level: debug, info, warn, error")
	f.StringVar(&cfg.LogFormat, "log-format", cfg.LogFormat, "log format: text or json")
	f.DurationVar(&cfg.DebounceQuiet, "debounce-quiet", cfg.DebounceQuiet, "quiet period that ends a burst of Consul changes before a snapshot is built")
	f.DurationVar(&cfg.DebounceMax, "debounce-max", cfg.DebounceMax, "longest a burst of Consul changes may delay a snapshot")
	f.DurationVar(&cfg.StaleAfter, "stale-after", cfg.StaleAfter, "how long a proxy may leave a response unanswered before it counts as STALE in /v1/proxies")
	f.DurationVar(&cfg.ConsulWait, "consul-wait", cfg.ConsulWait, "wait time of each Consul blocking query")
	f.IntVar(&cfg.ConsulMaxConns, "consul-max-conns", cfg.ConsulMaxConns, "most HTTP connections held to the Consul agent (11–200; the agent refuses more than its limits.http_max_conns_per_client, 200 by default)")
	f.BoolVar(&cfg.Register, "register", cfg.Register, "register this replica in Consul as service \"switchyard\" (admin address, /healthz check) so that `switchyard status` finds it")
	f.BoolVar(&cfg.Rollouts, "rollouts", cfg.Rollouts, "run the rollout controller: the replica holding the Consul lock switchyard/rollouts/.leader applies the steps of `switchyard rollout`s")
	f.DurationVar(&cfg.RolloutTick, "rollout-tick", cfg.RolloutTick, "how often the rollout controller checks the gates and steps of every running rollout (50ms–1m)")
	f.DurationVar(&cfg.RolloutLockTTL, "rollout-lock-ttl", cfg.RolloutLockTTL, "TTL of the Consul session behind the rollout leader lock (10s–10m): another replica takes over from a leader that died without a word up to twice that later")
	f.BoolVar(&cfg.LoadReporting, "load-reporting", cfg.LoadReporting, "name Switchyard as the LRS server of every cluster, so proxies report their request counts (used by rollout --max-error-rate)")
	f.DurationVar(&cfg.LoadReportInterval, "load-report-interval", cfg.LoadReportInterval, "how often proxies are asked to send their load reports (100ms–1m)")
	addLimitFlags(cmd, &cfg)
	f.StringVar(&cfg.TLS.CertFile, "tls-cert", "", "PEM certificate chain of the xDS server: serve xDS over TLS (reloaded when the file changes)")
	f.StringVar(&cfg.TLS.KeyFile, "tls-key", "", "PEM private key of --tls-cert (reloaded when the file changes)")
	f.StringVar(&cfg.TLS.ClientCAFile, "tls-client-ca", "", "PEM CA bundle: require xDS clients to present a certificate it signed (mutual TLS; reloaded when the file changes)")
	f.BoolVar(&cfg.TLS.AuthzNodeIdentity, "authz-node-identity", false, "refuse a stream whose node.cluster is not a DNS or URI SAN (or a URI SAN's last path segment) of its client certificate; needs --tls-client-ca")
	f.BoolVar(&cfg.TLS.Insecure, "insecure", false, "allow plaintext xDS on an --xds-addr that is not loopback")
	f.StringVar(&cfg.MaxEndpointDrop, "max-endpoint-drop", cfg.MaxEndpointDrop, "largest share of a service's serving endpoints one update may remove at once (0%–100%); a bigger drop is held for --drop-confirm; 100% turns the drop guard off")
	f.StringVar(&cfg.FleetCertDir, "fleet-cert-dir", cfg.FleetCertDir, "directory of certificate bundles <name>.pem (chain and key, PEM) that fleet profiles may serve besides those in Consul KV (switchyard/certs/<name> wins over a file of the same name)")
	f.DurationVar(&cfg.FleetCertInterval, "fleet-cert-interval", cfg.FleetCertInterval, "how often --fleet-cert-dir is read again (100ms–1h)")
	f.DurationVar(&cfg.DropConfirm, "drop-confirm", cfg.DropConfirm, "how long a held endpoint drop must persist before it is applied (0s–10m; 0s applies drops at once)")
	return cmd
}

// addLimitFlags adds the flags of the xDS limits and the Consul token file.
func addLimitFlags(cmd *cobra.Command, cfg *serveConfig) {
	f, l := cmd.Flags(), &cfg.XDSLimits
	f.Uint32Var(&l.MaxStreamsPerConn, "max-streams-per-conn", l.MaxStreamsPerConn, "most concurrent xDS streams on one client connection (1–100000)")
	f.IntVar(&l.MaxMsgSize, "max-msg-size", l.MaxMsgSize, "largest xDS message received or sent, in bytes (1 MiB–256 MiB; gRPC's own receive default is 4 MiB)")
	f.DurationVar(&l.KeepaliveMinPing, "keepalive-min-ping", l.KeepaliveMinPing, "most often a client may ping (1s–10m); one pinging more often gets GOAWAY too_many_pings and loses its connection")
	f.DurationVar(&l.MaxConnectionAge, "max-connection-age", l.MaxConnectionAge, "close xDS connections after about this long (±10% jitter, 10s–24h) so clients spread over the replicas again")
	f.DurationVar(&l.ShutdownGrace, "shutdown-grace", l.ShutdownGrace, "how long shutdown waits for xDS streams to end before closing them (100ms–10m)")
	f.Float64Var(&l.MaxNewStreamsPerSecond, "max-new-streams-per-second", l.MaxNewStreamsPerSecond, "most new xDS streams admitted a second, with a burst of one second's worth (1–100000); a stream over it waits its turn up to 10s, then is refused with UNAVAILABLE and retried by its client")
	f.StringVar(&cfg.ConsulTokenFile, "consul-token-file", cfg.ConsulTokenFile, "file holding the Consul ACL token (default: $CONSUL_HTTP_TOKEN_FILE); re-read when it changes, so a rotated token is used without a restart")
}
