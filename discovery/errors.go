package discovery

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/hashicorp/consul/api"
)

// PermissionError reports that Consul refused a query for lack of permission
// (HTTP 401 or 403, such as "ACL not found" or "Permission denied"). Before
// the first complete model retrying with the same token cannot succeed, so
// Run stops and returns it; after it, the refusal is retried and the last
// model stays in force. Detect it with errors.As.
type PermissionError struct {
	// Path is the refused query, such as "/v1/catalog/services".
	Path string
	// Err is Consul's answer.
	Err error
}

// Error describes the refused query and Consul's answer.
func (e *PermissionError) Error() string {
	return fmt.Sprintf("consul refused %s: %v", e.Path, e.Err)
}

// Unwrap returns Consul's answer.
func (e *PermissionError) Unwrap() error {
	return e.Err
}

// asPermissionError returns a *PermissionError when err is Consul refusing
// the query at path for lack of permission, else nil.
func asPermissionError(path string, err error) *PermissionError {
	var se api.StatusError
	if !errors.As(err, &se) {
		return nil
	}
	if se.Code != http.StatusForbidden && se.Code != http.StatusUnauthorized {
		return nil
	}
	return &PermissionError{Path: path, Err: err}
}

// filteredEmpty returns an error for an answer that is empty only because
// Consul's ACLs filtered it: the token sees nothing, which says nothing about
// what exists, so it must never replace the last known state (a token whose
// policy was narrowed would otherwise empty the whole fleet).
func filteredEmpty(path string, n int, meta *api.QueryMeta) error {
	if n > 0 || meta == nil || !meta.ResultsFilteredByACLs {
		return nil
	}
	return fmt.Errorf("consul answered %s with nothing because ACLs filtered every result: the token cannot see what is registered", path)
}
