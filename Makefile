# kinsight — `make run` starts kinsight on this machine, `make test` runs every
# test. Both install what they need.

GO        ?= go
BIN       := bin/kinsight
TOOLS_BIN := $(CURDIR)/tools/bin
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(TOOLS_BIN)/staticcheck-$(STATICCHECK_VERSION)
# apt-get needs root; use sudo when we are not.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run build test test-deps lint unit e2e fuzz bench tools clean

run: build
	./$(BIN) up

build:
	$(GO) build -o $(BIN) ./cmd/kinsight

# Every test: formatting, vet, staticcheck, unit and end-to-end tests (which
# run the real binary with the real AWS CLI, a real kube-apiserver and etcd,
# and real journal files).
test: test-deps lint tools
	$(GO) test -count=1 -timeout 25m ./...

# System packages and tool binaries the tests use: the AWS CLI;
# systemd-journal-remote, which writes the journal files the agent's journal
# input reads in tests (no journald runs in CI); Prometheus, promtool and
# node-exporter, which the metric-store tests run beside kinsight and compare
# it with; Alertmanager (alarms); VictoriaMetrics (metrics benchmark only).
APT_TEST_PKGS := /usr/bin/aws:awscli /lib/systemd/systemd-journal-remote:systemd-journal-remote \
	/usr/bin/prometheus:prometheus /usr/bin/promtool:prometheus \
	/usr/bin/prometheus-node-exporter:prometheus-node-exporter \
	/usr/bin/prometheus-alertmanager:prometheus-alertmanager \
	/usr/bin/victoria-metrics:victoria-metrics
test-deps: $(STATICCHECK)
	@missing=""; for pair in $(APT_TEST_PKGS); do \
		[ -x "$${pair%%:*}" ] || missing="$$missing $${pair#*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing (Debian packages)"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

$(STATICCHECK):
	mkdir -p $(TOOLS_BIN)
	GOBIN=$(TOOLS_BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv $(TOOLS_BIN)/staticcheck $@

lint: $(STATICCHECK)
	@out=$$(gofmt -l cmd internal test); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

# Longer fuzzing of every parser (the seed corpora also run in `make test`).
FUZZTIME ?= 60s
fuzz:
	@for pkg in $$($(GO) list ./internal/...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

# Benchmarks with the figures recorded in docs/benchmarks.md.
bench: tools
	$(GO) test -run '^$$' -bench . -benchmem ./internal/...
	$(GO) run ./test/bench all
	$(GO) run ./test/bench agent
	$(GO) run ./test/bench insights
	$(GO) run ./test/bench metrics
	$(GO) run ./test/bench agentmetrics

# A real Kubernetes control plane for integration tests, built from its Go
# modules (tools/go.mod): tools/bin/kube-apiserver (v1.35.3) and tools/bin/etcd
# (v3.6.5). About three minutes the first time; later runs reuse Go's cache.
K8S_LDFLAGS := -X k8s.io/component-base/version.gitVersion=v1.35.3 \
	-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=35
tools: $(TOOLS_BIN)/kube-apiserver $(TOOLS_BIN)/etcd

$(TOOLS_BIN)/kube-apiserver: tools/go.mod tools/go.sum
	cd tools && GONOSUMDB=k8s.io $(GO) build -ldflags '$(K8S_LDFLAGS)' -o bin/kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver

$(TOOLS_BIN)/etcd: tools/go.mod tools/go.sum
	cd tools && GONOSUMDB=k8s.io $(GO) build -o bin/etcd go.etcd.io/etcd/server/v3

clean:
	rm -rf bin
