package reliability

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// adminTimeout bounds one request to Switchyard's admin server.
const adminTimeout = 2 * time.Second

// adminClient reads Switchyard's admin endpoints.
type adminClient struct {
	addr string
	http *http.Client
}

// newAdmin returns a client for the admin server at addr.
func newAdmin(addr string) adminClient {
	return adminClient{addr: addr, http: &http.Client{Timeout: adminTimeout}}
}

// get fetches path and returns its body, failing on a status other than
// 200.
func (a adminClient) get(path string) ([]byte, error) {
	resp, err := a.http.Get("http://" + a.addr + path)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get %s: status %d: %s", path, resp.StatusCode, body)
	}
	return body, nil
}

// getJSON decodes path into out.
func (a adminClient) getJSON(path string, out any) error {
	body, err := a.get(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

// consulStatus is the Consul part of /status.
type consulStatus struct {
	Ready       bool      `json:"ready"`
	LastSuccess time.Time `json:"last_success"`
	Age         string    `json:"age"`
	LastError   string    `json:"last_error"`
	Failing     bool      `json:"failing"`
	Instances   int       `json:"instances"`
}

// status is the part of /status the suite reads.
type status struct {
	Ready    bool                         `json:"ready"`
	Consul   consulStatus                 `json:"consul"`
	Versions map[string]map[string]string `json:"versions"`
}

// status reads /status.
func (a adminClient) status() (status, error) {
	var s status
	err := a.getJSON("/status", &s)
	return s, err
}

// serviceView is the part of /v1/services the suite reads.
type serviceView struct {
	Name      string `json:"name"`
	Instances []struct {
		ID     string `json:"id"`
		Health string `json:"health"`
	} `json:"instances"`
}

// instances returns the ids of the instances /v1/services lists for
// service.
func (a adminClient) instances(service string) (map[string]bool, error) {
	var all []serviceView
	if err := a.getJSON("/v1/services", &all); err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, s := range all {
		if s.Name != service {
			continue
		}
		for _, in := range s.Instances {
			out[in.ID] = true
		}
	}
	return out, nil
}

// configDump returns /debug/config_dump for a kind of client: each type's
// resources as raw JSON.
func (a adminClient) configDump(kind string) (map[string][]json.RawMessage, error) {
	var d struct {
		Resources map[string][]json.RawMessage `json:"resources"`
	}
	if err := a.getJSON("/debug/config_dump?group="+kind, &d); err != nil {
		return nil, err
	}
	return d.Resources, nil
}
