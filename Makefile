# Switchyard — build, test and demo. `make demo` and `make test` are the two
# commands a fresh machine needs; both build what they use.

GO          ?= go
VERSION     ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
PKGS        := ./...
GOFILES_DIRS := cmd discovery envoy snapshot xds internal examples tools rollout reliability fleet
STATICCHECK_VERSION := v0.8.2
STATICCHECK := bin/staticcheck-$(STATICCHECK_VERSION)

.PHONY: all build consul browser staticcheck lint test demo bench fuzz load clean

all: build

## build: the switchyard binary → bin/switchyard
build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o bin/switchyard ./cmd/switchyard

## consul: Consul v1.14.11 built from the Go module proxy → bin/consul (skipped when built)
consul: bin/consul

bin/consul: tools/consul/go.mod tools/consul/go.sum
	cd tools/consul && GOFLAGS=-mod=mod $(GO) build -o ../../bin/consul github.com/hashicorp/consul
	@touch bin/consul

## browser: Debian's Chromium for the dashboard's browser test (skipped when installed)
browser:
	command -v chromium >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium)

## staticcheck: the pinned staticcheck → bin/staticcheck-<version>
staticcheck: $(STATICCHECK)

$(STATICCHECK):
	GOBIN=$(CURDIR)/bin/.staticcheck $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv bin/.staticcheck/staticcheck $@

## lint: gofmt, go mod tidy, go vet, staticcheck
lint: staticcheck
	@out=$$(gofmt -l $(GOFILES_DIRS)); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; }
	$(GO) vet $(PKGS)
	$(STATICCHECK) $(PKGS)

## test: everything CI runs — lint, then every test with -race, including the
## end-to-end tests against a real Consul dev agent and the dashboard's
## browser test against Debian's headless Chromium
test: consul browser lint
	$(GO) test -race -count=1 -timeout 30m $(PKGS)
	$(MAKE) fuzz FUZZTIME=3000x

## demo: Consul, gRPC backends, Switchyard and proxyless gRPC clients, end to end: traffic follows a
## failed and restored health check, a service-splitter moving web from v1 to v2 (90/10, 50/50, 0/100), a
## rollout v1 → v2 driven by the controller to completion, and one rolled back when the canary fails
demo: build consul
	$(GO) build -o bin/switchyard-demo ./examples/demo
	bin/switchyard-demo run --switchyard bin/switchyard --consul bin/consul

## bench: the snapshot and xds micro-benchmarks, then switchyard-load bench: Switchyard (state of the
## world, delta) side by side with stock go-control-plane (state of the world, delta) and Consul's own xDS
## server (defaults, update rate lifted), 1,000 streams × 1,000 services × 10 instances → BENCHMARKS.md
## (about 15 minutes on 2 cores)
bench: build consul
	$(GO) build -o bin/switchyard-load ./cmd/switchyard-load
	$(GO) test -run '^$$' -bench . -benchmem ./snapshot/ ./xds/ > bin/bench-micro.txt || { cat bin/bench-micro.txt; exit 1; }
	cat bin/bench-micro.txt
	bin/switchyard-load bench --verbose --switchyard bin/switchyard --consul bin/consul \
		--micro bin/bench-micro.txt --out BENCHMARKS.md

## load: a moderate load scenario (200 simulated Envoys, 200 services × 10
## instances, 20 changes) against a Switchyard and Consul it starts itself
load: build consul
	$(GO) build -o bin/switchyard-load ./cmd/switchyard-load
	bin/switchyard-load run --start --switchyard bin/switchyard --consul bin/consul \
		--streams 200 --services 200 --instances 10 --changes 20

## fuzz: a run of every fuzz target, FUZZTIME each (30s; `make test` runs each for 3,000 executions: a
## count, not a duration, because Go 1.26's fuzz coordinator can fail a timed run at its deadline on a
## loaded machine, golang/go#75804); a crasher is written to the package's testdata/fuzz/ and stays
## there as a regression case
FUZZTIME ?= 30s
FUZZ_TARGETS = ./snapshot/:FuzzTranslate ./snapshot/:FuzzMemoBuilder ./discovery/:FuzzInstancesFromEntries ./discovery/:FuzzConfigEntries \
	./snapshot/chain/:FuzzParseFilter ./rollout/:FuzzParseSpec ./envoy/:FuzzParseBootstrapYAML \
	./cmd/switchyard/:FuzzBootstrapFlags ./fleet/:FuzzParseProfile ./fleet/:FuzzParseCertBundle
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "fuzz $${t#*:} ($${t%%:*}, $(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) "$${t%%:*}"; \
	done

clean:
	rm -f bin/switchyard bin/switchyard-demo bin/switchyard-load
