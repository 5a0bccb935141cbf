package envoy

import (
	"slices"
	"testing"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// toWeb returns the action of a route to the single cluster "web".
func toWeb() RouteAction {
	return RouteAction{Clusters: []WeightedCluster{{Name: "web"}}}
}

// exactString returns the expected exact string matcher for s.
func exactString(s string) *matcherv3.StringMatcher {
	return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: s}}
}

// regexString returns the expected RE2 string matcher for regex.
func regexString(regex string) *matcherv3.StringMatcher {
	return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: regex}}}
}

// prefix returns the expected route match on a path prefix.
func prefix(p string) *routev3.RouteMatch {
	return &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: p}}
}

// headerString returns the expected header matcher on a string match.
func headerString(name string, sm *matcherv3.StringMatcher, invert bool) *routev3.HeaderMatcher {
	return &routev3.HeaderMatcher{Name: name, InvertMatch: invert, HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: sm}}
}

// headerPresent returns the expected header matcher on presence.
func headerPresent(name string, invert bool) *routev3.HeaderMatcher {
	return &routev3.HeaderMatcher{Name: name, InvertMatch: invert, HeaderMatchSpecifier: &routev3.HeaderMatcher_PresentMatch{PresentMatch: true}}
}

func TestRouteMatch(t *testing.T) {
	tests := []struct {
		name  string
		match RouteMatch
		want  *routev3.RouteMatch
	}{
		{name: "no path is prefix slash", want: prefix("/")},
		{name: "prefix", match: RouteMatch{PathPrefix: "/api/"}, want: prefix("/api/")},
		{name: "exact", match: RouteMatch{PathExact: "/healthz"}, want: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Path{Path: "/healthz"}}},
		{name: "exact wins", match: RouteMatch{PathExact: "/a", PathPrefix: "/b", PathRegex: "/c.*"}, want: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Path{Path: "/a"}}},
		{
			name: "regex is RE2 with no engine", match: RouteMatch{PathRegex: "/v[0-9]+/.*"},
			want: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: "/v[0-9]+/.*"}}},
		},
		{
			name: "headers in order",
			match: RouteMatch{Headers: []HeaderMatch{
				{Name: "x-exact", Exact: "a"},
				{Name: "x-prefix", Prefix: "b"},
				{Name: "x-suffix", Suffix: "c"},
				{Name: "x-regex", Regex: "d+"},
				{Name: "x-present", Present: true},
				{Name: "x-bare"},
				{Name: "x-present-wins", Present: true, Exact: "e"},
				{Name: "x-exact-wins", Exact: "f", Regex: "g"},
			}},
			want: &routev3.RouteMatch{PathSpecifier: prefix("/").PathSpecifier, Headers: []*routev3.HeaderMatcher{
				headerString("x-exact", exactString("a"), false),
				headerString("x-prefix", &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: "b"}}, false),
				headerString("x-suffix", &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Suffix{Suffix: "c"}}, false),
				headerString("x-regex", regexString("d+"), false),
				headerPresent("x-present", false),
				headerPresent("x-bare", false),
				headerPresent("x-present-wins", false),
				headerString("x-exact-wins", exactString("f"), false),
			}},
		},
		{
			name:  "invert",
			match: RouteMatch{Headers: []HeaderMatch{{Name: "x-canary", Exact: "1", Invert: true}, {Name: "x-debug", Present: true, Invert: true}}},
			want: &routev3.RouteMatch{PathSpecifier: prefix("/").PathSpecifier, Headers: []*routev3.HeaderMatcher{
				headerString("x-canary", exactString("1"), true),
				headerPresent("x-debug", true),
			}},
		},
		{
			name:  "methods become one regex after the headers",
			match: RouteMatch{PathPrefix: "/api", Methods: []string{"GET", "POST"}, Headers: []HeaderMatch{{Name: "x-a", Exact: "1"}}},
			want: &routev3.RouteMatch{PathSpecifier: prefix("/api").PathSpecifier, Headers: []*routev3.HeaderMatcher{
				headerString("x-a", exactString("1"), false),
				headerString(":method", regexString("GET|POST"), false),
			}},
		},
		{
			name:  "method metacharacters are quoted",
			match: RouteMatch{Methods: []string{"M.SEARCH"}},
			want: &routev3.RouteMatch{PathSpecifier: prefix("/").PathSpecifier, Headers: []*routev3.HeaderMatcher{
				headerString(":method", regexString(`M\.SEARCH`), false),
			}},
		},
		{
			name: "query parameters",
			match: RouteMatch{QueryParams: []QueryParamMatch{
				{Name: "debug", Present: true},
				{Name: "v", Exact: "2"},
				{Name: "id", Regex: "[0-9]+"},
				{Name: "bare"},
			}},
			want: &routev3.RouteMatch{PathSpecifier: prefix("/").PathSpecifier, QueryParameters: []*routev3.QueryParameterMatcher{
				{Name: "debug", QueryParameterMatchSpecifier: &routev3.QueryParameterMatcher_PresentMatch{PresentMatch: true}},
				{Name: "v", QueryParameterMatchSpecifier: &routev3.QueryParameterMatcher_StringMatch{StringMatch: exactString("2")}},
				{Name: "id", QueryParameterMatchSpecifier: &routev3.QueryParameterMatcher_StringMatch{StringMatch: regexString("[0-9]+")}},
				{Name: "bare", QueryParameterMatchSpecifier: &routev3.QueryParameterMatcher_PresentMatch{PresentMatch: true}},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			routes := Routes([]RouteSpec{{Match: tt.match, Action: toWeb()}})
			if len(routes) != 1 {
				t.Fatalf("got %d routes, want 1", len(routes))
			}
			mustValidate(t, routes[0])
			diffProto(t, tt.want, routes[0].GetMatch())
		})
	}
}

func TestRouteAction(t *testing.T) {
	tests := []struct {
		name   string
		action RouteAction
		want   *routev3.RouteAction
	}{
		{
			name:   "one cluster ignores its weight",
			action: RouteAction{Clusters: []WeightedCluster{{Name: "web", Weight: 7}}},
			want:   &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: "web"}},
		},
		{
			name:   "weighted clusters keep order and weights, no total",
			action: RouteAction{Clusters: []WeightedCluster{{Name: "web-v2", Weight: 2000}, {Name: "web-v1", Weight: 7500}, {Name: "web-v3", Weight: 500}}},
			want: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_WeightedClusters{WeightedClusters: &routev3.WeightedCluster{
				Clusters: []*routev3.WeightedCluster_ClusterWeight{
					{Name: "web-v2", Weight: wrapperspb.UInt32(2000)},
					{Name: "web-v1", Weight: wrapperspb.UInt32(7500)},
					{Name: "web-v3", Weight: wrapperspb.UInt32(500)},
				},
			}}},
		},
		{
			name:   "rewrite and timeouts",
			action: RouteAction{Clusters: toWeb().Clusters, PrefixRewrite: "/v2/", Timeout: 3 * time.Second, MaxStreamDuration: 2 * time.Second},
			want: &routev3.RouteAction{
				ClusterSpecifier:  &routev3.RouteAction_Cluster{Cluster: "web"},
				PrefixRewrite:     "/v2/",
				Timeout:           durationpb.New(3 * time.Second),
				MaxStreamDuration: &routev3.RouteAction_MaxStreamDuration{MaxStreamDuration: durationpb.New(2 * time.Second)},
			},
		},
		{
			name:   "retry",
			action: RouteAction{Clusters: toWeb().Clusters, Retry: &RetryPolicy{NumRetries: 3, RetryOn: []string{"unavailable", "cancelled", "retriable-status-codes"}, RetriableStatusCodes: []uint32{503, 504}}},
			want: &routev3.RouteAction{
				ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: "web"},
				RetryPolicy: &routev3.RetryPolicy{
					RetryOn:              "unavailable,cancelled,retriable-status-codes",
					NumRetries:           wrapperspb.UInt32(3),
					RetriableStatusCodes: []uint32{503, 504},
				},
			},
		},
		{
			// gRPC clients reject num_retries 0.
			name:   "zero retries leaves the count unset",
			action: RouteAction{Clusters: toWeb().Clusters, Retry: &RetryPolicy{RetryOn: []string{"5xx"}}},
			want: &routev3.RouteAction{
				ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: "web"},
				RetryPolicy:      &routev3.RetryPolicy{RetryOn: "5xx"},
			},
		},
		{
			name: "hash policies in order",
			action: RouteAction{Clusters: toWeb().Clusters, HashPolicies: []HashPolicy{
				{Header: "x-user", Terminal: true},
				{Cookie: &CookieHash{Name: "session", TTL: time.Hour, Path: "/"}},
				{Cookie: &CookieHash{Name: "plain"}},
				{SourceIP: true},
				{QueryParameter: "user"},
			}},
			want: &routev3.RouteAction{
				ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: "web"},
				HashPolicy: []*routev3.RouteAction_HashPolicy{
					{Terminal: true, PolicySpecifier: &routev3.RouteAction_HashPolicy_Header_{Header: &routev3.RouteAction_HashPolicy_Header{HeaderName: "x-user"}}},
					{PolicySpecifier: &routev3.RouteAction_HashPolicy_Cookie_{Cookie: &routev3.RouteAction_HashPolicy_Cookie{Name: "session", Ttl: durationpb.New(time.Hour), Path: "/"}}},
					{PolicySpecifier: &routev3.RouteAction_HashPolicy_Cookie_{Cookie: &routev3.RouteAction_HashPolicy_Cookie{Name: "plain"}}},
					{PolicySpecifier: &routev3.RouteAction_HashPolicy_ConnectionProperties_{ConnectionProperties: &routev3.RouteAction_HashPolicy_ConnectionProperties{SourceIp: true}}},
					{PolicySpecifier: &routev3.RouteAction_HashPolicy_QueryParameter_{QueryParameter: &routev3.RouteAction_HashPolicy_QueryParameter{Name: "user"}}},
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			routes := Routes([]RouteSpec{{Action: tt.action}})
			if len(routes) != 1 {
				t.Fatalf("got %d routes, want 1", len(routes))
			}
			mustValidate(t, routes[0])
			diffProto(t, tt.want, routes[0].GetRoute())
		})
	}
}

// TestRoutesInvalid shows that specs the builders cannot make whole are
// caught by ValidateAll, which callers run before publishing.
func TestRoutesInvalid(t *testing.T) {
	tests := []struct {
		name string
		spec RouteSpec
	}{
		{name: "no cluster", spec: RouteSpec{}},
		{name: "empty hash policy", spec: RouteSpec{Action: RouteAction{Clusters: toWeb().Clusters, HashPolicies: []HashPolicy{{Terminal: true}}}}},
		{name: "header without name", spec: RouteSpec{Match: RouteMatch{Headers: []HeaderMatch{{Exact: "a"}}}, Action: toWeb()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Routes([]RouteSpec{tt.spec})[0].ValidateAll(); err == nil {
				t.Error("ValidateAll = nil, want an error")
			}
		})
	}
}

func TestVirtualHostWithRoutes(t *testing.T) {
	tests := []struct {
		name  string
		specs []RouteSpec
	}{
		{name: "no routes", specs: nil},
		{name: "order kept", specs: []RouteSpec{
			{Match: RouteMatch{PathExact: "/healthz"}, Action: RouteAction{Clusters: []WeightedCluster{{Name: "health"}}}},
			{Match: RouteMatch{PathPrefix: "/api/"}, Action: RouteAction{Clusters: []WeightedCluster{{Name: "api"}}}},
			{Action: toWeb()},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			routes := Routes(tt.specs)
			if len(routes) != len(tt.specs) {
				t.Fatalf("got %d routes, want %d", len(routes), len(tt.specs))
			}
			for i, r := range routes {
				if want := tt.specs[i].Action.Clusters[0].Name; r.GetRoute().GetCluster() != want {
					t.Errorf("route %d cluster = %q, want %q", i, r.GetRoute().GetCluster(), want)
				}
			}
			got := VirtualHostWithRoutes("web", []string{"web", "web:8080"}, routes)
			mustValidate(t, got)
			diffProto(t, &routev3.VirtualHost{Name: "web", Domains: []string{"web", "web:8080"}, Routes: routes}, got)
		})
	}
}

// TestRouteNeverMatches checks that a route kept only for its clusters
// carries a 0 % runtime fraction and stays valid.
func TestRouteNeverMatches(t *testing.T) {
	r := Routes([]RouteSpec{{Match: RouteMatch{NeverMatches: true}, Action: RouteAction{Clusters: []WeightedCluster{{Name: "a", Weight: 1}, {Name: "b", Weight: 1}}}}})[0]
	if err := r.ValidateAll(); err != nil {
		t.Fatal(err)
	}
	f := r.GetMatch().GetRuntimeFraction().GetDefaultValue()
	if f == nil || f.GetNumerator() != 0 {
		t.Errorf("runtime fraction = %v, want 0 %%", f)
	}
	if got := len(r.GetRoute().GetWeightedClusters().GetClusters()); got != 2 {
		t.Errorf("clusters = %d, want 2", got)
	}
}

// TestRouteHeadersAndOptions checks header modifiers on routes and on
// weighted clusters (a lone cluster's go to the route), case-insensitive
// paths and the idle timeout.
func TestRouteHeadersAndOptions(t *testing.T) {
	mods := HeaderModifiers{Add: map[string]string{"x-b": "2", "x-a": "1"}, Set: map[string]string{"x-s": "s"}, Remove: []string{"x-r"}}
	routes := Routes([]RouteSpec{
		{Match: RouteMatch{PathPrefix: "/A", CaseInsensitive: true}, ResponseHeaders: mods,
			Action: RouteAction{IdleTimeout: 30 * time.Second, Clusters: []WeightedCluster{{Name: "one", RequestHeaders: mods}}}},
		{Action: RouteAction{Clusters: []WeightedCluster{{Name: "a", Weight: 1, RequestHeaders: mods}, {Name: "b", Weight: 1}}}},
	})
	for _, r := range routes {
		if err := r.ValidateAll(); err != nil {
			t.Fatal(err)
		}
	}
	first := routes[0]
	if first.GetMatch().GetCaseSensitive().GetValue() || first.GetMatch().GetCaseSensitive() == nil {
		t.Error("case_sensitive not set to false")
	}
	if got := first.GetRoute().GetIdleTimeout().AsDuration(); got != 30*time.Second {
		t.Errorf("idle timeout = %v", got)
	}
	var keys []string
	for _, h := range first.GetRequestHeadersToAdd() {
		keys = append(keys, h.GetHeader().GetKey()+":"+h.GetAppendAction().String())
	}
	want := []string{"x-a:APPEND_IF_EXISTS_OR_ADD", "x-b:APPEND_IF_EXISTS_OR_ADD", "x-s:OVERWRITE_IF_EXISTS_OR_ADD"}
	if !slices.Equal(keys, want) || !slices.Equal(first.GetRequestHeadersToRemove(), []string{"x-r"}) {
		t.Errorf("lone cluster's request headers on the route = %v, remove %v; want %v", keys, first.GetRequestHeadersToRemove(), want)
	}
	if len(first.GetResponseHeadersToAdd()) != 3 {
		t.Errorf("route response headers = %v", first.GetResponseHeadersToAdd())
	}
	wc := routes[1].GetRoute().GetWeightedClusters().GetClusters()
	if len(wc[0].GetRequestHeadersToAdd()) != 3 || len(wc[1].GetRequestHeadersToAdd()) != 0 {
		t.Errorf("weighted cluster headers = %v / %v", wc[0].GetRequestHeadersToAdd(), wc[1].GetRequestHeadersToAdd())
	}
}
