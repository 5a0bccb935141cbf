package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/switchyard/switchyard/xds"
)

// shortVersionLen is how much of a version the table shows; versions are
// content hashes, so a prefix tells them apart.
const shortVersionLen = 8

// renderTable writes every proxy as one line of a table, then the text of
// every rejection, with ages relative to now.
func renderTable(w io.Writer, r statusReport, now time.Time) error {
	if len(r.Proxies) == 0 {
		_, err := fmt.Fprintf(w, "No proxies are connected to the %d replica(s) that answered.\n", len(r.Replicas)-len(r.Errors))
		return err
	}
	tw := newTabWriter(w)
	fmt.Fprintln(tw, "PROXY\tGROUP\tKIND\tREPLICA\tSTATE\tCDS\tEDS\tLDS\tRDS\tAGE")
	for _, p := range r.Proxies {
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
	for _, p := range r.Proxies {
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
