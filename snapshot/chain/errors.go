package chain

import "fmt"

// EntryError is a config entry Switchyard cannot apply, naming the entry,
// the field and the reason.
type EntryError struct {
	// Kind is the entry's kind, such as "service-splitter", and Entry its
	// name.
	Kind, Entry string
	// Field is the path of the offending field, such as "Splits[1].Weight".
	Field  string
	Reason string
}

// Error returns the entry, the field and the reason in one line.
func (e *EntryError) Error() string {
	return fmt.Sprintf("%s %q: %s: %s", e.Kind, e.Entry, e.Field, e.Reason)
}

// The entry kinds, as Consul names them.
const (
	KindDefaults = "service-defaults"
	KindResolver = "service-resolver"
	KindSplitter = "service-splitter"
	KindRouter   = "service-router"
)

// entryErr returns an EntryError with a formatted reason.
func entryErr(kind, entry, field, format string, args ...any) *EntryError {
	return &EntryError{Kind: kind, Entry: entry, Field: field, Reason: fmt.Sprintf(format, args...)}
}
