# ecs-medic — see README.md. run, demo and build need only Go and make; test also needs Node
# (dynalite) and, for the Terraform checks, Terraform (skipped with a note when missing; CI=true
# makes it required).
SHELL := /bin/bash
GO    ?= go
BIN   := bin
# The version medic --version prints: the git tag or commit, else "dev".
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
MEDIC_LDFLAGS := -X main.version=$(VERSION)

.PHONY: run demo test terraform-test testenv fuzz lint mutate bench chaos build package clean

## run: the local daemon `medic serve` on the embedded store (./medic.db), no AWS account needed.
## The binary replaces the recipe's shell (exec), so Ctrl-C or a kill reaches the server itself.
run: build
	exec ./$(BIN)/medic serve

## demo: replay a recorded 3 a.m. incident (OOM loop, bad deploy, scaling noise) through the
## pipeline, then the report of the night and the postmortem draft of its worst incident. It prints
## only: PagerDuty and Slack in the environment get nothing (no --notify).
DEMO_DB := $(BIN)/demo.db
demo: build
	@rm -f $(DEMO_DB)
	./$(BIN)/medic replay --db $(DEMO_DB) testdata/scenarios/demo.json
	./$(BIN)/medic report --db $(DEMO_DB) --since 3650d
	@id=$$(./$(BIN)/medic report --db $(DEMO_DB) --since 3650d --json | grep -o '"inc-[a-z0-9]*"' | head -1 | tr -d '"'); \
	  echo "\$$ medic postmortem --db $(DEMO_DB) $$id"; ./$(BIN)/medic postmortem --db $(DEMO_DB) $$id

## testenv: test services from the npm registry, pinned by testenv/package-lock.json (dynalite)
testenv: testenv/node_modules/dynalite/cli.js
testenv/node_modules/dynalite/cli.js: testenv/package.json testenv/package-lock.json
	npm ci --prefix testenv --no-audit --no-fund --loglevel=error
	@touch $@

## test: lint (gofmt, vet, staticcheck, go mod tidy) and every test, with the race detector, plus
## short fuzzes of the event decoders, the Slack request parser and runbook front matter, mutation
## testing of the severity rules (the short form of make mutate, about a minute: fails below 90 % of
## its mutants killed), then the Terraform checks (fmt, validate of every example, terraform test of
## every module; a provider mirror is used when found, or TF_PLUGIN_DIR). The DynamoDB tests start
## dynalite themselves and stop it after. Every fuzz runs a number of inputs, not a time: a timed
## fuzz whose slow worker is still busy
## when the time is up fails with "context deadline exceeded" (seen in CI on the Slack fuzz).
test: testenv lint
	$(GO) test -race -count=1 ./...
	$(GO) test -run '^$$' -bench . -benchtime 1x ./internal/... # every benchmark runs once, so none rots unseen
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime 100000x ./internal/event/
	$(GO) test -run '^$$' -fuzz '^FuzzFastMatchesStrict$$' -fuzztime 100000x ./internal/event/
	$(GO) test -run '^$$' -fuzz '^FuzzSlackRequest$$' -fuzztime 20000x ./internal/chatops/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 100000x ./internal/runbook/
	GO=$(GO) MUTATE_MIN=90 .ci/mutate internal/severity
	deploy/terraform/check.sh

## terraform-test: only the Terraform checks
terraform-test:
	deploy/terraform/check.sh

## fuzz: a longer fuzz of every decoder and of the classifier
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime 2m ./internal/event/
	$(GO) test -run '^$$' -fuzz '^FuzzFastMatchesStrict$$' -fuzztime 2m ./internal/event/
	$(GO) test -run '^$$' -fuzz '^FuzzSplit$$' -fuzztime 1m ./internal/event/
	$(GO) test -run '^$$' -fuzz '^FuzzTask$$' -fuzztime 1m ./internal/classify/
	$(GO) test -run '^$$' -fuzz '^FuzzSlackRequest$$' -fuzztime 1m ./internal/chatops/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 1m ./internal/runbook/

## lint: gofmt, go vet, staticcheck (pinned in go.mod as a tool) and go.mod/go.sum tidy (a module
## imported directly must not be marked // indirect, none may be missing or unused)
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; }

## mutate: mutation testing of the packages that hold the safety rules, with gremlins (pinned in
## go.mod as a tool), one package at a time: test efficacy and mutant coverage per package, logs in
## build/mutate (docs/testing.md). CPU-heavy and slow (an hour or more): MUTATE_PKGS=internal/severity
## for one package, MUTATE_MIN=90 to fail below 90 % efficacy.
mutate:
	GO=$(GO) MUTATE_MIN=$(MUTATE_MIN) .ci/mutate $(MUTATE_PKGS)

## bench: decode+classify per event, Lambda cold starts under the emulator, package sizes, then
## the 10,000-event storm through the medic serve stack
bench: testenv package alertmanager
	$(GO) test -run '^$$' -bench . -benchmem ./internal/...
	$(GO) test -run '^$$' -bench ColdStart -benchtime 5x ./functions/
	$(GO) run ./cmd/medic-load -events 10000 -services 20 -redelivered 0.05 -clients 16
	$(GO) run ./cmd/medic-load -scenarios -write docs/benchmarks.md

## alertmanager: Debian's Prometheus Alertmanager, for the side-by-side storm in make bench (pinned)
ALERTMANAGER_VERSION := 0.25.0-1+b4
alertmanager:
	@test -x /usr/bin/prometheus-alertmanager || { apt-get update -qq && apt-get install -y -qq prometheus-alertmanager=$(ALERTMANAGER_VERSION); } || echo "alertmanager not installed: the comparison will be skipped"

## chaos: the storm and fault scenarios in full (docs/benchmarks.md keeps their figures)
chaos:
	$(GO) run ./cmd/medic-load -scenarios

FUNCTIONS := ecs-events alarm-events reconciler slack remediate
LAMBDA_FLAGS := -tags lambda.norpc -trimpath -ldflags '-s -w'

## package: every Lambda function as build/<name>.zip (bootstrap for provided.al2023, arm64)
package:
	@mkdir -p build
	@for fn in $(FUNCTIONS); do \
	  mkdir -p build/$$fn && \
	  GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(LAMBDA_FLAGS) -o build/$$fn/bootstrap ./functions/$$fn && \
	  $(GO) run ./cmd/lambdazip build/$$fn/bootstrap build/$$fn.zip && \
	  printf '%-14s %8s bytes\n' $$fn $$(stat -c %s build/$$fn.zip) || exit 1; \
	done

## build: the medic binary, bin/medic (medic --version prints $(VERSION))
build:
	$(GO) build -trimpath -ldflags '$(MEDIC_LDFLAGS)' -o $(BIN)/medic ./cmd/medic

clean:
	rm -rf $(BIN) build medic.db
