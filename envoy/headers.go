package envoy

import (
	"maps"
	"slices"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

// HeaderModifiers add, set and remove the headers of a request or a
// response. Add appends a value (keeping any already there), Set replaces
// it; both are applied in key order so that output is deterministic.
type HeaderModifiers struct {
	Add, Set map[string]string
	Remove   []string
}

// empty reports whether m changes nothing.
func (m HeaderModifiers) empty() bool {
	return len(m.Add) == 0 && len(m.Set) == 0 && len(m.Remove) == 0
}

// headersToAdd returns m's added and set headers as Envoy header options.
func headersToAdd(m HeaderModifiers) []*corev3.HeaderValueOption {
	var out []*corev3.HeaderValueOption
	for _, k := range slices.Sorted(maps.Keys(m.Add)) {
		out = append(out, &corev3.HeaderValueOption{
			Header:       &corev3.HeaderValue{Key: k, Value: m.Add[k]},
			AppendAction: corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD,
		})
	}
	for _, k := range slices.Sorted(maps.Keys(m.Set)) {
		out = append(out, &corev3.HeaderValueOption{
			Header:       &corev3.HeaderValue{Key: k, Value: m.Set[k]},
			AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
		})
	}
	return out
}

// headersToRemove returns m's removed headers, sorted.
func headersToRemove(m HeaderModifiers) []string {
	if len(m.Remove) == 0 {
		return nil
	}
	return slices.Sorted(slices.Values(m.Remove))
}

// mergeModifiers returns a with b's changes added, b's winning on a key
// both set or add.
func mergeModifiers(a, b HeaderModifiers) HeaderModifiers {
	if b.empty() {
		return a
	}
	out := HeaderModifiers{Add: maps.Clone(a.Add), Set: maps.Clone(a.Set), Remove: slices.Clone(a.Remove)}
	if out.Add == nil && len(b.Add) > 0 {
		out.Add = map[string]string{}
	}
	if out.Set == nil && len(b.Set) > 0 {
		out.Set = map[string]string{}
	}
	maps.Copy(out.Add, b.Add)
	maps.Copy(out.Set, b.Set)
	out.Remove = append(out.Remove, b.Remove...)
	return out
}
