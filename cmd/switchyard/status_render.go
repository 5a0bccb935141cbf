package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/switchyard/switchyard/snapshot"
	"github.com/switchyard/switchyard/xds"
)

// shortVersionLen is how much of a version the table shows; versions are
// content hashes, so a prefix tells them apart.
const shortVersionLen = 8

// renderTable writes every proxy as one line of a table, then the text of
// every rejection, then the fleets and certificates, with ages relative to
// now.
func renderTable(w io.Writer, r statusReport, now time.Time) error {
	if len(r.Proxies) == 0 {
		fmt.Fprintf(w, "No proxies are connected to the %d replica(s) that answered.\n", len(r.Replicas)-len(r.Errors))
	} else if err := renderProxies(w, r.Proxies, now); err != nil {
		return err
	}
	return renderFleets(w, r.Fleets, now)
}

// renderProxies writes the proxies' table and the text of every rejection.
func renderProxies(w io.Writer, proxies []replicaProxy, now time.Time) error {
	tw := newTabWriter(w)
	fmt.Fprintln(tw, "PROXY\tGROUP\tKIND\tREPLICA\tSTATE\tCDS\tEDS\tLDS\tRDS\tAGE")
	for _, p := range proxies {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s", p.ID, p.Group, p.Kind, p.Replica, p.State)
		for _, typ := range []string{"CDS", "EDS", "LDS", "RDS"} {
			fmt.Fprintf(tw, "\t%s", typeCell(p.Types, typ))
		}
		fmt.Fprintf(tw, "\t%s\n", humanDuration(now.Sub(p.ConnectedAt)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	first := true
	for _, p := range proxies {
		for _, ts := range p.Types {
			if ts.Rejection == nil {
				continue
			}
			if first {
				fmt.Fprint(w, "\nRejections:\n")
				first = false
			}
			fmt.Fprintf(w, "  %s on %s: %s version %s rejected %s:\n", p.ID, p.Replica, ts.Type, ts.Rejection.Version, ago(ts.Rejection.At, now))
			fmt.Fprint(w, indent(ts.Rejection.Error, "    "))
		}
	}
	return nil
}

// typeCell is one type's column: its state and the short version the proxy
// accepted last, if any.
func typeCell(types []xds.TypeStatus, typ string) string {
	for _, ts := range types {
		if ts.Type != typ {
			continue
		}
		if ts.Accepted == "" {
			return string(ts.State)
		}
		return string(ts.State) + " " + shortVersion(ts.Accepted)
	}
	return "-"
}

// renderFleets writes a Fleets section, a line per fleet sorted by
// node.cluster with why its stored profile is rejected indented below,
// then a Certificates section alike; nothing when the replicas report
// neither. A fleet or certificate the replicas disagree on gets a line
// per status they report, naming the replicas.
func renderFleets(w io.Writer, reports []replicaFleets, now time.Time) error {
	fleets := variantsOf(reports, func(r replicaFleets) map[string]snapshot.FleetStatus { return r.Fleets }, sameFleet)
	certs := variantsOf(reports, func(r replicaFleets) map[string]snapshot.CertStatus { return r.Certs }, sameCert)
	var b strings.Builder
	if len(fleets) > 0 {
		b.WriteString("\nFleets:\n")
		width := nameWidth(fleets)
		for _, v := range fleets {
			b.WriteString(fleetLines(v, width))
		}
	}
	if len(certs) > 0 {
		b.WriteString("\nCertificates:\n")
		width := nameWidth(certs)
		for _, v := range certs {
			b.WriteString(certLines(v, width, now))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// fleetLines is a fleet's line and, indented below it, why its stored
// profile is rejected and its last build error.
func fleetLines(v variant[snapshot.FleetStatus], width int) string {
	var b strings.Builder
	st := v.status
	fmt.Fprintf(&b, "  %-*s  ", width, v.name)
	if st.Index == 0 {
		b.WriteString("no profile in force")
	} else {
		fmt.Fprintf(&b, "profile index %d  %d service%s  %d cluster%s", st.Index,
			st.Services, pluralS(st.Services), st.Clusters, pluralS(st.Clusters))
		if len(st.Secrets) > 0 {
			b.WriteString("  secrets " + strings.Join(st.Secrets, ","))
		}
	}
	b.WriteString(onReplicas(v.on) + "\n")
	if st.Rejected != "" {
		head := "REJECTED"
		if st.RejectedIndex != 0 {
			head = fmt.Sprintf("REJECTED (index %d)", st.RejectedIndex)
		}
		kept := "the last good profile stays in force"
		if st.Index == 0 {
			kept = "no profile in force; its proxies get the default resources"
		}
		b.WriteString(rejectedLines(head, st.Rejected, kept))
	}
	if st.Error != "" {
		b.WriteString(indent("ERROR: "+st.Error+" — what was published last stays in force", "    "))
	}
	for _, w := range st.Warnings {
		b.WriteString(indent("warning: "+w, "    "))
	}
	return b.String()
}

// rejectedLines says, indented, that something is rejected, why, and what
// stays in force: on one line, or with a reason of several lines (one per
// field) below a heading, as the proxies' rejections are.
func rejectedLines(head, why, kept string) string {
	if !strings.Contains(strings.TrimRight(why, "\n"), "\n") {
		return indent(head+": "+strings.TrimRight(why, "\n")+" — "+kept, "    ")
	}
	return "    " + head + " — " + kept + ":\n" + indent(why, "      ")
}

// certLines is a certificate's line, with its expiry relative to now, and
// its error indented below it.
func certLines(v variant[snapshot.CertStatus], width int, now time.Time) string {
	var b strings.Builder
	st := v.status
	fmt.Fprintf(&b, "  %-*s  ", width, v.name)
	if st.Index == 0 {
		b.WriteString("no certificate in force")
	} else {
		fmt.Fprintf(&b, "index %d", st.Index)
	}
	switch {
	case st.NotAfter.IsZero():
	case st.NotAfter.After(now):
		fmt.Fprintf(&b, "  expires %s (in %s)", st.NotAfter.UTC().Format(time.DateOnly), humanDuration(st.NotAfter.Sub(now)))
	default:
		fmt.Fprintf(&b, "  EXPIRED %s (%s)", st.NotAfter.UTC().Format(time.DateOnly), ago(st.NotAfter, now))
	}
	if len(st.Names) > 0 {
		b.WriteString("  names " + strings.Join(st.Names, ","))
	}
	if st.Source != "" && st.Source != "consul" {
		b.WriteString("  from " + strings.TrimPrefix(st.Source, "file "))
	}
	b.WriteString(onReplicas(v.on) + "\n")
	if st.Shadowed != "" {
		b.WriteString(indent("note: Consul KV wins over "+st.Shadowed+" of the same name", "    "))
	}
	if st.Error != "" {
		b.WriteString(indent("ERROR: "+st.Error, "    "))
	}
	return b.String()
}

// variant is one status the replicas report of a fleet or a certificate,
// and the replicas that report it; on is nil when every replica whose
// /status answered reports that one status.
type variant[T any] struct {
	name   string
	status T
	on     []string
}

// variantsOf returns, sorted by name, the distinct statuses the replicas
// report of each name in the maps that get picks from their reports.
func variantsOf[T any](reports []replicaFleets, get func(replicaFleets) map[string]T, same func(a, b T) bool) []variant[T] {
	names := map[string]bool{}
	for _, r := range reports {
		for name := range get(r) {
			names[name] = true
		}
	}
	var out []variant[T]
	for _, name := range slices.Sorted(maps.Keys(names)) {
		first := len(out)
		for _, r := range reports {
			st, ok := get(r)[name]
			if !ok {
				continue
			}
			i := slices.IndexFunc(out[first:], func(v variant[T]) bool { return same(v.status, st) })
			if i < 0 {
				out = append(out, variant[T]{name: name, status: st})
				i = len(out) - 1 - first
			}
			out[first+i].on = append(out[first+i].on, r.Replica)
		}
		if len(out) == first+1 && len(out[first].on) == len(reports) {
			out[first].on = nil
		}
	}
	return out
}

// sameFleet reports whether two replicas report a fleet alike.
func sameFleet(a, b snapshot.FleetStatus) bool {
	return a.Index == b.Index && a.Rejected == b.Rejected && a.RejectedIndex == b.RejectedIndex &&
		a.Services == b.Services && a.Clusters == b.Clusters && slices.Equal(a.Secrets, b.Secrets) && a.Error == b.Error &&
		slices.Equal(a.Warnings, b.Warnings)
}

// sameCert reports whether two replicas report a certificate alike.
func sameCert(a, b snapshot.CertStatus) bool {
	return a.Index == b.Index && a.NotAfter.Equal(b.NotAfter) && slices.Equal(a.Names, b.Names) && a.Error == b.Error &&
		a.Source == b.Source && a.Shadowed == b.Shadowed
}

// nameWidth is the width of the longest name, to align the lines.
func nameWidth[T any](vs []variant[T]) int {
	width := 0
	for _, v := range vs {
		width = max(width, utf8.RuneCountInString(v.name))
	}
	return width
}

// onReplicas names the replicas a line holds for, when not all of them.
func onReplicas(on []string) string {
	if len(on) == 0 {
		return ""
	}
	return "  (on " + strings.Join(on, ", ") + ")"
}

// renderDetail writes one proxy as each replica reports it: node, each
// stream's per-type exchange, the rejections' text, and what its group is
// served.
func renderDetail(w io.Writer, r proxyReport, now time.Time) error {
	fmt.Fprintf(w, "Proxy %s\n", r.ID)
	for _, rd := range r.Replicas {
		for i, p := range rd.Streams {
			fmt.Fprintf(w, "\nReplica %s", rd.Replica)
			if len(rd.Streams) > 1 {
				fmt.Fprintf(w, ", stream %d of %d", i+1, len(rd.Streams))
			}
			fmt.Fprintln(w)
			if err := renderStream(w, p, now); err != nil {
				return err
			}
		}
		if err := renderResources(w, rd.Resources); err != nil {
			return err
		}
	}
	return nil
}

// renderStream writes one stream of a proxy: node, state and the exchange
// of each type.
func renderStream(w io.Writer, p xds.ProxyStatus, now time.Time) error {
	tw := newTabWriter(w)
	agent := strings.TrimSpace(p.UserAgent + " " + p.UserAgentVersion)
	fmt.Fprintf(tw, "  Cluster:\t%s\n  Group:\t%s (%s)\n  User agent:\t%s\n", p.Cluster, p.Group, p.Kind, agent)
	fmt.Fprintf(tw, "  Remote:\t%s\n  Protocol:\t%s\n", p.Remote, p.Protocol)
	fmt.Fprintf(tw, "  Connected:\t%s (%s)\n  State:\t%s\n", formatTime(p.ConnectedAt), ago(p.ConnectedAt, now), p.State)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = newTabWriter(w)
	fmt.Fprintln(tw, "  TYPE\tSTATE\tSENT\tSENT AT\tACCEPTED\tACCEPTED AT\tPENDING SINCE\tRESPONSES\tREJECTIONS")
	for _, ts := range p.Types {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\n", ts.Type, ts.State,
			orDash(ts.Sent), ago(ts.SentAt, now), orDash(ts.Accepted), ago(ts.AcceptedAt, now),
			ago(ts.PendingSince, now), ts.Responses, ts.Rejections)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, ts := range p.Types {
		if ts.Rejection == nil {
			continue
		}
		fmt.Fprintf(w, "\n  %s rejected version %s at %s (%s):\n", ts.Type, ts.Rejection.Version, formatTime(ts.Rejection.At), ago(ts.Rejection.At, now))
		fmt.Fprint(w, indent(ts.Rejection.Error, "    "))
	}
	return nil
}

// renderResources writes the version and resource count of each type the
// proxy's group is served by one replica.
func renderResources(w io.Writer, types []xds.TypeResources) error {
	if len(types) == 0 {
		return nil
	}
	fmt.Fprint(w, "\n  Served to its group:\n")
	tw := newTabWriter(w)
	fmt.Fprintln(tw, "  TYPE\tVERSION\tRESOURCES")
	for _, tr := range types {
		fmt.Fprintf(tw, "  %s\t%s\t%d\n", tr.Type, orDash(tr.Version), len(tr.Resources))
	}
	return tw.Flush()
}

// renderJSON writes v as indented JSON.
func renderJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode json: %w", err)
	}
	return nil
}

// newTabWriter aligns columns two spaces apart.
func newTabWriter(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
}

// shortVersion is the first shortVersionLen characters of a version.
func shortVersion(v string) string {
	if len(v) > shortVersionLen {
		return v[:shortVersionLen]
	}
	return v
}

// orDash is s, or "-" for nothing.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// formatTime prints a time in UTC, to the second, or "-" for none.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// ago prints how long before now t was, or "-" for no time.
func ago(t time.Time, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return humanDuration(now.Sub(t)) + " ago"
}

// humanDuration prints a duration the way people read ages: two units at
// most, coarser as it grows. A negative duration (replicas' clocks
// disagree) counts as zero.
func humanDuration(d time.Duration) string {
	d = max(d, 0).Truncate(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < 10*time.Minute:
		return twoUnits(int(d/time.Minute), "m", int(d%time.Minute/time.Second), "s")
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 24*time.Hour:
		return twoUnits(int(d/time.Hour), "h", int(d%time.Hour/time.Minute), "m")
	default:
		return twoUnits(int(d/(24*time.Hour)), "d", int(d%(24*time.Hour)/time.Hour), "h")
	}
}

// twoUnits prints "3h5m", or "3h" when the smaller unit is zero.
func twoUnits(big int, bigUnit string, small int, smallUnit string) string {
	if small == 0 {
		return fmt.Sprintf("%d%s", big, bigUnit)
	}
	return fmt.Sprintf("%d%s%d%s", big, bigUnit, small, smallUnit)
}

// indent prefixes every line of text and ends it with a newline.
func indent(text, prefix string) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	return prefix + strings.Join(lines, "\n"+prefix) + "\n"
}
