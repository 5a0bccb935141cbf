package rollout

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/prometheus/client_golang/prometheus"
)

// LeaderKey is the KV key of the lock that elects the one replica that
// drives rollouts. Its value is the holder's replica id (see Leader). Its
// name starts with a dot, which Store.List skips.
const LeaderKey = KeyPrefix + ".leader"

// The default and bounds of ControllerConfig.LockTTL.
const (
	// DefaultLockTTL is the leader session's TTL when none is given.
	DefaultLockTTL = 15 * time.Second
	// MinLockTTL is the shortest session TTL Consul accepts.
	MinLockTTL = 10 * time.Second
	// MaxLockTTL is the longest session TTL Consul accepts.
	MaxLockTTL = 24 * time.Hour
)

// Leader election timing: lockWait bounds each blocking wait for the lock,
// and so how long a follower takes to notice that ctx is done; retryWait
// spaces attempts after an error.
//
// lockDelay replaces Consul's default lock-delay of 15 s, the time during
// which nobody may take a lock whose session was invalidated (a leader
// that crashed, or lost Consul for longer than its TTL). That delay
// protects holders that keep acting after they lost the lock; here every
// write a leader makes (the splitter, the rollout state) is a
// check-and-set on the index it read, so a stale leader's write fails
// rather than overwrites, and the default would only add 15 s to every
// take-over. Note that Consul's api.Lock retries an acquire refused by a
// lock-delay after a fixed 5 s, so a take-over after a crash costs the
// session's expiry (up to 2 × LockTTL after the last renewal, Consul's
// grace) plus about 5 s.
const (
	lockWait  = time.Second
	lockDelay = time.Second
	retryWait = time.Second
)

// election is this replica's part in the leader election: the id it
// writes into the lock, its session's TTL, and the gauge that says
// whether it leads.
type election struct {
	client  *api.Client
	holder  string
	ttl     time.Duration
	leading prometheus.Gauge
}

// newElection checks the TTL (DefaultLockTTL when zero) and defaults the
// holder id to the host name and process id.
func newElection(client *api.Client, holder string, ttl time.Duration) (*election, error) {
	if ttl == 0 {
		ttl = DefaultLockTTL
	}
	if ttl < MinLockTTL || ttl > MaxLockTTL {
		return nil, fmt.Errorf("rollout leader lock TTL %s is outside %s–%s", ttl, MinLockTTL, MaxLockTTL)
	}
	if holder == "" {
		host, err := os.Hostname()
		if err != nil {
			host = "unknown"
		}
		holder = fmt.Sprintf("%s pid %d", host, os.Getpid())
	}
	return &election{client: client, holder: holder, ttl: ttl,
		leading: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchyard_rollout_leader",
			Help: "1 while this replica holds the rollout leader lock and drives the rollouts, else 0.",
		}),
	}, nil
}

// Leader reads the leader lock: the replica id its holder wrote, and
// whether a live session holds it. A lock that was released, or whose
// holder's session expired, is not held, and holder is then the last
// replica that held it; both are empty when no replica ever took it.
func Leader(ctx context.Context, client *api.Client) (holder string, held bool, err error) {
	pair, _, err := client.KV().Get(LeaderKey, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return "", false, fmt.Errorf("read %s: %w", LeaderKey, err)
	}
	if pair == nil {
		return "", false, nil
	}
	return string(pair.Value), pair.Session != "", nil
}

// run holds the leader lock in turns with the other replicas: while it
// holds it, drive runs with a channel closed when the lock is lost; when
// drive returns the lock is released, and unless ctx is done the replica
// queues for it again.
func (e *election) run(ctx context.Context, log *slog.Logger, drive func(context.Context, <-chan struct{})) error {
	for ctx.Err() == nil {
		if err := e.leadOnce(ctx, log, drive); err != nil {
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
func (e *election) leadOnce(ctx context.Context, log *slog.Logger, drive func(context.Context, <-chan struct{})) error {
	lock, err := e.client.LockOpts(&api.LockOptions{
		Key: LeaderKey, Value: []byte(e.holder), SessionName: "switchyard rollout controller " + e.holder,
		SessionTTL: e.ttl.String(), LockDelay: lockDelay, LockWaitTime: lockWait,
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
	log.Info("became the rollout leader", "key", LeaderKey, "replica", e.holder, "lock_ttl", e.ttl)
	e.leading.Set(1)
	drive(ctx, lost)
	e.leading.Set(0)
	if err := lock.Unlock(); err != nil {
		log.Warn("release the rollout leader lock", "error", err)
	}
	log.Info("stopped being the rollout leader", "key", LeaderKey, "replica", e.holder)
	return nil
}
