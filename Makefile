# Developer entry points. Every target is a thin wrapper over the go tool:
# nothing here is needed to build or test vigil (see README.md).
GO      ?= go
BIN     ?= bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS := -s -w -X github.com/vigil-nids/vigil/internal/version.Version=$(VERSION)

.PHONY: all build test bench demo notebooks install clean

all: build

## build: static binaries (CGO_ENABLED=0) of extract, train, detect, evaluate into bin/
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

## test: README's test command
test:
	$(GO) vet ./... && $(GO) test ./...

## bench: every benchmark once (those needing ../shared/data skip without it)
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## demo: train on testdata/lab/baseline, detect on testdata/lab/mixed, print the top alerts
demo:
	$(GO) run ./cmd/detect --demo

## notebooks: execute notebooks/*.ipynb headless (needs the Debian packages named in README.md)
notebooks:
	notebooks/run.sh

## install: extract, train, detect, evaluate into $(go env GOPATH)/bin
install:
	CGO_ENABLED=0 $(GO) install -ldflags '$(LDFLAGS)' ./cmd/...

clean:
	rm -rf $(BIN)
