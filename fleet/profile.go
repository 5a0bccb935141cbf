package fleet

// Version is the only schema version this package reads; a profile states
// it so that a later, incompatible schema can be told apart.
const Version = 1

// Protocols a listener may speak.
const (
	ProtocolHTTP  = "http"
	ProtocolHTTPS = "https"
	ProtocolTCP   = "tcp"
)

// Defaults applied by Parse to fields a profile leaves out.
const (
	// DefaultAddress is the bind address of a listener that names none.
	DefaultAddress = "0.0.0.0"
	// DefaultMinTLSVersion is the minimum TLS version of an https listener.
	DefaultMinTLSVersion = "TLSv1_2"
	// DefaultAccessLogPath sends access logs to the proxy's standard output.
	DefaultAccessLogPath = "stdout"
	// DefaultAccessLogFormat writes one plain-text line per request.
	DefaultAccessLogFormat = "text"
	// DefaultRouteTimeout is Envoy's own default route timeout, written out
	// so that a profile shows what its fleet gets.
	DefaultRouteTimeout = "15s"
)

// Profile is the fleet profile of one Envoy fleet (the proxies sharing a
// node.cluster): the listeners they get, the services they see and the
// HTTP defaults of their routes. doc.go documents every field.
type Profile struct {
	Version           int        `json:"version"`
	Listeners         []Listener `json:"listeners"`
	Services          Services   `json:"services"`
	AccessLog         *AccessLog `json:"access_log,omitempty"`
	Routes            Routes     `json:"routes"`
	RequestID         bool       `json:"request_id,omitempty"`
	UseRemoteAddress  bool       `json:"use_remote_address,omitempty"`
	XFFNumTrustedHops int        `json:"xff_num_trusted_hops,omitempty"`
	Health            *Health    `json:"health,omitempty"`
}

// Listener is one port the fleet's proxies listen on.
type Listener struct {
	Name     string `json:"name"`
	Port     int    `json:"port"`
	Protocol string `json:"protocol"`
	Address  string `json:"address,omitempty"`
	// Certificates, MinTLSVersion, ALPN and RedirectHTTPPort apply to
	// https listeners only.
	Certificates     []Certificate `json:"certificates,omitempty"`
	MinTLSVersion    string        `json:"min_tls_version,omitempty"`
	ALPN             []string      `json:"alpn,omitempty"`
	RedirectHTTPPort int           `json:"redirect_http_port,omitempty"`
	// Service applies to tcp listeners only: the one service the
	// listener forwards its connections to.
	Service string `json:"service,omitempty"`
}

// Certificate is one certificate an https listener serves, to the clients
// that ask for one of its SNI names; one certificate without names is the
// default for all other clients.
type Certificate struct {
	SNI    []string `json:"sni,omitempty"`
	Secret string   `json:"secret"`
}

// Services says which Consul services the fleet sees. A service must pass
// every non-empty part; a profile with none of them sees all services.
type Services struct {
	Names []string          `json:"names,omitempty"`
	Tags  []string          `json:"tags,omitempty"`
	Meta  map[string]string `json:"meta,omitempty"`
}

// AccessLog is where and how the fleet's proxies log each request.
type AccessLog struct {
	Path   string   `json:"path"`
	Format string   `json:"format"`
	Fields []string `json:"fields"`
}

// Routes holds the defaults of every route the fleet gets.
type Routes struct {
	Timeout    string `json:"timeout"`
	RetryOn    string `json:"retry_on,omitempty"`
	NumRetries int    `json:"num_retries,omitempty"`
}

// Health is a direct-response endpoint for a load balancer in front of
// the fleet: a GET of Path answers 200 "ok" from the proxy itself.
type Health struct {
	Path string `json:"path"`
	// Port, when set, is a plain-HTTP listener of its own serving only
	// the endpoint; otherwise every http and https listener serves it.
	Port int `json:"port,omitempty"`
}

// DefaultAccessLogFields is the field set of an access log that names
// none, in the order each line carries them.
func DefaultAccessLogFields() []string {
	return []string{
		"start_time", "method", "path", "protocol", "response_code", "response_flags",
		"bytes_received", "bytes_sent", "duration", "upstream_host", "x_forwarded_for",
		"user_agent", "request_id", "authority",
	}
}

// knownAccessLogFields maps each access-log field name to the Envoy
// command operator it stands for.
func knownAccessLogFields() map[string]string {
	return map[string]string{
		"start_time":                "%START_TIME%",
		"method":                    "%REQ(:METHOD)%",
		"path":                      "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
		"protocol":                  "%PROTOCOL%",
		"response_code":             "%RESPONSE_CODE%",
		"response_flags":            "%RESPONSE_FLAGS%",
		"bytes_received":            "%BYTES_RECEIVED%",
		"bytes_sent":                "%BYTES_SENT%",
		"duration":                  "%DURATION%",
		"upstream_service_time":     "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%",
		"upstream_host":             "%UPSTREAM_HOST%",
		"upstream_cluster":          "%UPSTREAM_CLUSTER%",
		"x_forwarded_for":           "%REQ(X-FORWARDED-FOR)%",
		"user_agent":                "%REQ(USER-AGENT)%",
		"request_id":                "%REQ(X-REQUEST-ID)%",
		"authority":                 "%REQ(:AUTHORITY)%",
		"downstream_remote_address": "%DOWNSTREAM_REMOTE_ADDRESS%",
	}
}

// applyDefaults fills in the fields a profile left out. It is idempotent,
// so a parsed profile encodes and parses back to itself.
func (p *Profile) applyDefaults() {
	for i := range p.Listeners {
		l := &p.Listeners[i]
		if l.Address == "" {
			l.Address = DefaultAddress
		}
		if l.Protocol == ProtocolHTTPS && l.MinTLSVersion == "" {
			l.MinTLSVersion = DefaultMinTLSVersion
		}
		if l.Protocol == ProtocolHTTPS && len(l.ALPN) == 0 {
			l.ALPN = []string{"h2", "http/1.1"}
		}
	}
	if a := p.AccessLog; a != nil {
		if a.Path == "" {
			a.Path = DefaultAccessLogPath
		}
		if a.Format == "" {
			a.Format = DefaultAccessLogFormat
		}
		if len(a.Fields) == 0 {
			a.Fields = DefaultAccessLogFields()
		}
	}
	if p.Routes.Timeout == "" {
		p.Routes.Timeout = DefaultRouteTimeout
	}
	if p.Routes.RetryOn != "" && p.Routes.NumRetries == 0 {
		p.Routes.NumRetries = 1
	}
}
