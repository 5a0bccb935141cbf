package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/consul/api"
)

// KeyPrefix is the Consul KV folder that holds one key per rollout.
const KeyPrefix = "switchyard/rollouts/"

// The errors a Store returns, wrapped with the service they concern; test
// for them with errors.Is.
var (
	// ErrConflict is a lost check-and-set: the value changed after it was
	// read. Read it again and redo the change.
	ErrConflict = errors.New("changed by someone else since it was read; try again")
	// ErrNotFound is a service with no rollout stored.
	ErrNotFound = errors.New("no rollout")
	// ErrActive is a Create over a rollout that is still running or paused.
	ErrActive = errors.New("a rollout is already in progress")
)

// Key is the KV key of service's rollout.
func Key(service string) string { return KeyPrefix + service }

// Store reads and writes rollout states in Consul KV, every write a
// check-and-set on the key's ModifyIndex.
type Store struct {
	kv *api.KV
}

// NewStore returns a Store over client's KV.
func NewStore(client *api.Client) *Store { return &Store{kv: client.KV()} }

// Get returns service's rollout and the ModifyIndex to pass to Update, or
// ErrNotFound.
func (s *Store) Get(ctx context.Context, service string) (State, uint64, error) {
	pair, _, err := s.kv.Get(Key(service), (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return State{}, 0, fmt.Errorf("read %s: %w", Key(service), err)
	}
	if pair == nil {
		return State{}, 0, fmt.Errorf("%w of service %s", ErrNotFound, service)
	}
	st, err := decode(pair)
	if err != nil {
		return State{}, 0, err
	}
	return st, pair.ModifyIndex, nil
}

// Create stores a new rollout. It fails with ErrActive if the service has
// a rollout that is not finished, and replaces a finished one.
func (s *Store) Create(ctx context.Context, st State) error {
	service := st.Spec.Service
	old, index, err := s.Get(ctx, service)
	switch {
	case errors.Is(err, ErrNotFound):
		index = 0
	case err != nil:
		return err
	case !old.Phase.Finished():
		return fmt.Errorf("service %s: %w (phase %s, started by %s)", service, ErrActive, old.Phase, startedBy(old))
	}
	return s.cas(ctx, st, index)
}

// Update stores st over the value read at index. A value changed since
// is ErrConflict.
func (s *Store) Update(ctx context.Context, st State, index uint64) error {
	if index == 0 {
		return fmt.Errorf("update rollout of %s: no index; read it with Get first", st.Spec.Service)
	}
	return s.cas(ctx, st, index)
}

// List returns every stored rollout, sorted by service.
func (s *Store) List(ctx context.Context) ([]State, error) {
	pairs, _, err := s.kv.List(KeyPrefix, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", KeyPrefix, err)
	}
	out := []State{}
	for _, p := range pairs {
		if name := strings.TrimPrefix(p.Key, KeyPrefix); strings.Contains(name, "/") || strings.HasPrefix(name, ".") {
			continue // not a rollout: the leader lock, or a deeper key someone else keeps here
		}
		st, err := decode(p)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b State) int { return strings.Compare(a.Spec.Service, b.Spec.Service) })
	return out, nil
}

// cas writes st if the key's ModifyIndex is still index (0: if absent).
func (s *Store) cas(ctx context.Context, st State, index uint64) error {
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode rollout of %s: %w", st.Spec.Service, err)
	}
	key := Key(st.Spec.Service)
	ok, _, err := s.kv.CAS(&api.KVPair{Key: key, Value: data, ModifyIndex: index}, (&api.WriteOptions{}).WithContext(ctx))
	if err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	if !ok {
		return fmt.Errorf("rollout of %s: %w", st.Spec.Service, ErrConflict)
	}
	return nil
}

// decode reads a stored state and checks it is a usable rollout of the
// key's service, so that nobody acts on a value edited into nonsense.
func decode(p *api.KVPair) (State, error) {
	var st State
	if err := json.Unmarshal(p.Value, &st); err != nil {
		return State{}, fmt.Errorf("decode %s: %w", p.Key, err)
	}
	if Key(st.Spec.Service) != p.Key {
		return State{}, fmt.Errorf("decode %s: it holds the rollout of service %q", p.Key, st.Spec.Service)
	}
	if err := st.check(); err != nil {
		return State{}, fmt.Errorf("decode %s: %w", p.Key, err)
	}
	return st, nil
}

// startedBy is the actor of the start event, or "unknown".
func startedBy(st State) string {
	for _, e := range st.History {
		if e.Action == ActionStart {
			return e.Actor
		}
	}
	return "unknown"
}
