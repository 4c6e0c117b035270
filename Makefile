# The two commands a newcomer needs: `make demo` and `make test`. Both bring up the local
# emulators themselves (localstack/up installs them into a venv on first use).
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
CARGO ?= cargo
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
FTCTL := $(TARGET_DIR)/debug/ftctl
DEMO_ENV ?= demo

.PHONY: all build demo demo-destroy test test-crash test-crash-all bench iam-policies unit lint emulators-up emulators-down clean

all: build

build:
	$(CARGO) build

emulators-up:
	localstack/up

emulators-down:
	localstack/down

# Apply stage3 (the whole architecture: tiers, database, cache, global table, ECS service, EFS,
# EMR, DNS) to the local emulators, exactly as a user types it, and say what to try next. The
# emulators keep running so the deployment can be explored; `make demo-destroy` removes it,
# `make emulators-down` stops them.
demo: build emulators-up
	source localstack/endpoints.env && \
	  $(FTCTL) apply stage3 --env $(DEMO_ENV) --yes
	@echo
	@echo "The stage3 deployment '$(DEMO_ENV)' runs on the local emulators. Try:"
	@echo "  source localstack/endpoints.env"
	@echo "  $(FTCTL) plan stage3 --env $(DEMO_ENV)   # no changes"
	@echo "  $(FTCTL) plan stage1 --env $(DEMO_ENV)   # what going back to stage 1 removes"
	@echo "  $(FTCTL) graph stage3                    # the architecture, as Mermaid"
	@echo "  $(FTCTL) chaos list --env $(DEMO_ENV)"
	@echo "  $(FTCTL) chaos kill-az --env $(DEMO_ENV) --dry-run"
	@echo "  $(FTCTL) backup --env $(DEMO_ENV)"
	@echo "  make demo-destroy && make emulators-down"

demo-destroy: build
	source localstack/endpoints.env && \
	  $(FTCTL) destroy --env $(DEMO_ENV) --yes --disable-deletion-protection --skip-final-snapshot

# The integration tests (one binary, tests/it) run this many at a time. moto answers one
# request at a time, so more threads queue behind it rather than finish sooner, and the chaos
# tests' time budgets suffer; 2 is what each per-file test binary ran with on a 2-core machine
# before they were one binary. The counting tests (resilience) run alone whatever this is.
IT_THREADS ?= 2

# Formatting, lints, unit and integration tests against the emulators. The emulators are
# stopped afterwards whatever happened (the trap), by the PIDs localstack/up recorded.
test:
	localstack/up
	trap 'localstack/down' EXIT; \
	  source localstack/endpoints.env; \
	  $(CARGO) fmt --all --check && \
	  $(CARGO) clippy --workspace --all-targets -- -D warnings && \
	  $(CARGO) test --workspace --lib --bins && \
	  $(CARGO) test --test it -- --test-threads $(IT_THREADS)

# The long variants of the crash tests. `make test` kills ftctl at about 8 requests of each of
# stage 1's `apply` and `destroy` and 3 of stage 3's (about 12 minutes of its run);
# `test-crash` at about 24 and 6 (about 30 minutes more; CI does not run it, see .ci/run),
# offset by the process id so successive runs cover different requests; `test-crash-all` at
# every one of them (stage 1: 436 requests of apply and destroy, stage 3: 748, as the crash
# tests printed them on 2026-12-01; several hours on the emulators, which slow as they
# accumulate state).
CRASH_TEST = trap 'localstack/down' EXIT; \
  localstack/up || exit 1; \
  source localstack/endpoints.env; \
  FTCTL_CRASH_POINTS=$(1) $(CARGO) test --test it runs_killed_at_any_request -- --nocapture --test-threads 1 \
    2>&1 | tee $(TARGET_DIR)/crash-tests.log; \
  grep -q "test result: ok. 2 passed" $(TARGET_DIR)/crash-tests.log || \
    { echo "make: the two crash tests (stage 1 and stage 3) did not both run and pass" >&2; exit 1; }
test-crash:
	$(call CRASH_TEST,long)
test-crash-all:
	$(call CRASH_TEST,all)

# Benchmarks (benches/bench.rs, a harness-less [[bench]] that `cargo test` does not build):
# requests per plan, parallel against serial apply and the critical path, 1,000 resources,
# chaos precision, CLI start-up and memory. `cargo test --bench` builds it in the dev profile,
# so it measures the debug ftctl the tests run, as BENCHMARKS.md says. Prints the figures and
# rewrites BENCHMARKS.md with them.
BENCH_DIR := $(TARGET_DIR)/bench
bench:
	localstack/up
	trap 'localstack/down' EXIT; \
	  source localstack/endpoints.env; \
	  rm -rf $(BENCH_DIR); \
	  FTCTL_BENCH_DIR=$(BENCH_DIR) $(CARGO) test --bench bench; \
	  bench/report $(BENCH_DIR) > BENCHMARKS.md
	@echo "BENCHMARKS.md written."

# The least-privilege IAM policy of each stage (docs/iam/<stage>.json), from the requests ftctl
# makes for plan, apply, status, check, chaos list and destroy through the test proxy. `make
# test` checks that stage 1's policy still allows every call its apply and destroy make.
iam-policies:
	localstack/up
	trap 'localstack/down' EXIT; \
	  source localstack/endpoints.env; \
	  $(CARGO) test --test it resilience::iam_policies -- --ignored --nocapture

# Unit tests only: no emulators needed.
unit:
	$(CARGO) test --workspace --lib --bins

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

clean: emulators-down
	$(CARGO) clean
	rm -rf localstack/.venv localstack/run localstack/endpoints.env
