package envoy

import (
	"regexp"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// methodHeader is the pseudo-header Envoy matches the HTTP method against.
const methodHeader = ":method"

// RouteSpec is one route: what it matches and where it sends the request.
type RouteSpec struct {
	Match  RouteMatch
	Action RouteAction
	// RequestHeaders and ResponseHeaders change the headers of requests
	// the route matches and of their responses.
	RequestHeaders, ResponseHeaders HeaderModifiers
}

// RouteMatch selects requests. At most one of PathExact, PathPrefix and
// PathRegex should be set, and they are tried in that order; none means
// prefix "/". Every header, query parameter and method condition must hold.
//
// Proxyless gRPC clients ignore a route that matches query parameters, and
// a route with Methods never matches for them: gRPC does not expose
// ":method" to route matching.
type RouteMatch struct {
	// PathExact, PathPrefix and PathRegex match the path; PathRegex is an
	// RE2 regular expression that must match the whole path.
	PathExact, PathPrefix, PathRegex string
	// Headers must all match.
	Headers []HeaderMatch
	// QueryParams must all match.
	QueryParams []QueryParamMatch
	// Methods, if any, are the HTTP methods accepted, e.g. GET and POST.
	Methods []string
	// CaseInsensitive matches the path without regard to case.
	CaseInsensitive bool
	// NeverMatches makes the route match no request (a runtime fraction
	// of 0 %): it only keeps its clusters in a gRPC client's config, so
	// that a later route sending traffic to them finds them ready.
	NeverMatches bool
}

// HeaderMatch matches one request header. At most one of Present, Exact,
// Prefix, Suffix and Regex should be set, and they are tried in that order;
// none set matches a present header, like Present.
type HeaderMatch struct {
	// Name is the header name.
	Name string
	// Present matches if the header is there, whatever its value.
	Present bool
	// Exact, Prefix and Suffix match the value as a string; Regex is an RE2
	// regular expression that must match the whole value.
	Exact, Prefix, Suffix, Regex string
	// Invert negates the match.
	Invert bool
}

// QueryParamMatch matches one query parameter. At most one of Present, Exact
// and Regex should be set, tried in that order; none set matches a present
// parameter, like Present.
type QueryParamMatch struct {
	// Name is the parameter name.
	Name string
	// Present matches if the parameter is there, whatever its value.
	Present bool
	// Exact matches the value as a string; Regex is an RE2 regular
	// expression that must match the whole value.
	Exact, Regex string
}

// Routes returns one route per spec, in the order given; Envoy and gRPC take
// the first route that matches, so the caller puts the most specific first.
func Routes(specs []RouteSpec) []*routev3.Route {
	routes := make([]*routev3.Route, 0, len(specs))
	for _, s := range specs {
		if len(s.Action.Clusters) == 1 {
			// A lone cluster is no weighted cluster to carry its headers.
			c := s.Action.Clusters[0]
			s.RequestHeaders = mergeModifiers(s.RequestHeaders, c.RequestHeaders)
			s.ResponseHeaders = mergeModifiers(s.ResponseHeaders, c.ResponseHeaders)
		}
		routes = append(routes, &routev3.Route{
			Match:                   routeMatch(s.Match),
			Action:                  &routev3.Route_Route{Route: routeAction(s.Action)},
			RequestHeadersToAdd:     headersToAdd(s.RequestHeaders),
			RequestHeadersToRemove:  headersToRemove(s.RequestHeaders),
			ResponseHeadersToAdd:    headersToAdd(s.ResponseHeaders),
			ResponseHeadersToRemove: headersToRemove(s.ResponseHeaders),
		})
	}
	return routes
}

// VirtualHostWithRoutes returns a virtual host for domains holding routes, in
// the order given.
func VirtualHostWithRoutes(name string, domains []string, routes []*routev3.Route) *routev3.VirtualHost {
	return &routev3.VirtualHost{
		Name:    name,
		Domains: domains,
		Routes:  routes,
	}
}

// routeMatch returns m as Envoy's route match, with the method condition
// after the other header conditions.
func routeMatch(m RouteMatch) *routev3.RouteMatch {
	rm := pathMatch(m)
	for _, h := range m.Headers {
		rm.Headers = append(rm.Headers, headerMatcher(h))
	}
	if len(m.Methods) > 0 {
		rm.Headers = append(rm.Headers, methodMatcher(m.Methods))
	}
	for _, q := range m.QueryParams {
		rm.QueryParameters = append(rm.QueryParameters, queryParameterMatcher(q))
	}
	if m.CaseInsensitive {
		rm.CaseSensitive = wrapperspb.Bool(false)
	}
	if m.NeverMatches {
		rm.RuntimeFraction = &corev3.RuntimeFractionalPercent{
			DefaultValue: &typev3.FractionalPercent{Numerator: 0, Denominator: typev3.FractionalPercent_HUNDRED},
			RuntimeKey:   "switchyard.never_matches",
		}
	}
	return rm
}

// pathMatch returns a route match on the first path condition of m that is
// set, or on prefix "/".
func pathMatch(m RouteMatch) *routev3.RouteMatch {
	switch {
	case m.PathExact != "":
		return &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Path{Path: m.PathExact}}
	case m.PathPrefix != "":
		return &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: m.PathPrefix}}
	case m.PathRegex != "":
		return &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_SafeRegex{SafeRegex: regexMatcher(m.PathRegex)}}
	default:
		return &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}}
	}
}

// headerMatcher returns h as a header matcher on a string match, or on
// presence when h asks for it or sets no value to match.
func headerMatcher(h HeaderMatch) *routev3.HeaderMatcher {
	hm := &routev3.HeaderMatcher{Name: h.Name, InvertMatch: h.Invert}
	if sm := stringMatcher(h.Exact, h.Prefix, h.Suffix, h.Regex); sm != nil && !h.Present {
		hm.HeaderMatchSpecifier = &routev3.HeaderMatcher_StringMatch{StringMatch: sm}
	} else {
		hm.HeaderMatchSpecifier = &routev3.HeaderMatcher_PresentMatch{PresentMatch: true}
	}
	return hm
}

// methodMatcher returns a match of the :method pseudo-header against any of
// methods, as one regular expression (Consul does the same), since a route
// cannot otherwise express "one of".
func methodMatcher(methods []string) *routev3.HeaderMatcher {
	quoted := make([]string, len(methods))
	for i, m := range methods {
		quoted[i] = regexp.QuoteMeta(m)
	}
	return &routev3.HeaderMatcher{
		Name: methodHeader,
		HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: &matcherv3.StringMatcher{
			MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: regexMatcher(strings.Join(quoted, "|"))},
		}},
	}
}

// queryParameterMatcher returns q as a query parameter matcher on a string
// match, or on presence when q asks for it or sets no value to match.
func queryParameterMatcher(q QueryParamMatch) *routev3.QueryParameterMatcher {
	qm := &routev3.QueryParameterMatcher{Name: q.Name}
	if sm := stringMatcher(q.Exact, "", "", q.Regex); sm != nil && !q.Present {
		qm.QueryParameterMatchSpecifier = &routev3.QueryParameterMatcher_StringMatch{StringMatch: sm}
	} else {
		qm.QueryParameterMatchSpecifier = &routev3.QueryParameterMatcher_PresentMatch{PresentMatch: true}
	}
	return qm
}

// stringMatcher returns a matcher on the first of exact, prefix, suffix and
// regex that is set, or nil if none is.
func stringMatcher(exact, prefix, suffix, regex string) *matcherv3.StringMatcher {
	switch {
	case exact != "":
		return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: exact}}
	case prefix != "":
		return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: prefix}}
	case suffix != "":
		return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Suffix{Suffix: suffix}}
	case regex != "":
		return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: regexMatcher(regex)}}
	default:
		return nil
	}
}

// regexMatcher returns an RE2 regex matcher. The engine is left unset: its
// only value, google_re2, is deprecated and Envoy's default.
func regexMatcher(regex string) *matcherv3.RegexMatcher {
	return &matcherv3.RegexMatcher{Regex: regex}
}
