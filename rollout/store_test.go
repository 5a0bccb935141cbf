package rollout

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/consul/api"

	"github.com/switchyard/switchyard/internal/consulagent"
)

// startConsul starts a dev agent for the test and returns a client.
func startConsul(t *testing.T) *api.Client {
	t.Helper()
	c, err := consulagent.StartT(t).Client()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestStore(t *testing.T) {
	ctx := context.Background()
	client := startConsul(t)
	store := NewStore(client)

	if _, _, err := store.Get(ctx, "web"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get before create: %v, want ErrNotFound", err)
	}
	st := New(validSpec(), t0, "alice@ops")
	if err := store.Create(ctx, st); err != nil {
		t.Fatal(err)
	}
	got, index, err := store.Get(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(st, got); diff != "" {
		t.Errorf("stored state (-want +got):\n%s", diff)
	}
	if err := store.Create(ctx, st); !errors.Is(err, ErrActive) {
		t.Errorf("second create: %v, want ErrActive", err)
	}

	// Two writers read the same index; the second loses.
	first, second := got, got
	if err := first.Pause(t0.Add(time.Minute), "bob@ops", "look"); err != nil {
		t.Fatal(err)
	}
	if err := store.Update(ctx, first, index); err != nil {
		t.Fatal(err)
	}
	if err := second.Abort(t0.Add(time.Minute), "carol@ops", "stop"); err != nil {
		t.Fatal(err)
	}
	if err := store.Update(ctx, second, index); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale update: %v, want ErrConflict", err)
	}
	if got, _, _ := store.Get(ctx, "web"); got.Phase != PhasePaused {
		t.Errorf("phase after the lost CAS is %s, want paused", got.Phase)
	}
	if err := store.Update(ctx, first, 0); err == nil {
		t.Error("update with index 0 succeeded")
	}

	// A finished rollout may be replaced by a new one.
	got, index, _ = store.Get(ctx, "web")
	if err := got.Abort(t0.Add(2*time.Minute), "bob@ops", "done"); err != nil {
		t.Fatal(err)
	}
	if err := store.Update(ctx, got, index); err != nil {
		t.Fatal(err)
	}
	next := New(validSpec(), t0.Add(time.Hour), "dave@ops")
	if err := store.Create(ctx, next); err != nil {
		t.Fatalf("create over a finished rollout: %v", err)
	}

	api2 := validSpec()
	api2.Service = "api"
	if err := store.Create(ctx, New(api2, t0, "alice@ops")); err != nil {
		t.Fatal(err)
	}
	// A deeper key under the prefix, or the leader lock, is not a rollout.
	for _, key := range []string{KeyPrefix + "web/lock", LeaderKey} {
		if _, err := client.KV().Put(&api.KVPair{Key: key, Value: []byte("x")}, nil); err != nil {
			t.Fatal(err)
		}
	}
	list, err := store.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Spec.Service != "api" || list[1].Spec.Service != "web" || list[1].History[0].Actor != "dave@ops" {
		t.Errorf("list = %+v", list)
	}
}

func TestStoreRejectsBadValues(t *testing.T) {
	ctx := context.Background()
	client := startConsul(t)
	data := []byte(`{"spec":{"service":"api","from":"a","to":"b","steps":[100],"interval":"1m0s","minHealthy":1,"requireAck":1},"phase":"running","step":-1}`)
	if _, err := client.KV().Put(&api.KVPair{Key: Key("web"), Value: data}, nil); err != nil {
		t.Fatal(err)
	}
	_, _, err := NewStore(client).Get(ctx, "web")
	checkErr(t, err, `holds the rollout of service "api"`)
	for _, bad := range []struct{ value, want string }{
		{`{"spec":{"service":"web","from":"a","to":"b","steps":[100],"interval":"1m0s"},"phase":"running","step":1}`, "step 1 is outside the 1 steps"},
		{`{"spec":{"service":"web","from":"a","to":"b","steps":[100],"interval":"1m0s"},"phase":"done","step":0}`, `unknown phase "done"`},
		{`{"spec":{"service":"web","from":"a","to":"a","steps":[100],"interval":"1m0s"},"phase":"running","step":0}`, "invalid spec: invalid value for --to"},
	} {
		if _, err := client.KV().Put(&api.KVPair{Key: Key("web"), Value: []byte(bad.value)}, nil); err != nil {
			t.Fatal(err)
		}
		_, _, err := NewStore(client).Get(ctx, "web")
		checkErr(t, err, bad.want)
	}
	if _, err := client.KV().Put(&api.KVPair{Key: Key("web"), Value: []byte("not json")}, nil); err != nil {
		t.Fatal(err)
	}
	_, err = NewStore(client).List(ctx)
	checkErr(t, err, "decode switchyard/rollouts/web")
}
