package fleet

import (
	"fmt"
	"path"
	"slices"
)

// Match reports whether the fleet sees a service of this name, tags and
// meta: its name matches one of the names (exactly or as a glob), it has
// every tag and every meta pair. Parts the profile leaves empty match
// every service.
func (p Profile) Match(service string, tags []string, meta map[string]string) bool {
	s := p.Services
	if len(s.Names) > 0 && !slices.ContainsFunc(s.Names, func(pattern string) bool { return matchName(pattern, service) }) {
		return false
	}
	for _, tag := range s.Tags {
		if !slices.Contains(tags, tag) {
			return false
		}
	}
	for k, want := range s.Meta {
		if got, ok := meta[k]; !ok || got != want {
			return false
		}
	}
	return true
}

// matchName reports whether name matches pattern, a service name or a
// path.Match glob; an invalid glob matches nothing.
func matchName(pattern, name string) bool {
	ok, err := path.Match(pattern, name)
	return err == nil && ok
}

// Warnings returns what is suspicious but not wrong in the profile given
// the names of the services in the catalog: a name or glob in services
// that matches none of them, and a tcp listener's service that is not
// among them. Such a profile is accepted; the catalog may catch up.
func (p Profile) Warnings(services []string) []string {
	var out []string
	for i, pattern := range p.Services.Names {
		if !slices.ContainsFunc(services, func(s string) bool { return matchName(pattern, s) }) {
			out = append(out, fmt.Sprintf("services.names[%d]: %q matches no service in the catalog", i, pattern))
		}
	}
	for i, l := range p.Listeners {
		if l.Protocol == ProtocolTCP && l.Service != "" && !slices.Contains(services, l.Service) {
			out = append(out, fmt.Sprintf("listeners[%d].service: %q is not in the catalog", i, l.Service))
		}
	}
	return out
}
