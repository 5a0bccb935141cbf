package main

import (
	"context"
	"fmt"
	"io"
)

// warnConsul writes a line per replica whose Consul queries are failing
// (a lost ACL permission, an unreachable agent): such a replica serves the
// last state it knew, which may be getting old. A replica whose /status
// cannot be read is left out; warnReplicas already names it.
func warnConsul(ctx context.Context, client adminClient, replicas []string, stderr io.Writer) {
	statuses, errs := eachReplica(ctx, replicas, func(ctx context.Context, addr string) (adminStatus, error) {
		var st adminStatus
		_, err := client.getJSON(ctx, addr, "/status", &st)
		return st, err
	})
	for i, st := range statuses {
		if errs[i] != nil || !st.Consul.Failing {
			continue
		}
		fmt.Fprintf(stderr, "switchyard: warning: replica %s: Consul queries failing, serving the state of %s ago: %s\n",
			replicas[i], st.Consul.Age, st.Consul.LastError)
	}
}
