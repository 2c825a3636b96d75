# kinsight — `make run` starts kinsight on this machine, `make test` runs every
# test. Both install what they need.

GO        ?= go
BIN       := bin/kinsight
TOOLS_BIN := $(CURDIR)/tools/bin
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(TOOLS_BIN)/staticcheck-$(STATICCHECK_VERSION)
# apt-get needs root; use sudo when we are not.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run build test test-deps lint unit e2e fuzz bench clean

run: build
	./$(BIN) up

build:
	$(GO) build -o $(BIN) ./cmd/kinsight

# Every test: formatting, vet, staticcheck, unit and end-to-end tests (which
# run the real binary with the real AWS CLI).
test: test-deps lint
	$(GO) test -count=1 -timeout 25m ./...

# System packages and tool binaries the tests use.
test-deps: $(STATICCHECK)
	@if [ ! -x /usr/bin/aws ]; then \
		echo "installing awscli (Debian package)"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq awscli >/dev/null; \
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
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/...
	$(GO) run ./test/bench all

clean:
	rm -rf bin
