package chain

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
)

// checkResolver checks the parts of the service's own resolver that no
// route has to pass through to be wrong.
func (c *compiler) checkResolver(r resolverView) {
	if r.DefaultSubset != "" {
		if _, ok := r.Subsets[r.DefaultSubset]; !ok {
			c.fail(entryErr(KindResolver, c.service, "DefaultSubset", "subset %q is not defined", r.DefaultSubset))
		}
	}
	if r.Redirect != nil && len(r.Subsets) > 0 {
		c.fail(entryErr(KindResolver, c.service, "Redirect", "a resolver that redirects cannot define subsets"))
	}
	if lb := r.LoadBalancer; lb != nil {
		c.checkLoadBalancer(lb.Policy, lb.HashPolicies)
	}
}

// knownPolicy reports whether p is a load-balancing policy Consul defines
// (empty means the default, round robin).
func knownPolicy(p string) bool {
	switch p {
	case "", "round_robin", "least_request", "ring_hash", "maglev", "random":
		return true
	}
	return false
}

// checkLoadBalancer checks a resolver's policy and hash policies.
func (c *compiler) checkLoadBalancer(policy string, hashes []hashPolicyView) {
	if !knownPolicy(policy) {
		c.fail(entryErr(KindResolver, c.service, "LoadBalancer.Policy", "unknown policy %q (want round_robin, least_request, ring_hash, maglev or random)", policy))
	}
	if len(hashes) > 0 && policy != "ring_hash" && policy != "maglev" {
		c.fail(entryErr(KindResolver, c.service, "LoadBalancer.HashPolicies", "hash policies need policy ring_hash or maglev, not %q", policy))
	}
	for i, h := range hashes {
		field := "LoadBalancer.HashPolicies[" + itoa(i) + "]"
		switch {
		case h.SourceIP && (h.Field != "" || h.FieldValue != ""):
			c.fail(entryErr(KindResolver, c.service, field, "SourceIP cannot be combined with Field"))
		case h.SourceIP:
		case h.Field != "header" && h.Field != "cookie" && h.Field != "query_parameter":
			c.fail(entryErr(KindResolver, c.service, field+".Field", "unknown field %q (want header, cookie or query_parameter)", h.Field))
		case h.FieldValue == "":
			c.fail(entryErr(KindResolver, c.service, field+".FieldValue", "names no %s", h.Field))
		}
	}
}

// checkSplitter checks that a splitter's weights are valid and sum to
// 100 %, and reports whether it can be applied.
func (c *compiler) checkSplitter(sp splitterView) bool {
	ok := true
	sum := 0
	for i, s := range sp.Splits {
		if s.Weight < 0 || s.Weight > fullWeight {
			c.fail(entryErr(KindSplitter, sp.Name, "Splits["+itoa(i)+"].Weight", "weight %s is outside 0..100", percent(s.Weight)))
			ok = false
		}
		sum += s.Weight
	}
	if len(sp.Splits) == 0 {
		c.fail(entryErr(KindSplitter, sp.Name, "Splits", "no splits"))
		return false
	}
	if sum != fullWeight {
		c.fail(entryErr(KindSplitter, sp.Name, "Splits", "weights sum to %s, want 100", percent(sum)))
		ok = false
	}
	return ok
}

// percent prints hundredths of a percent as a percentage.
func percent(w int) string {
	return fmt.Sprintf("%d.%02d", w/100, abs(w%100))
}

// abs returns the absolute value of n.
func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// checkMatch checks one router match.
func (c *compiler) checkMatch(field string, m matchView) {
	paths := 0
	for _, p := range []string{m.PathExact, m.PathPrefix, m.PathRegex} {
		if p != "" {
			paths++
		}
	}
	if paths > 1 {
		c.fail(entryErr(KindRouter, c.service, field, "only one of PathExact, PathPrefix and PathRegex may be set"))
	}
	if m.PathExact != "" && m.PathExact[0] != '/' {
		c.fail(entryErr(KindRouter, c.service, field+".PathExact", "%q does not start with /", m.PathExact))
	}
	if m.PathPrefix != "" && m.PathPrefix[0] != '/' {
		c.fail(entryErr(KindRouter, c.service, field+".PathPrefix", "%q does not start with /", m.PathPrefix))
	}
	c.checkRegex(field+".PathRegex", m.PathRegex)
	for i, h := range m.Header {
		c.checkHeader(field+".Header["+itoa(i)+"]", h)
	}
	for i, q := range m.QueryParam {
		qf := field + ".QueryParam[" + itoa(i) + "]"
		if q.Name == "" {
			c.fail(entryErr(KindRouter, c.service, qf+".Name", "is empty"))
		}
		if countSet(q.Present, q.Exact, q.Regex) > 1 {
			c.fail(entryErr(KindRouter, c.service, qf, "only one of Present, Exact and Regex may be set"))
		}
		c.checkRegex(qf+".Regex", q.Regex)
	}
	for i, method := range m.Methods {
		if !validMethod(method) {
			c.fail(entryErr(KindRouter, c.service, field+".Methods["+itoa(i)+"]", "%q is not an HTTP method", method))
		}
	}
}

// checkHeader checks one header match.
func (c *compiler) checkHeader(field string, h headerView) {
	if h.Name == "" {
		c.fail(entryErr(KindRouter, c.service, field+".Name", "is empty"))
	}
	if countSet(h.Present, h.Exact, h.Prefix, h.Suffix, h.Regex) > 1 {
		c.fail(entryErr(KindRouter, c.service, field, "only one of Present, Exact, Prefix, Suffix and Regex may be set"))
	}
	c.checkRegex(field+".Regex", h.Regex)
}

// checkRegex checks that a regular expression is valid RE2, the syntax
// Envoy and gRPC clients use.
func (c *compiler) checkRegex(field, expr string) {
	if expr == "" {
		return
	}
	if _, err := regexp.Compile(expr); err != nil {
		c.fail(entryErr(KindRouter, c.service, field, "%v", err))
	}
}

// countSet counts the set values among a bool and strings.
func countSet(present bool, values ...string) int {
	n := 0
	if present {
		n++
	}
	for _, v := range values {
		if v != "" {
			n++
		}
	}
	return n
}

// validMethod reports whether m is an HTTP method Consul accepts.
func validMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// quote returns s in double quotes.
func quote(s string) string {
	return strconv.Quote(s)
}

// itoa prints an index.
func itoa(i int) string {
	return strconv.Itoa(i)
}
