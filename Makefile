# tokentrail. The two commands a newcomer needs: `make demo` and `make test`.
GO        ?= go
BIN       ?= bin
PKGS      ?= ./...
FUZZTIME  ?= 10s
BENCHTIME ?= 1x
LDFLAGS   ?= -s -w -X main.version=$(shell git describe --always --dirty 2>/dev/null || echo dev)

# Extra flags for `make demo`, e.g. DEMO_FLAGS=--duration=30s
DEMO_FLAGS ?=

.PHONY: all build demo test test-deps lint vet fmt-check fuzz bench clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

# The main job on the embedded default: emulated Falcon, embedded Kafka, local ClickHouse.
# ClickHouse is installed and started while the binary builds.
demo:
	deploy/local/clickhouse.sh start & \
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ingest ./cmd/ingest; built=$$?; \
	wait $$! || exit 1; [ $$built -eq 0 ] || exit $$built
	$(BIN)/ingest demo $(DEMO_FLAGS)

# chDB: ClickHouse 26.7 as a library, for the tests built with -tags chdb that hold the SQL to
# 18.16 and 26.7 alike (docs/sql-compat.md). The chdb tag only adds tests; CHDB_LIB_PATH tells
# chdb-go where the library is.
CHDB_LIB_PATH ?= $(shell deploy/local/chdb.sh path)

# Everything CI runs. Installs ClickHouse (apt, as root) and chDB (npm) for the integration tests.
test: test-deps lint
	CHDB_LIB_PATH=$(CHDB_LIB_PATH) $(GO) test -tags chdb -race -count=1 -timeout 40m $(PKGS)
	$(MAKE) fuzz

# ClickHouse 18.16 for the integration tests, ZooKeeper for the cluster tests (internal/chcluster),
# chDB (26.7) for the differential SQL tests, Chromium for the review-pack render test, kcat and
# openssl for the SIEM tests (cmd/ingest).
test-deps:
	deploy/local/clickhouse.sh install
	deploy/local/chdb.sh install
	deploy/local/apt.sh zookeeper chromium kcat openssl

lint: vet fmt-check

vet:
	$(GO) vet $(PKGS)
	$(GO) vet -tags chdb $(PKGS)

fmt-check:
	@out=$$(gofmt -l .); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

# Bounded fuzzing of the FQL parser.
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME) ./falcon/falcontest/fql/
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime $(FUZZTIME) ./schema/

# Benchmarks; results are recorded in docs/benchmarks.md.
bench: test-deps
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) -timeout 60m $(PKGS)

clean:
	rm -rf $(BIN)
