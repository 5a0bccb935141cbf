package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/consul/api"

	"github.com/switchyard/switchyard/fleet"
)

// fleetCLI runs `switchyard fleet` commands in-process against one Consul.
type fleetCLI struct {
	c *consulFixture
}

// run runs `switchyard fleet <args> --consul-addr ...` and returns its
// exit code, stdout and stderr.
func (f fleetCLI) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	full := append([]string{"fleet"}, args...)
	full = append(full, "--consul-addr", f.c.agent.HTTPAddr)
	var stdout, stderr bytes.Buffer
	code := execute(context.Background(), full, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// ok runs the command and fails the test unless it exits 0.
func (f fleetCLI) ok(t *testing.T, args ...string) (string, string) {
	t.Helper()
	code, out, errOut := f.run(t, args...)
	if code != 0 {
		t.Fatalf("fleet %v: exit %d: %s", args, code, errOut)
	}
	return out, errOut
}

// appliedIndex is the modify index `fleet apply` printed.
func appliedIndex(t *testing.T, stdout string) uint64 {
	t.Helper()
	m := regexp.MustCompile(`^fleet "[^"]+": (?:stored|unchanged \(identical\)) at switchyard/fleets/\S+, modify index (\d+)\n$`).FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("apply said %q", stdout)
	}
	n, err := strconv.ParseUint(m[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// apply stores the profile file at path as cluster's and returns the new
// modify index.
func (f fleetCLI) apply(t *testing.T, cluster, path string, args ...string) uint64 {
	t.Helper()
	out, _ := f.ok(t, append([]string{"apply", cluster, path}, args...)...)
	return appliedIndex(t, out)
}

// stored reads cluster's key directly; nil when absent.
func (f fleetCLI) stored(t *testing.T, cluster string) *api.KVPair {
	t.Helper()
	pair, _, err := f.c.client.KV().Get(fleet.Key(cluster), nil)
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

// readFile reads a test file.
func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestFleetApplyGetRoundTrip applies JSON and YAML profiles and reads
// them back: get prints the bytes as given and the index apply printed,
// --json the parsed profile; apply warns of names the catalog lacks.
func TestFleetApplyGetRoundTrip(t *testing.T) {
	c := startConsul(t)
	c.register(t, "api", "api-1", 9001)
	cli := fleetCLI{c}
	tests := []struct {
		cluster, path string
		warnings      []string
	}{
		{"edge", "../../examples/fleets/edge.json", []string{`services.names[0]: "shop-*" matches no service in the catalog`}},
		{"internal.prod", "../../examples/fleets/internal.json", []string{`listeners[1].service: "postgres" is not in the catalog`}},
		{"edge_yaml", "testdata/fleet/edge.yaml", []string{`services.names[0]: "shop-*" matches no service in the catalog`}},
	}
	for _, tt := range tests {
		t.Run(tt.cluster, func(t *testing.T) {
			code, out, errOut := cli.run(t, "apply", tt.cluster, tt.path)
			if code != 0 {
				t.Fatalf("apply: exit %d: %s", code, errOut)
			}
			index := appliedIndex(t, out)
			var wantWarn strings.Builder
			for _, w := range tt.warnings {
				fmt.Fprintf(&wantWarn, "%s: warning: %s\n", tt.path, w)
			}
			if errOut != wantWarn.String() {
				t.Errorf("apply stderr %q, want %q", errOut, wantWarn.String())
			}

			data := readFile(t, tt.path)
			got, getErr := cli.ok(t, "get", tt.cluster)
			if got != string(data) || getErr != fmt.Sprintf("# modify index %d\n", index) {
				t.Errorf("get: stdout %q, stderr %q; want the file's bytes and index %d", got, getErr, index)
			}
			js, _ := cli.ok(t, "get", tt.cluster, "--json")
			var doc fleetGetOutput
			if err := json.Unmarshal([]byte(js), &doc); err != nil {
				t.Fatal(err)
			}
			want, err := fleet.Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			if doc.Cluster != tt.cluster || doc.ModifyIndex != index || doc.Raw != string(data) || doc.Problems != nil || doc.Profile == nil {
				t.Fatalf("get --json: %s", js)
			}
			if diff := cmp.Diff(want, *doc.Profile); diff != "" {
				t.Errorf("get --json profile differs (-want +got):\n%s", diff)
			}
		})
	}
	out, _ := cli.ok(t, "apply", "edge", "../../examples/fleets/edge.json")
	if want := fmt.Sprintf("fleet \"edge\": unchanged (identical) at switchyard/fleets/edge, modify index %d\n", cli.stored(t, "edge").ModifyIndex); out != want {
		t.Errorf("apply of the stored bytes said %q, want %q", out, want)
	}
	code, _, errOut := cli.run(t, "get", "nothing")
	if want := "switchyard: fleet \"nothing\": no profile stored (key switchyard/fleets/nothing)\n"; code != 1 || errOut != want {
		t.Errorf("get of an absent fleet: exit %d, stderr %q; want 1, %q", code, errOut, want)
	}
}

// TestFleetApplyCAS applies over every state of the stored profile, with
// and without --index: a refused write names the cluster and both
// indexes and leaves the stored profile as it was.
func TestFleetApplyCAS(t *testing.T) {
	c := startConsul(t)
	cli := fleetCLI{c}
	const edge, edgeYAML, internal = "../../examples/fleets/edge.json", "testdata/fleet/edge.yaml", "../../examples/fleets/internal.json"
	tests := []struct {
		name string
		// applies is how many times edge.json is applied first.
		applies int
		// index gives --index from the first and the last applied index;
		// nil applies without --index.
		index func(first, last uint64) uint64
		// fails gives the message of a refused apply; nil when it succeeds.
		fails func(cluster string, first, last uint64) string
	}{
		{name: "create with index 0", index: func(_, _ uint64) uint64 { return 0 }},
		{name: "create without index"},
		{name: "index 0 over a stored profile", applies: 1, index: func(_, _ uint64) uint64 { return 0 },
			fails: func(cl string, _, last uint64) string {
				return fmt.Sprintf(`fleet %q: stale index 0: the stored profile is at index %d; run "switchyard fleet get %s" and apply again`, cl, last, cl)
			}},
		{name: "stale index", applies: 2, index: func(first, _ uint64) uint64 { return first },
			fails: func(cl string, first, last uint64) string {
				return fmt.Sprintf(`fleet %q: stale index %d: the stored profile is at index %d; run "switchyard fleet get %s" and apply again`, cl, first, last, cl)
			}},
		{name: "current index", applies: 2, index: func(_, last uint64) uint64 { return last }},
		{name: "without index over a stored profile", applies: 1},
		{name: "index of an absent profile", index: func(_, _ uint64) uint64 { return 41 },
			fails: func(cl string, _, _ uint64) string {
				return fmt.Sprintf(`fleet %q: stale index 41: no profile is stored; run "switchyard fleet apply %s <file> --index 0" to create it`, cl, cl)
			}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cluster := fmt.Sprintf("cas-%d", i)
			var first, last uint64
			for n := range tt.applies {
				// Two different values: Consul leaves a key written
				// with its own value at its index.
				last = cli.apply(t, cluster, []string{edge, edgeYAML}[n%2])
				if n == 0 {
					first = last
				}
			}
			before := cli.stored(t, cluster)
			args := []string{"apply", cluster, internal}
			if tt.index != nil {
				args = append(args, "--index", strconv.FormatUint(tt.index(first, last), 10))
			}
			code, out, errOut := cli.run(t, args...)
			if tt.fails != nil {
				want := "switchyard: " + tt.fails(cluster, first, last) + "\n"
				if code != 1 || out != "" || !strings.HasSuffix(errOut, want) {
					t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and %q", code, out, errOut, want)
				}
				if diff := cmp.Diff(before, cli.stored(t, cluster)); diff != "" {
					t.Errorf("a refused apply changed the stored profile (-before +after):\n%s", diff)
				}
				return
			}
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			index := appliedIndex(t, out)
			after := cli.stored(t, cluster)
			if after == nil || after.ModifyIndex != index || index <= last || string(after.Value) != string(readFile(t, internal)) {
				t.Errorf("after apply (index %d, last %d): stored %+v", index, last, after)
			}
		})
	}
}

// TestFleetApplyLostRace is apply without --index when someone else
// writes between its read and its write: the write is refused, naming
// the index read and the other writer's.
func TestFleetApplyLostRace(t *testing.T) {
	c := startConsul(t)
	cli := fleetCLI{c}
	store := fleetStore{c.client}
	ctx := t.Context()
	read, err := store.currentIndex(ctx, "edge")
	if err != nil || read != 0 {
		t.Fatalf("index of an absent profile: %d, %v", read, err)
	}
	other := cli.apply(t, "edge", "../../examples/fleets/edge.json")
	_, err = store.put(ctx, "edge", readFile(t, "../../examples/fleets/internal.json"), read)
	want := fmt.Sprintf(`fleet "edge": stale index 0: the stored profile is at index %d; run "switchyard fleet get edge" and apply again`, other)
	if err == nil || err.Error() != want {
		t.Errorf("put over the index read before another write: %v; want %s", err, want)
	}
	if pair := cli.stored(t, "edge"); pair.ModifyIndex != other || string(pair.Value) != string(readFile(t, "../../examples/fleets/edge.json")) {
		t.Errorf("the lost write changed the stored profile: %+v", pair)
	}
}

// TestFleetApplyInvalid refuses profiles that do not validate, with the
// output of `fleet validate`, and bad fleet names; nothing is stored.
func TestFleetApplyInvalid(t *testing.T) {
	c := startConsul(t)
	cli := fleetCLI{c}
	kept := cli.apply(t, "kept", "../../examples/fleets/edge.json")
	tests := []struct {
		name, cluster, path string
		code                int
		golden              string // of stderr, shared with TestFleetValidateGolden
		want                string // of stderr, without a golden file
	}{
		{name: "invalid", cluster: "new", path: "testdata/fleet/invalid.json", code: 1, golden: "invalid.golden"},
		{name: "invalid over a stored profile", cluster: "kept", path: "testdata/fleet/invalid.json", code: 1, golden: "invalid.golden"},
		{name: "unknown field", cluster: "kept", path: "testdata/fleet/unknown_field.yaml", code: 1, golden: "unknown_field.golden"},
		{name: "missing file", cluster: "new", path: "testdata/fleet/nothing.json", code: 1, golden: "missing.golden"},
		{name: "bad fleet name", cluster: "a/b", path: "../../examples/fleets/edge.json", code: 2,
			want: "switchyard: invalid fleet name (the node.cluster of its proxies): \"a/b\" has '/'; use letters, digits, '-', '_' and '.'\n"},
		{name: "dot name", cluster: "..", path: "../../examples/fleets/edge.json", code: 2,
			want: "switchyard: invalid fleet name (the node.cluster of its proxies): \"..\" starts with '.'\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := cli.run(t, "apply", tt.cluster, tt.path)
			want := tt.want
			if tt.golden != "" {
				want = string(readFile(t, filepath.Join("testdata", "fleet", tt.golden)))
			}
			if code != tt.code || out != "" || errOut != want {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and %q", code, out, errOut, tt.code, want)
			}
		})
	}
	if pair := cli.stored(t, "new"); pair != nil {
		t.Errorf("an invalid profile was stored: %+v", pair)
	}
	pair := cli.stored(t, "kept")
	if pair == nil || pair.ModifyIndex != kept || string(pair.Value) != string(readFile(t, "../../examples/fleets/edge.json")) {
		t.Errorf("an invalid profile changed the stored one: %+v", pair)
	}
	pairs, _, err := c.client.KV().List(fleet.KeyPrefix, nil)
	if err != nil || len(pairs) != 1 {
		t.Errorf("keys under %s: %d (%v); want only kept", fleet.KeyPrefix, len(pairs), err)
	}
}

// TestFleetListGolden lists valid profiles, a value written past apply
// and a key no fleet can have. The table the command prints is the
// rendering of what --json says; with the indexes, which Consul chooses,
// set to fixed ones, both match testdata/fleet/list*.golden (-update
// rewrites them).
func TestFleetListGolden(t *testing.T) {
	c := startConsul(t)
	cli := fleetCLI{c}
	if out, _ := cli.ok(t, "list"); out != "No fleet profiles stored in Consul KV (switchyard/fleets/).\n" {
		t.Errorf("empty list: %q", out)
	}
	applied := map[string]uint64{
		"internal": cli.apply(t, "internal", "../../examples/fleets/internal.json"),
		"edge":     cli.apply(t, "edge", "../../examples/fleets/edge.json"),
		"edge-eu":  cli.apply(t, "edge-eu", "testdata/fleet/edge.yaml"),
	}
	for key, value := range map[string][]byte{
		"broken":        readFile(t, "testdata/fleet/invalid.json"),
		"not-json":      []byte("{"),
		".hidden":       readFile(t, "../../examples/fleets/edge.json"),
		"deeper/ignore": []byte("not a fleet"),
	} {
		if _, err := c.client.KV().Put(&api.KVPair{Key: fleet.KeyPrefix + key, Value: value}, nil); err != nil {
			t.Fatal(err)
		}
	}

	js, _ := cli.ok(t, "list", "--json")
	var entries []fleetListEntry
	if err := json.Unmarshal([]byte(js), &entries); err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	if err := renderFleetList(&table, entries); err != nil {
		t.Fatal(err)
	}
	if out, _ := cli.ok(t, "list"); out != table.String() {
		t.Errorf("list prints\n%s\nwhich is not the rendering of list --json:\n%s", out, table.String())
	}
	for i := range entries {
		if want, ok := applied[entries[i].Cluster]; ok && entries[i].ModifyIndex != want {
			t.Errorf("%s listed at index %d, applied at %d", entries[i].Cluster, entries[i].ModifyIndex, want)
		}
		entries[i].ModifyIndex = uint64(100 + i)
	}
	table.Reset()
	if err := renderFleetList(&table, entries); err != nil {
		t.Fatal(err)
	}
	checkGoldenFile(t, filepath.Join("testdata", "fleet", "list.golden"), table.Bytes())
	var out bytes.Buffer
	if err := renderJSON(&out, entries); err != nil {
		t.Fatal(err)
	}
	checkGoldenFile(t, filepath.Join("testdata", "fleet", "list_json.golden"), out.Bytes())
}

// TestFleetDeleteCAS deletes with a stale, the current and no index.
func TestFleetDeleteCAS(t *testing.T) {
	c := startConsul(t)
	cli := fleetCLI{c}
	const edge = "../../examples/fleets/edge.json"
	tests := []struct {
		name   string
		stored bool
		index  string // --index: "stale", "current", "0" or "" for none
		code   int
		want   func(cluster string, stale, current uint64) string // of stdout when code is 0, else of stderr
	}{
		{"current index", true, "current", 0, func(cl string, _, cur uint64) string {
			return fmt.Sprintf("fleet %q: deleted switchyard/fleets/%s (it was at modify index %d)\n", cl, cl, cur)
		}},
		{"without index", true, "", 0, func(cl string, _, cur uint64) string {
			return fmt.Sprintf("fleet %q: deleted switchyard/fleets/%s (it was at modify index %d)\n", cl, cl, cur)
		}},
		{"stale index", true, "stale", 1, func(cl string, stale, cur uint64) string {
			return fmt.Sprintf("switchyard: fleet %q: stale index %d: the stored profile is at index %d; run \"switchyard fleet get %s\" and delete again\n", cl, stale, cur, cl)
		}},
		{"absent", false, "", 1, func(cl string, _, _ uint64) string {
			return fmt.Sprintf("switchyard: fleet %q: no profile stored (key switchyard/fleets/%s)\n", cl, cl)
		}},
		{"absent with index", false, "current", 1, func(cl string, _, _ uint64) string {
			return fmt.Sprintf("switchyard: fleet %q: no profile stored (key switchyard/fleets/%s)\n", cl, cl)
		}},
		{"index 0", true, "0", 2, func(string, uint64, uint64) string {
			return "switchyard: invalid value for --index: 0 means no profile is stored; give the index of the profile to delete\n"
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cluster := fmt.Sprintf("del-%d", i)
			var stale, current uint64 = 0, 7
			if tt.stored {
				stale = cli.apply(t, cluster, edge)
				current = cli.apply(t, cluster, "testdata/fleet/edge.yaml")
			}
			before := cli.stored(t, cluster)
			args := []string{"delete", cluster}
			switch tt.index {
			case "stale":
				args = append(args, "--index", strconv.FormatUint(stale, 10))
			case "current":
				args = append(args, "--index", strconv.FormatUint(current, 10))
			case "0":
				args = append(args, "--index", "0")
			}
			code, out, errOut := cli.run(t, args...)
			got := errOut
			if tt.code == 0 {
				got = out
			}
			if want := tt.want(cluster, stale, current); code != tt.code || got != want {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and %q", code, out, errOut, tt.code, want)
			}
			after := cli.stored(t, cluster)
			if tt.code == 0 && after != nil {
				t.Errorf("still stored after delete: %+v", after)
			}
			if diff := cmp.Diff(before, after); tt.code != 0 && diff != "" {
				t.Errorf("a refused delete changed the stored profile (-before +after):\n%s", diff)
			}
		})
	}
}

// TestFleetUsageErrors checks the command-line mistakes of the commands
// that talk to Consul; none reaches Consul.
func TestFleetUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"get"}, "accepts 1 arg(s), received 0"},
		{[]string{"get", "a b"}, `invalid fleet name (the node.cluster of its proxies): "a b" has ' '`},
		{[]string{"get", ".x"}, `invalid fleet name (the node.cluster of its proxies): ".x" starts with '.'`},
		{[]string{"get", strings.Repeat("x", 129)}, "is longer than 128 characters"},
		{[]string{"get", "edge", "--timeout", "1ms"}, "invalid value for --timeout"},
		{[]string{"get", "edge", "--consul-addr", ""}, "invalid value for --consul-addr"},
		{[]string{"list", "edge"}, "unknown command"},
		{[]string{"apply", "edge"}, "accepts 2 arg(s), received 1"},
		{[]string{"apply", "edge", "f.json", "--index", "-1"}, `invalid argument "-1" for "--index"`},
		{[]string{"apply", "edge", "../../examples/fleets/edge.json", "--timeout", "1ms"}, "invalid value for --timeout"},
		{[]string{"delete", "edge", "--index", "0"}, "invalid value for --index"},
		{[]string{"delete", "edge", "extra"}, "accepts 1 arg(s), received 2"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := execute(context.Background(), append([]string{"fleet"}, tt.args...), &stdout, &stderr)
			if code != 2 || strings.Count(stderr.String(), "\n") != 1 || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 and one line containing %q", code, stderr.String(), tt.want)
			}
		})
	}
}
