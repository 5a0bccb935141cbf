package snapshot

import (
	"slices"
	"strings"
	"time"

	"github.com/switchyard/switchyard/discovery"
)

// DropGuardConfig configures the drop guard (FAILURE_MODES row 4).
type DropGuardConfig struct {
	// MaxDrop is the largest share, from 0 to 1, of a service's serving
	// endpoints that one model may take away at once; a model that takes
	// more is held. 1 or more turns holding off.
	MaxDrop float64
	// Confirm is how long a drop must persist before it is applied; zero
	// (the default) applies every drop at once.
	Confirm time.Duration
}

// holds reports whether the configuration ever holds a drop.
func (c DropGuardConfig) holds() bool {
	return c.MaxDrop < 1 && c.Confirm > 0
}

// HeldDrop is a drop of a service's endpoints the guard holds back: the
// serving endpoints in force (From), the number Consul reports now (To),
// when the drop was first seen and when it will be applied if it persists.
type HeldDrop struct {
	From  int       `json:"from"`
	To    int       `json:"to"`
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
}

// guarded is what the guard has in force for one service.
type guarded struct {
	// svc is the service as last applied, and serving its endpoints.
	svc     discovery.Service
	serving int
	// peak is the service when it last had the most serving endpoints
	// within the confirmation window (at peakAt): the baseline a drop is
	// measured against, and whose instances a held drop keeps serving. A
	// burst of deregistrations that straddles two publishes is thereby
	// one drop, and so are steps under the threshold that add up to more
	// within the window.
	peak        discovery.Service
	peakServing int
	peakAt      time.Time
	hold        *HeldDrop
	// kept is set for a service Consul no longer lists that routes still
	// reference: it is served with no instances.
	kept bool
}

// special reports whether the guard serves the service differently from
// what Consul says, so that every model must look at it again.
func (g guarded) special() bool {
	return g.hold != nil || g.kept
}

// dropEventKind says what happened to a service's drop.
type dropEventKind int

// The drop events: a drop was held, a held drop was applied after its
// confirmation window, or the endpoints came back while it was held.
const (
	dropHeld dropEventKind = iota + 1
	dropApplied
	dropRecovered
)

// String names the event as the metric's result label does.
func (k dropEventKind) String() string {
	switch k {
	case dropHeld:
		return "held"
	case dropApplied:
		return "applied"
	case dropRecovered:
		return "recovered"
	default:
		return "unknown"
	}
}

// dropEvent is one change of a service's hold, for the log and metrics.
type dropEvent struct {
	kind    dropEventKind
	service string
	drop    HeldDrop
}

// guardReport is what one pass of the guard did: its events and the drops
// it holds after it, by service.
type guardReport struct {
	events []dropEvent
	holds  map[string]HeldDrop
}

// dropGuard holds back models that take most of a service's endpoints away
// at once, until the drop has persisted for the confirmation window. A
// drop is measured against the most endpoints the service served within
// the window, so a burst split over two publishes, or steps under the
// threshold, still count as one drop; a held drop serves that peak. It is
// pure and clock-driven: apply is given the time, does no I/O and logs
// nothing. Additions are never held: while a drop is held the service
// serves the instances in force together with every instance Consul lists
// now, so a new instance takes traffic at once. A drop is measured in
// serving endpoints (as the translation counts them: passing or warning,
// weight at least 1, one per address and port), so instances turning
// critical count as much as instances deregistered, and a service Consul
// no longer lists has lost all of them. Once applied, a service that is
// gone keeps its cluster, with no endpoints, while another service's
// config entries still route to it. It is not safe for concurrent use.
type dropGuard struct {
	cfg     DropGuardConfig
	inForce map[string]*guarded
	// synced is set once the guard has followed a whole model, so that a
	// delta model's Changed list is relative to what it holds.
	synced bool
}

// newDropGuard returns a guard that has seen nothing yet.
func newDropGuard(cfg DropGuardConfig) *dropGuard {
	return &dropGuard{cfg: cfg, inForce: map[string]*guarded{}}
}

// apply returns the model to translate instead of m at time now, and what
// the pass did. A delta model stays a delta: its Changed list also names
// every service whose served form the guard changed or may change.
func (g *dropGuard) apply(m discovery.Model, now time.Time) (discovery.Model, guardReport) {
	lookup := serviceLookup(m.Services)
	names := g.namesToCheck(m)
	refs := newReferences(m.Config, lookup)
	var rep guardReport
	replaced := map[string]*discovery.Service{}
	var touched []string
	for _, name := range names {
		st := g.inForce[name]
		raw, _ := lookup(name)
		wasSpecial := st != nil && st.special()
		out, ev := g.decide(name, st, raw, now, &refs)
		if ev != nil {
			rep.events = append(rep.events, *ev)
		}
		if out != raw {
			replaced[name] = out
		}
		if st = g.inForce[name]; wasSpecial || st != nil && st.special() || ev != nil {
			touched = append(touched, name)
		}
	}
	g.synced = true
	rep.holds = g.holds()
	if len(replaced) > 0 {
		m.Services = withReplaced(m.Services, replaced)
	}
	if m.Delta && len(touched) > 0 {
		slices.Sort(touched)
		m.Changed = discovery.MergeNames(m.Changed, touched)
	}
	return m, rep
}

// namesToCheck lists the services a pass must decide on: those a delta
// model names and those the guard serves differently, or every service of
// the model and of the guard.
func (g *dropGuard) namesToCheck(m discovery.Model) []string {
	seen := map[string]bool{}
	var out []string
	add := func(name string) {
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	if m.Delta && g.synced {
		for _, name := range m.Changed {
			add(name)
		}
		for name, st := range g.inForce {
			if st.special() {
				add(name)
			}
		}
		return out
	}
	for i := range m.Services {
		add(m.Services[i].Name)
	}
	for name := range g.inForce {
		add(name)
	}
	return out
}

// decide returns how one service is served (nil for not at all) given what
// is in force (nil if nothing) and what Consul lists (nil if nothing), and
// the event, if any.
func (g *dropGuard) decide(name string, st *guarded, raw *discovery.Service, now time.Time, refs *references) (*discovery.Service, *dropEvent) {
	serving := 0
	if raw != nil {
		serving = servingEndpoints(raw.Instances)
	}
	if st == nil {
		if raw != nil {
			g.inForce[name] = &guarded{svc: *raw, serving: serving, peak: *raw, peakServing: serving, peakAt: now}
		}
		return raw, nil
	}
	if st.hold == nil && !now.Before(st.peakAt.Add(g.cfg.Confirm)) {
		// The peak is older than the window: what is in force now is.
		st.peak, st.peakServing, st.peakAt = st.svc, st.serving, now
	}
	var ev *dropEvent
	if g.isDrop(st.peakServing, serving) {
		if st.hold == nil {
			st.hold = &HeldDrop{From: st.peakServing, Since: now, Until: now.Add(g.cfg.Confirm)}
			ev = &dropEvent{kind: dropHeld, service: name}
		}
		st.hold.To = serving
		if now.Before(st.hold.Until) {
			if ev != nil {
				ev.drop = *st.hold
			}
			return heldService(st.peak, raw), ev
		}
		ev = &dropEvent{kind: dropApplied, service: name, drop: *st.hold}
	} else if st.hold != nil {
		st.hold.To = serving
		ev = &dropEvent{kind: dropRecovered, service: name, drop: *st.hold}
	}
	st.hold = nil
	out := raw
	if raw == nil {
		if !refs.has(name) {
			delete(g.inForce, name)
			return nil, ev
		}
		kept := st.svc
		kept.Instances = nil
		out = &kept
	}
	st.svc, st.serving, st.kept = *out, serving, raw == nil
	if serving >= st.peakServing || ev != nil && ev.kind == dropApplied {
		st.peak, st.peakServing, st.peakAt = *out, serving, now
	}
	return out, ev
}

// isDrop reports whether going from one number of serving endpoints to
// another takes away more than the allowed share. Exactly the allowed
// share is applied.
func (g *dropGuard) isDrop(from, to int) bool {
	return g.cfg.holds() && from > 0 && float64(from-to) > g.cfg.MaxDrop*float64(from)
}

// holds returns the drops held now, by service.
func (g *dropGuard) holds() map[string]HeldDrop {
	out := map[string]HeldDrop{}
	for name, st := range g.inForce {
		if st.hold != nil {
			out[name] = *st.hold
		}
	}
	return out
}

// next returns when the earliest held drop is due, or the zero time.
func (g *dropGuard) next() time.Time {
	var out time.Time
	for _, st := range g.inForce {
		if st.hold != nil && (out.IsZero() || st.hold.Until.Before(out)) {
			out = st.hold.Until
		}
	}
	return out
}

// heldService returns the service a held drop serves: the baseline's
// serving instances, each in its current form when that still serves,
// and every other instance Consul lists now (so additions and other
// changes apply), sorted by node then ID as a model's are.
func heldService(base discovery.Service, raw *discovery.Service) *discovery.Service {
	out := base
	var now []discovery.Instance
	if raw != nil {
		out = *raw
		now = raw.Instances
	}
	current := make(map[instanceKey]int, len(now))
	for i := range now {
		current[keyOf(&now[i])] = i
	}
	instances := make([]discovery.Instance, 0, len(base.Instances)+len(now))
	used := make(map[instanceKey]bool, len(base.Instances))
	for i := range base.Instances {
		in := &base.Instances[i]
		if !serves(in) {
			continue
		}
		k := keyOf(in)
		if j, ok := current[k]; ok && serves(&now[j]) {
			in = &now[j]
		}
		used[k] = true
		instances = append(instances, *in)
	}
	for i := range now {
		if !used[keyOf(&now[i])] {
			instances = append(instances, now[i])
		}
	}
	slices.SortFunc(instances, func(a, b discovery.Instance) int {
		if c := strings.Compare(a.Node, b.Node); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	out.Instances = instances
	return &out
}

// instanceKey identifies a Consul instance: its ID is unique on its node.
type instanceKey struct{ node, id string }

// keyOf returns an instance's key.
func keyOf(in *discovery.Instance) instanceKey {
	return instanceKey{node: in.Node, id: in.ID}
}

// serves reports whether an instance takes traffic, as the translation
// decides it for gRPC clients (which take no draining endpoint).
func serves(in *discovery.Instance) bool {
	return endpointHealth(*in, FlavourGRPC).Include
}

// servingEndpoints counts the endpoints of instances that take traffic,
// one per address and port, as an endpoint assignment holds them.
func servingEndpoints(instances []discovery.Instance) int {
	type addr struct {
		host string
		port int
	}
	seen := make(map[addr]bool, len(instances))
	for i := range instances {
		if serves(&instances[i]) {
			seen[addr{instances[i].Address, instances[i].Port}] = true
		}
	}
	return len(seen)
}
