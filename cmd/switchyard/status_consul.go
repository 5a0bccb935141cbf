package main

import (
	"context"
	"fmt"
	"io"
)

// gatherStatuses asks every replica for /status, in replica order; the
// entry of a replica whose /status cannot be read is nil (warnReplicas
// already names a replica that does not answer).
func gatherStatuses(ctx context.Context, client adminClient, replicas []string) []*adminStatus {
	statuses, errs := eachReplica(ctx, replicas, func(ctx context.Context, addr string) (*adminStatus, error) {
		var st adminStatus
		found, err := client.getJSON(ctx, addr, "/status", &st)
		if err == nil && !found {
			err = fmt.Errorf("no /status")
		}
		return &st, err
	})
	for i := range statuses {
		if errs[i] != nil {
			statuses[i] = nil
		}
	}
	return statuses
}

// warnConsul writes a line per replica whose Consul queries are failing
// (a lost ACL permission, an unreachable agent): such a replica serves the
// last state it knew, which may be getting old.
func warnConsul(stderr io.Writer, replicas []string, statuses []*adminStatus) {
	for i, st := range statuses {
		if st == nil || !st.Consul.Failing {
			continue
		}
		fmt.Fprintf(stderr, "switchyard: warning: replica %s: Consul queries failing, serving the state of %s ago: %s\n",
			replicas[i], st.Consul.Age, st.Consul.LastError)
	}
}
