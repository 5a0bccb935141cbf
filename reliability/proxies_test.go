package reliability

// proxyType is one xDS type of a stream in /v1/proxies.
type proxyType struct {
	Type       string `json:"type"`
	State      string `json:"state"`
	Sent       string `json:"sent_version"`
	Accepted   string `json:"accepted_version"`
	Responses  uint64 `json:"responses"`
	Rejections uint64 `json:"rejections"`
	Rejection  *struct {
		Version string `json:"version"`
		Error   string `json:"error"`
	} `json:"rejection"`
}

// proxyView is the part of one /v1/proxies entry the suite reads.
type proxyView struct {
	ID    string      `json:"id"`
	Kind  string      `json:"kind"`
	State string      `json:"state"`
	Types []proxyType `json:"types"`
}

// typ returns the proxy's state for a type ("CDS", "EDS", "LDS", "RDS"),
// the zero value if it has none.
func (p proxyView) typ(name string) proxyType {
	for _, t := range p.Types {
		if t.Type == name {
			return t
		}
	}
	return proxyType{}
}

// proxies reads /v1/proxies and returns the streams of node id; none
// when it is not connected.
func (a adminClient) proxies(id string) ([]proxyView, error) {
	var all []proxyView
	if err := a.getJSON("/v1/proxies", &all); err != nil {
		return nil, err
	}
	var out []proxyView
	for _, p := range all {
		if p.ID == id {
			out = append(out, p)
		}
	}
	return out, nil
}
