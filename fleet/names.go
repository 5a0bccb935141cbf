package fleet

import (
	"errors"
	"fmt"
	"strings"
)

// checkName checks a listener, secret or service name: what Consul and
// Envoy both accept as a resource name without escaping.
func checkName(name string) error {
	if name == "" {
		return errors.New("empty name")
	}
	if len(name) > 128 {
		return fmt.Errorf("%q is longer than 128 characters", name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.", r)) {
			return fmt.Errorf("%q has %q; use letters, digits, '-', '_' and '.'", name, r)
		}
	}
	return nil
}

// checkServerName checks an SNI name: a DNS host name, whose first label
// may be the wildcard "*".
func checkServerName(name string) error {
	host := strings.TrimPrefix(name, "*.")
	labels := strings.Split(host, ".")
	if name == "" || len(name) > 253 || len(labels) < 2 && host != name {
		return fmt.Errorf("%q is not a DNS name", name)
	}
	for _, label := range labels {
		if !validLabel(label) {
			return fmt.Errorf("%q is not a DNS name", name)
		}
	}
	return nil
}

// validLabel reports whether label is one label of a DNS host name.
func validLabel(label string) bool {
	if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
		return false
	}
	for _, r := range label {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}
