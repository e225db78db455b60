# The platform program's commands. Two matter most:
#   make deploy   build the tools, start the local cluster, deploy the local stack
#   make test     build the tools, then lint, unit, fuzz and end-to-end tests
#                 (a running local cluster is stopped for the end-to-end suite
#                 and started again after it, its stack checked)
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# Where tool builds are cached, keyed by version and inputs: one cache per user, shared
# by every clone and worktree (scripts/env.sh has the same default).
export PLATFORM_TOOLS ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/platform-tools
BIN := $(PLATFORM_TOOLS)/bin
# The driver is this clone's own build (git-ignored), never shared; so are
# the proving ground's commands (testbed/cmd), run from the project root.
PLATFORM := $(CURDIR)/.bin/platform
LOCALCLUSTER := $(CURDIR)/.bin/localcluster
# Run a command with the project's tool and engine settings (scripts/env.sh).
WITH_ENV := source scripts/env.sh &&
# The local stack's secrets passphrase: documented, throwaway (see Pulumi.local.yaml).
LOCAL_PASSPHRASE := PULUMI_CONFIG_PASSPHRASE=$${PULUMI_CONFIG_PASSPHRASE:-local-cluster-only}
# The fuzz run's budget, in executions (about 10 s each here): a duration
# (-fuzztime=15s) fails now and then with "context deadline exceeded" and no
# input, a race in Go's fuzzing coordinator at the deadline (go.dev/issue/75804,
# fixed in Go 1.27; this is 1.26), most under load; a count has no deadline.
FUZZ_LOAD_EXECS ?= 30000x
FUZZ_MARKDOWN_EXECS ?= 100000x
# How the driver is built (make bench measures it): -s -w leave out the symbol
# table and DWARF, which makes the link of this 100 MB program a quarter
# faster and the binary 68 MB instead of 101; panics keep their stack traces.
PLATFORM_LDFLAGS ?= -s -w
# A soft memory limit for the compiler while building it: compiling the
# Kubernetes SDK's core/v1 package (cold builds only) peaks at 2.7 GB with Go's
# defaults and 2.2 GB under this limit, for 10% more time on that package;
# every smaller compile stays below it and runs as fast as before.
PLATFORM_GOMEMLIMIT ?= 2000MiB

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

.PHONY: deploy
deploy: cluster-tools cluster-up platform ## the main job: deploy the local stack on the local cluster, print its outputs
	$(WITH_ENV) $(LOCAL_PASSPHRASE) $(PLATFORM) up --stack local --refresh
	$(WITH_ENV) $(LOCAL_PASSPHRASE) $(PLATFORM) outputs --stack local

.PHONY: check-deployed
check-deployed: platform ## check the deployed local stack: its outputs readable, no drift, nothing to change
	$(WITH_ENV) $(LOCAL_PASSPHRASE) $(PLATFORM) outputs --stack local
	$(WITH_ENV) $(LOCAL_PASSPHRASE) $(PLATFORM) drift --stack local
	$(WITH_ENV) $(LOCAL_PASSPHRASE) $(PLATFORM) preview --stack local --expect-no-changes

.PHONY: preview
preview: cluster-tools cluster-up platform ## preview the local stack
	$(WITH_ENV) $(LOCAL_PASSPHRASE) $(PLATFORM) preview --stack local

.PHONY: destroy
destroy: cluster-tools cluster-up platform ## destroy the local stack
	$(WITH_ENV) $(LOCAL_PASSPHRASE) $(PLATFORM) destroy --stack local

.PHONY: tools
tools: ## provide every pinned tool (cached under ~/.cache/platform-tools, keyed by version and inputs)
	scripts/tools.sh

.PHONY: cluster-tools
cluster-tools: runtime ## provide the tools that deploy the local stack (the engine, its plugin, the cluster and its real node)
	scripts/tools.sh pulumi_cli kubernetes_plugin etcd kubernetes kwok node jaeger oauth2_proxy

.PHONY: platform
platform: ## build the platform command (cli/platform) and its policy pack (cmd/pulumi-analyzer-policy-platform) beside it
	GOMEMLIMIT=$(PLATFORM_GOMEMLIMIT) go build -ldflags="$(PLATFORM_LDFLAGS)" -o $(PLATFORM) ./cli/platform
	go build -ldflags="$(PLATFORM_LDFLAGS)" -o $(dir $(PLATFORM))pulumi-analyzer-policy-platform ./cmd/pulumi-analyzer-policy-platform

.PHONY: localcluster
localcluster: ## build the local cluster's command (testbed/cmd/localcluster)
	go build -C testbed -o $(LOCALCLUSTER) ./cmd/localcluster

.PHONY: cluster-up
cluster-up: cluster-tools localcluster ## start the local cluster (idempotent)
	$(WITH_ENV) $(LOCALCLUSTER) up

.PHONY: cluster-down
cluster-down: localcluster ## stop the local cluster (its data stays)
	$(LOCALCLUSTER) down

.PHONY: cluster-delete
cluster-delete: localcluster ## stop the local cluster and remove it
	$(LOCALCLUSTER) delete

.PHONY: test
test: tools lint unit fuzz e2e ## every test: lint, unit, a short fuzz run, end-to-end on a real cluster

.PHONY: lint
# go vet with the e2e tag sees every file: no file is built without it.
lint: ## go vet, gofmt (the program and the sample service), actionlint (the workflows)
	scripts/tools.sh actionlint
	go vet -tags e2e ./...
	cd app && go vet ./...
	cd testbed && go vet -tags e2e ./...
	cd testbed/conformance/github && go vet ./...
	$(BIN)/actionlint
	$(MAKE) --no-print-directory sdk-check
	@unformatted=$$(gofmt -l $$(git ls-files '*.go') 2>/dev/null); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi

.PHONY: unit
unit: ## unit tests: the program under mocks, the sample service, the GitHub resources judged by the provider's own validation
	go test -count=1 ./...
	cd app && go test -count=1 ./...
	cd testbed && go test -count=1 ./...
	cd testbed/conformance/github && go test -count=1 ./...

.PHONY: fuzz
fuzz: ## a short fuzz run of the config loader and the drift report's Markdown
	go test -run='^$$' -fuzz=FuzzLoad -fuzztime=$(FUZZ_LOAD_EXECS) ./stacks
	go test -run='^$$' -fuzz=FuzzMarkdownIsInert -fuzztime=$(FUZZ_MARKDOWN_EXECS) ./cli/drift

.PHONY: bench
bench: tools platform ## measure builds, tests, the sample service and the local stack; print a table (JSON in bench/results/)
	go build -C testbed -o $(CURDIR)/.bin/bench ./cmd/bench
	$(WITH_ENV) PLATFORM_BINARY=$(PLATFORM) .bin/bench $(BENCH_FLAGS)

.PHONY: bench-app
bench-app: ## the sample service's request path (ns/op, allocs/op)
	cd app && go test -run='^$$' -bench=. -benchtime=2s -count=5 .

# Root installs packages itself; anyone else (a GitHub runner) through sudo.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

# The real node's runtime: containerd (with ctr and its runc shim), runc,
# the CNI plugins and iptables for kube-proxy; busybox-static for the tests
# that run the observability images' mount layouts on runc; Node.js and npm
# for the test that builds the package's TypeScript SDK. Each package is
# installed only if what it provides is missing (a GitHub runner has Docker's
# containerd and runc, which Debian's packages would conflict with).
RUNTIME_NEEDS := containerd:containerd ctr:containerd containerd-shim-runc-v2:containerd runc:runc \
	iptables:iptables ipset:ipset /usr/lib/cni/bridge:containernetworking-plugins busybox:busybox-static \
	node:nodejs npm:npm

.PHONY: runtime
runtime: ## the container runtime for the real node and the runc tests, from the distribution's packages (installed once)
	@missing=(); for need in $(RUNTIME_NEEDS); do \
		what=$${need%%:*} package=$${need#*:}; \
		if [[ $$what == /* ]]; then [[ -x $$what ]]; else PATH=$$PATH:/usr/sbin:/sbin command -v $$what >/dev/null; fi || missing+=($$package); \
	done; \
	if (( $${#missing[@]} )); then \
		missing=($$(printf '%s\n' "$${missing[@]}" | sort -u)); \
		echo "installing $${missing[*]}"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq "$${missing[@]}"; \
	fi

.PHONY: e2e
# The product's end-to-end tests (the driver, the package) run beside the
# suite (testbed/e2e), their output shown when both are done; niced, they
# take the CPU the suite leaves while it waits on the cluster.
e2e: tools platform runtime ## end-to-end: the real engine, a real API server on 127.0.0.1, containers on runc
	$(WITH_ENV) export PLATFORM_BINARY=$(PLATFORM) && log=$$(mktemp) && \
	{ nice -n 10 go test -tags e2e -count=1 -timeout 10m -v ./cli/driver/ ./plugin/ >"$$log" 2>&1 & } && product=$$! && \
	{ go test -C testbed -tags e2e -count=1 -timeout 25m -v ./e2e/ && suite=0 || suite=$$?; } && \
	{ wait $$product && status=0 || status=$$?; } && cat "$$log" && rm -f "$$log" && \
	exit $$(( suite || status ))

.PHONY: plugin
plugin: ## build the platform package's plugin (.bin/pulumi-resource-platform; README: the components as a Pulumi package)
	go build -o $(CURDIR)/.bin/pulumi-resource-platform ./cmd/pulumi-resource-platform

.PHONY: sdk
sdk: ## regenerate the package's TypeScript and Python SDKs (sdk/) from plugin/schema.json
	scripts/tools.sh gensdk
	$(BIN)/gensdk plugin/schema.json sdk

.PHONY: sdk-check
sdk-check: ## check that sdk/ is what the schema generates (the schema is valid for pulumi's binder)
	scripts/tools.sh gensdk
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && $(BIN)/gensdk plugin/schema.json "$$tmp" && \
		diff -r "$$tmp" sdk || { echo "sdk/ is stale: run make sdk and commit it"; exit 1; }
