package snapshot

import (
	"maps"
	"reflect"
	"slices"

	"github.com/switchyard/switchyard/discovery"
)

// replan compiles the plans of a model whose config entries or set of
// services changed. A plan equal to the one it replaces keeps the old
// value, so entries built from it stay current; each service whose plan
// changed is added to todo, unless already there. It reports whether any
// plan changed.
func (b *memoBuilder) replan(cfg *discovery.ConfigEntries, services []discovery.Service, todo []pendingService) ([]pendingService, bool) {
	next := b.planner.compile(cfg, services)
	changed := b.plans.plans == nil
	names := map[string]struct{}{}
	for name := range b.plans.plans {
		names[name] = struct{}{}
	}
	for name := range next.plans {
		names[name] = struct{}{}
	}
	queued := make(map[string]bool, len(todo))
	for _, p := range todo {
		queued[p.svc.Name] = true
	}
	for _, name := range slices.Sorted(maps.Keys(names)) {
		old, ok := b.plans.plans[name]
		if nw, has := next.plans[name]; ok && has && reflect.DeepEqual(old, nw) {
			next.plans[name] = old
			continue
		}
		changed = true
		e := b.entries[name]
		i, found := slices.BinarySearchFunc(services, name, compareServiceName)
		if e == nil || !found || queued[name] {
			continue
		}
		todo = append(todo, pendingService{svc: &services[i], fp: e.fp, hasFP: true, old: e})
	}
	changed = changed || !reflect.DeepEqual(rejectionTexts(b.plans), rejectionTexts(next))
	b.plans, b.config = next, cfg
	return todo, changed
}

// rejectionTexts returns a plan set's rejections as text, by service.
func rejectionTexts(ps planSet) map[string]string {
	out := make(map[string]string, len(ps.rejected))
	for name, err := range ps.rejected {
		out[name] = err.Error()
	}
	return out
}

// withPlans gives each pending service its current plan.
func (b *memoBuilder) withPlans(todo []pendingService) []pendingService {
	for i := range todo {
		todo[i].plan = b.plans.plan(todo[i].svc.Name)
	}
	return todo
}

// warnings returns everything the builder's state could not express: the
// rejected config entries, each noted entry's notes in name order, and the
// shared resources' warnings.
func (b *memoBuilder) warnings() []string {
	out := b.plans.rejectionWarnings()
	for _, name := range slices.Sorted(maps.Keys(b.noted)) {
		out = append(out, serviceNotes(name, b.noted[name].notes)...)
	}
	return append(out, b.shared.warnings...)
}

// serviceReport returns, by service, why its config entries are rejected
// and the notes of what the flavour could not express of them.
func (b *memoBuilder) serviceReport() (map[string]string, map[string][]string) {
	rejected := rejectionTexts(b.plans)
	notes := make(map[string][]string, len(b.noted))
	for name, e := range b.noted {
		notes[name] = e.notes
	}
	return rejected, notes
}
