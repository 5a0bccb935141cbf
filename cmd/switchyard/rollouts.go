package main

import (
	"fmt"
	"log/slog"

	"github.com/hashicorp/consul/api"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard/switchyard/rollout"
)

// newRolloutController builds the rollout controller that serve runs with
// --rollouts: it waits for the leader lock in Consul and, while it holds
// it, applies the steps of the rollouts stored in Consul KV, judging the
// --require-ack and --max-error-rate gates from fleet. The lock names the
// replica by id, which `switchyard rollout status` shows.
func newRolloutController(client *api.Client, cfg serveConfig, fleet rollout.Fleet, id string, log *slog.Logger, reg prometheus.Registerer) (*rollout.Controller, error) {
	ctl, err := rollout.NewController(rollout.ControllerConfig{
		Client: client, Tick: cfg.RolloutTick, Logger: log, Registerer: reg, Fleet: fleet,
		ReplicaID: id, LockTTL: cfg.RolloutLockTTL,
	})
	if err != nil {
		return nil, fmt.Errorf("rollout controller: %w", err)
	}
	return ctl, nil
}
