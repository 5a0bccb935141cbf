package xds

import (
	"slices"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// ResourceVersion names one resource in force and its version.
type ResourceVersion struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// TypeResources are the resources in force of one type for one kind of
// client or one fleet.
type TypeResources struct {
	// Type is "CDS", "EDS", "LDS", "RDS" or "SDS"; Version the type's
	// version. SDS is listed only when it holds a secret.
	Type      string            `json:"type"`
	Version   string            `json:"version"`
	Resources []ResourceVersion `json:"resources"`
}

// Resources returns what every client of a kind is served: each type's
// version and resources, sorted by name.
func (s *Server) Resources(kind Kind) []TypeResources {
	return s.kinds[kind].resources()
}

// resources returns each type's version and resources in force, sorted by
// name.
func (k *kindState) resources() []TypeResources {
	k.mu.RLock()
	defer k.mu.RUnlock()
	out := make([]TypeResources, 0, numTypes)
	for t := range numTypes {
		tab := k.tables[t]
		tr := TypeResources{Type: typeNames[t], Version: tab.version}
		for _, e := range tab.bySlot {
			if e.live() {
				tr.Resources = append(tr.Resources, ResourceVersion{Name: e.name, Version: e.hash})
			}
		}
		if t == typeSecret && len(tr.Resources) == 0 {
			continue
		}
		slices.SortFunc(tr.Resources, func(a, b ResourceVersion) int { return strings.Compare(a.Name, b.Name) })
		out = append(out, tr)
	}
	return out
}

// ConfigDump returns every resource in force for a kind of client as
// Envoy's JSON, one list per type in ADS order, each sorted by name: what
// an Envoy of that kind would hold after accepting everything.
func (s *Server) ConfigDump(kind Kind) (map[string][]any, error) {
	return s.kinds[kind].configDump()
}

// configDump returns every resource in force as Envoy's JSON, the private
// keys of secrets redacted.
func (k *kindState) configDump() (map[string][]any, error) {
	k.mu.RLock()
	type item struct {
		name string
		msg  proto.Message
	}
	var items [numTypes][]item
	for t := range numTypes {
		for _, e := range k.tables[t].bySlot {
			if !e.live() {
				continue
			}
			msg, err := e.any.UnmarshalNew()
			if err != nil {
				k.mu.RUnlock()
				return nil, err
			}
			items[t] = append(items[t], item{e.name, redacted(msg)})
		}
	}
	k.mu.RUnlock()
	out := make(map[string][]any, numTypes)
	for t := range numTypes {
		if t == typeSecret && len(items[t]) == 0 {
			continue
		}
		slices.SortFunc(items[t], func(a, b item) int { return strings.Compare(a.name, b.name) })
		list := make([]any, 0, len(items[t]))
		for _, it := range items[t] {
			b, err := protojson.Marshal(it.msg)
			if err != nil {
				return nil, err
			}
			list = append(list, rawJSON(b))
		}
		out[typeNames[t]] = list
	}
	return out, nil
}

// rawJSON is JSON already encoded, written as is.
type rawJSON []byte

// MarshalJSON returns the JSON itself.
func (r rawJSON) MarshalJSON() ([]byte, error) {
	return r, nil
}
