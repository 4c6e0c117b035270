# The two commands a newcomer needs: `make demo` and `make test`. Both bring up the local
# emulators themselves (localstack/up installs them into a venv on first use).
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
CARGO ?= cargo
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
FTCTL := $(TARGET_DIR)/debug/ftctl
DEMO_ENV ?= demo

.PHONY: all build demo demo-destroy test unit lint emulators-up emulators-down clean

all: build

build:
	$(CARGO) build

emulators-up:
	localstack/up

emulators-down:
	localstack/down

# Apply stage1 to the local emulators and say what to try next. The emulators keep running
# so the deployment can be explored; `make demo-destroy` removes it, `make emulators-down` stops them.
demo: build emulators-up
	source localstack/endpoints.env && \
	  $(FTCTL) apply stage1 --env $(DEMO_ENV) --yes
	@echo
	@echo "The stage1 deployment '$(DEMO_ENV)' runs on the local emulators. Try:"
	@echo "  source localstack/endpoints.env"
	@echo "  $(FTCTL) plan stage1 --env $(DEMO_ENV)                            # no changes"
	@echo "  $(FTCTL) plan stage1 --env $(DEMO_ENV) --var tiers.web.max_size=8 # one in-place update"
	@echo "  $(FTCTL) destroy --env $(DEMO_ENV) --disable-deletion-protection --skip-final-snapshot"
	@echo "  make emulators-down"

demo-destroy: build
	source localstack/endpoints.env && \
	  $(FTCTL) destroy --env $(DEMO_ENV) --yes --disable-deletion-protection --skip-final-snapshot

# Formatting, lints, unit and integration tests against the emulators. The emulators are
# stopped afterwards whatever happened (the trap), by the PIDs localstack/up recorded.
test:
	localstack/up
	trap 'localstack/down' EXIT; \
	  source localstack/endpoints.env; \
	  $(CARGO) fmt --check; \
	  $(CARGO) clippy --all-targets -- -D warnings; \
	  $(CARGO) test

# Unit tests only: no emulators needed.
unit:
	$(CARGO) test --bins

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

clean: emulators-down
	$(CARGO) clean
	rm -rf localstack/.venv localstack/run localstack/endpoints.env
