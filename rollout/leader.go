package rollout

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hashicorp/consul/api"
)

// LeaderKey is the KV key of the lock that elects the one replica that
// drives rollouts. Its name starts with a dot, which Store.List skips.
const LeaderKey = KeyPrefix + ".leader"

// Leader election timing: lockWait bounds each blocking wait for the lock,
// and so how long a follower takes to notice that ctx is done; the session
// TTL is how long a leader that vanished without a word keeps the lock;
// retryWait spaces attempts after an error.
const (
	lockWait   = time.Second
	sessionTTL = "15s"
	retryWait  = time.Second
)

// runLeader holds the leader lock in turns with the other replicas: while
// it holds it, drive runs with a channel closed when the lock is lost;
// when drive returns the lock is released, and unless ctx is done the
// replica queues for it again.
func runLeader(ctx context.Context, client *api.Client, log *slog.Logger, drive func(context.Context, <-chan struct{})) error {
	for ctx.Err() == nil {
		if err := leadOnce(ctx, client, log, drive); err != nil {
			log.Warn("rollout leader lock failed; retrying", "error", err)
			select {
			case <-ctx.Done():
			case <-time.After(retryWait):
			}
		}
	}
	return nil
}

// leadOnce waits for the lock, drives while it holds it, and releases it.
func leadOnce(ctx context.Context, client *api.Client, log *slog.Logger, drive func(context.Context, <-chan struct{})) error {
	lock, err := client.LockOpts(&api.LockOptions{
		Key: LeaderKey, SessionName: "switchyard rollout controller",
		SessionTTL: sessionTTL, LockWaitTime: lockWait,
	})
	if err != nil {
		return fmt.Errorf("prepare lock %s: %w", LeaderKey, err)
	}
	lost, err := lock.Lock(ctx.Done())
	if err != nil {
		return fmt.Errorf("take lock %s: %w", LeaderKey, err)
	}
	if lost == nil {
		return nil // ctx is done
	}
	log.Info("became the rollout leader", "key", LeaderKey)
	drive(ctx, lost)
	if err := lock.Unlock(); err != nil {
		log.Warn("release the rollout leader lock", "error", err)
	}
	log.Info("stopped being the rollout leader", "key", LeaderKey)
	return nil
}
