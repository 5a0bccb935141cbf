package fleet

import (
	"errors"
	"fmt"
	"net"
	"path"
	"slices"
	"strings"
	"time"
)

// Validate returns every problem of the profile, joined, each naming the
// path of its field, such as `listeners[1].port: 70000 is not a port
// (1–65535)`. It expects the defaults Parse fills in.
func (p Profile) Validate() error {
	var v validator
	if p.Version != Version {
		v.add("version", "%d is not a supported version (want %d)", p.Version, Version)
	}
	v.listeners(p.Listeners)
	v.services(p.Services)
	if p.AccessLog != nil {
		v.accessLog(*p.AccessLog)
	}
	v.routes(p.Routes)
	if p.XFFNumTrustedHops < 0 {
		v.add("xff_num_trusted_hops", "%d is negative", p.XFFNumTrustedHops)
	}
	if p.Health != nil {
		v.health(*p.Health, p.Listeners)
	}
	return errors.Join(v.errs...)
}

// validator gathers the problems of one profile, and the ports already
// taken so that a clash names the field that took the port first.
type validator struct {
	errs  []error
	ports []portUse
}

// portUse is a port some field of the profile listens on.
type portUse struct {
	field   string
	address string
	port    int
}

// add records a problem of the field at path.
func (v *validator) add(path, format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
}

// port checks a port number and records its use; address is the bind
// address, and a wildcard address clashes with every other one.
func (v *validator) port(field, address string, port int) {
	if port < 1 || port > 65535 {
		v.add(field, "%d is not a port (1–65535)", port)
		return
	}
	for _, u := range v.ports {
		if u.port == port && (u.address == address || isWildcard(u.address) || isWildcard(address)) {
			v.add(field, "%d is also %s", port, u.field)
			return
		}
	}
	v.ports = append(v.ports, portUse{field: field, address: address, port: port})
}

// isWildcard reports whether a bind address listens on every interface.
func isWildcard(address string) bool {
	ip := net.ParseIP(address)
	return ip != nil && ip.IsUnspecified()
}

// listeners checks each listener and the clashes between them.
func (v *validator) listeners(ls []Listener) {
	if len(ls) == 0 {
		v.add("listeners", "a fleet profile needs at least one listener")
	}
	names := map[string]string{}
	for i, l := range ls {
		at := fmt.Sprintf("listeners[%d]", i)
		if err := checkName(l.Name); err != nil {
			v.add(at+".name", "%v", err)
		} else if first, dup := names[l.Name]; dup {
			v.add(at+".name", "%q is also %s", l.Name, first)
		} else {
			names[l.Name] = at + ".name"
		}
		if net.ParseIP(l.Address) == nil {
			v.add(at+".address", "%q is not an IP address", l.Address)
		}
		v.port(at+".port", l.Address, l.Port)
		switch l.Protocol {
		case ProtocolHTTP, ProtocolTCP, ProtocolHTTPS:
		default:
			v.add(at+".protocol", "%q is not one of http, https, tcp", l.Protocol)
		}
		v.httpsFields(at, l)
		v.tcpFields(at, l)
	}
}

// httpsFields checks the fields of an https listener, or that a listener
// of another protocol sets none of them.
func (v *validator) httpsFields(at string, l Listener) {
	if l.Protocol != ProtocolHTTPS {
		for _, f := range []struct {
			name string
			set  bool
		}{
			{"certificates", len(l.Certificates) > 0}, {"min_tls_version", l.MinTLSVersion != ""},
			{"alpn", len(l.ALPN) > 0}, {"redirect_http_port", l.RedirectHTTPPort != 0},
		} {
			if f.set {
				v.add(at+"."+f.name, "applies to https listeners only, not %s", l.Protocol)
			}
		}
		return
	}
	v.certificates(at, l.Certificates)
	if l.MinTLSVersion != "TLSv1_2" && l.MinTLSVersion != "TLSv1_3" {
		v.add(at+".min_tls_version", "%q is not one of TLSv1_2, TLSv1_3", l.MinTLSVersion)
	}
	for j, proto := range l.ALPN {
		field := fmt.Sprintf("%s.alpn[%d]", at, j)
		if proto != "h2" && proto != "http/1.1" {
			v.add(field, "%q is not one of h2, http/1.1", proto)
		} else if k := slices.Index(l.ALPN, proto); k < j {
			v.add(field, "%q is also %s.alpn[%d]", proto, at, k)
		}
	}
	if l.RedirectHTTPPort != 0 {
		v.port(at+".redirect_http_port", l.Address, l.RedirectHTTPPort)
	}
}

// certificates checks an https listener's certificates: a secret name
// each, valid SNI names served by one certificate only, and at most one
// default certificate without names.
func (v *validator) certificates(at string, certs []Certificate) {
	if len(certs) == 0 {
		v.add(at+".certificates", "an https listener needs at least one certificate")
	}
	sni := map[string]string{}
	defaultCert := ""
	for j, c := range certs {
		ct := fmt.Sprintf("%s.certificates[%d]", at, j)
		if err := checkName(c.Secret); err != nil {
			v.add(ct+".secret", "%v", err)
		}
		if len(c.SNI) == 0 {
			if defaultCert != "" {
				v.add(ct+".sni", "no names, and %s is already the default certificate", defaultCert)
			}
			defaultCert = ct
		}
		for k, name := range c.SNI {
			field := fmt.Sprintf("%s.sni[%d]", ct, k)
			if err := checkServerName(name); err != nil {
				v.add(field, "%v", err)
			} else if first, dup := sni[strings.ToLower(name)]; dup {
				v.add(field, "%q is also %s", name, first)
			} else {
				sni[strings.ToLower(name)] = field
			}
		}
	}
}

// tcpFields checks that a tcp listener names its service, and that a
// listener of another protocol names none.
func (v *validator) tcpFields(at string, l Listener) {
	switch {
	case l.Protocol == ProtocolTCP && l.Service == "":
		v.add(at+".service", "a tcp listener needs the service it forwards to")
	case l.Protocol == ProtocolTCP:
		if err := checkName(l.Service); err != nil {
			v.add(at+".service", "%v", err)
		}
	case l.Service != "":
		v.add(at+".service", "applies to tcp listeners only, not %s", l.Protocol)
	}
}

// services checks the fleet's service scope.
func (v *validator) services(s Services) {
	for i, name := range s.Names {
		field := fmt.Sprintf("services.names[%d]", i)
		if name == "" {
			v.add(field, "empty name")
		} else if _, err := path.Match(name, ""); err != nil {
			v.add(field, "%q is not a valid glob", name)
		}
	}
	for i, tag := range s.Tags {
		if tag == "" {
			v.add(fmt.Sprintf("services.tags[%d]", i), "empty tag")
		}
	}
	for k := range s.Meta {
		if k == "" {
			v.add(`services.meta[""]`, "empty key")
		}
	}
}

// accessLog checks the access log's destination, format and fields.
func (v *validator) accessLog(a AccessLog) {
	if a.Path != "stdout" && !strings.HasPrefix(a.Path, "/") {
		v.add("access_log.path", `%q is neither "stdout" nor an absolute file path`, a.Path)
	}
	if a.Format != "text" && a.Format != "json" {
		v.add("access_log.format", "%q is not one of text, json", a.Format)
	}
	known := knownAccessLogFields()
	for i, f := range a.Fields {
		field := fmt.Sprintf("access_log.fields[%d]", i)
		if _, ok := known[f]; !ok {
			v.add(field, "%q is not a known field (see the fleet package documentation)", f)
		} else if j := slices.Index(a.Fields, f); j < i {
			v.add(field, "%q is also access_log.fields[%d]", f, j)
		}
	}
}

// retryConditions are the retry conditions of Envoy's x-envoy-retry-on
// that a fleet may ask for.
func retryConditions() []string {
	return []string{
		"5xx", "gateway-error", "reset", "connect-failure", "envoy-ratelimited",
		"retriable-4xx", "refused-stream", "retriable-status-codes", "retriable-headers",
	}
}

// routes checks the route defaults.
func (v *validator) routes(r Routes) {
	if d, err := time.ParseDuration(r.Timeout); err != nil {
		v.add("routes.timeout", "%q is not a duration such as 15s or 1m", r.Timeout)
	} else if d < 0 {
		v.add("routes.timeout", "%q is negative", r.Timeout)
	}
	if r.RetryOn != "" {
		known := retryConditions()
		for cond := range strings.SplitSeq(r.RetryOn, ",") {
			if !slices.Contains(known, strings.TrimSpace(cond)) {
				v.add("routes.retry_on", "%q is not one of %s", strings.TrimSpace(cond), strings.Join(known, ", "))
			}
		}
	}
	switch {
	case r.NumRetries < 0 || r.NumRetries > 10:
		v.add("routes.num_retries", "%d is not in range 0–10", r.NumRetries)
	case r.NumRetries > 0 && r.RetryOn == "":
		v.add("routes.num_retries", "retries need routes.retry_on")
	}
}

// health checks the health endpoint and that some listener serves it.
func (v *validator) health(h Health, ls []Listener) {
	if !strings.HasPrefix(h.Path, "/") || strings.ContainsAny(h.Path, " ?#") {
		v.add("health.path", "%q is not a path such as /healthz", h.Path)
	}
	if h.Port != 0 {
		v.port("health.port", DefaultAddress, h.Port)
		return
	}
	if !slices.ContainsFunc(ls, func(l Listener) bool { return l.Protocol != ProtocolTCP }) {
		v.add("health", "no http or https listener to serve it on; set health.port")
	}
}
