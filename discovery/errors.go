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

// aclGuard tells a token that lost permissions from a catalog that shrank.
// Under a token that may read only part of the catalog every answer is
// filtered, and entries come and go as usual; but an answer that is
// filtered when the last accepted one was not, and holds less than it,
// is the token's view narrowing (a policy edited, a token file replaced),
// not services leaving. Such an answer is an error, so the last known
// state stays in force until the token sees as much again. One guard
// serves one watch, whose answers come one at a time.
type aclGuard struct {
	n        int
	filtered bool
	have     bool
}

// check returns an error for an answer of n entries that the token's
// narrowed view explains, and otherwise records it as the last accepted.
func (g *aclGuard) check(path string, n int, meta *api.QueryMeta) error {
	filtered := meta != nil && meta.ResultsFilteredByACLs
	if g.have && filtered && !g.filtered && n < g.n {
		return fmt.Errorf("consul answered %s with %d results where it had %d, filtered by ACLs where it was not before: the token lost permissions; keeping the last known state", path, n, g.n)
	}
	g.n, g.filtered, g.have = n, filtered, true
	return nil
}
