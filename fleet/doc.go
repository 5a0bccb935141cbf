// Package fleet holds fleet profiles: what one Envoy fleet (the proxies
// sharing a node.cluster) gets from Switchyard, stored in Consul KV under
// switchyard/fleets/<node.cluster>. This package parses and validates
// profiles and certificate bundles; package snapshot translates a profile
// into its fleet's resources.
//
// A certificate a profile serves (certificates[].secret) is a PEM bundle —
// the certificate chain, leaf first, and its private key — stored in
// Consul KV at switchyard/certs/<secret>, or in the file <secret>.pem of
// the directory `switchyard serve --fleet-cert-dir` names. ParseCertBundle
// checks that the key belongs to the leaf; its errors never quote the key.
//
// It imports only the standard library and sigs.k8s.io/yaml.
//
// # Schema, version 1
//
// A profile is a JSON object, or the same in YAML:
//
//	version               required, must be 1
//	listeners             required, at least one:
//	  name                required; letters, digits, '-', '_', '.'; unique
//	  port                required, 1–65535; no two listeners (nor a
//	                      redirect or health port) share a port on the
//	                      same address, and 0.0.0.0 or :: clashes with all
//	  protocol            required: http, https or tcp
//	  address             bind address, an IP; default 0.0.0.0
//	  certificates        https only, at least one: {sni, secret}
//	    sni               DNS names served this certificate, "*.x.y"
//	                      wildcards allowed, each name on one certificate
//	                      only; a single certificate may leave it empty to
//	                      be the default for every other client
//	    secret            required; the name of the SDS secret
//	  min_tls_version     https only: TLSv1_2 (default) or TLSv1_3
//	  alpn                https only: h2 and/or http/1.1; default both
//	  redirect_http_port  https only, optional: a plain-HTTP listener on
//	                      this port answering every request with a redirect
//	                      to https
//	  service             tcp only, required: the service it forwards to
//	services              which services the fleet sees; a service must
//	                      pass every non-empty part; all empty = every
//	                      service:
//	  names               service names or path.Match globs ("web-*")
//	  tags                tags a service must all carry
//	  meta                service meta pairs a service must all carry
//	access_log            optional; no access log when absent:
//	  path                "stdout" (default) or an absolute file path
//	  format              text (default) or json
//	  fields              the fields of each line, in order; default
//	                      start_time, method, path, protocol, response_code,
//	                      response_flags, bytes_received, bytes_sent,
//	                      duration, upstream_host, x_forwarded_for,
//	                      user_agent, request_id, authority; also known:
//	                      upstream_service_time, upstream_cluster,
//	                      downstream_remote_address
//	routes                defaults of every route:
//	  timeout             a Go duration, default 15s; 0s disables it
//	  retry_on            comma-separated Envoy retry conditions: 5xx,
//	                      gateway-error, reset, connect-failure,
//	                      envoy-ratelimited, retriable-4xx, refused-stream,
//	                      retriable-status-codes, retriable-headers
//	  num_retries         0–10; default 1 when retry_on is set
//	request_id            generate x-request-id when a request has none
//	use_remote_address    trust the peer address rather than
//	                      x-forwarded-for for the client address
//	xff_num_trusted_hops  x-forwarded-for hops to trust; not negative
//	health                optional direct-response endpoint for a load
//	                      balancer in front of the fleet:
//	  path                required, such as /healthz; answers 200 "ok"
//	  port                optional: a plain-HTTP listener of its own;
//	                      otherwise every http and https listener serves
//	                      the path
//
// An unknown field anywhere is an error, as is a value of the wrong type.
// Parse and Validate report every problem at once, each prefixed with the
// path of its field, such as "listeners[1].port: 70000 is not a port
// (1–65535)". Warnings reports what is suspicious but accepted, such as a
// glob that matches no service in the catalog.
package fleet
