# dnsops.zonesync: build and test entry points.
#
#   make test         THE test command (CI runs it through .ci/run). On a fresh
#                     Debian 12 machine it installs what it needs (deps, venv),
#                     then runs, in order: sanity, units, integration, lint.
#   make deps         Debian packages (apt-get only when something is missing)
#   make venv         .venv from tests/requirements-dev.txt (reinstalled when
#                     that file or requirements.txt changes)
#   make sanity       ansible-test sanity on a clean copy (tests/sanity/run.sh);
#                     SANITY_ARGS="--test pep8" narrows it
#   make units        pytest tests/unit
#   make fuzz         the wire property tests with FUZZ_EXAMPLES (50000) cases each, randomly seeded
#   make integration  pytest tests/integration
#   make integration-hosts  the modules' DNS tests again under the managed hosts'
#                     own Python and dnspython (Debian 12: python3-dnspython 2.3)
#   make lint         ansible-lint (production profile), then yamllint -s .
#   make image        the local systemd base image for podman (built once)
#   make molecule     every molecule scenario (MOLECULE_SCENARIOS="default")
#   make bench        benchmarks/run.py: our checks next to dig and dnspython (not part of test)
#   make build        collection tarball in .tmp/build/
#   make clean        remove .tmp/, tests/output/ and caches (keeps .venv)
#   make distclean    clean, and remove .venv too
#   make lab          the containerised lab (site.yml, then check.yml); lab-check, lab-down
#   make lab-scale    grow the running lab to LAB_ZONES (10000) zones and time check.yml
#   make bench-fleet  a fresh lab grown through site.yml to BENCH_FLEET_ZONES (1000)
#                     zones: deploy, second run, one change, one zone added, check.yml,
#                     peak RSS; next to the per-zone roles (BENCH_PEER_ZONES, 50) and a
#                     dig AXFR loop, measured in the same run. BENCH_FLEET_MODE: catalog
#                     (default; the secondaries learn the zones from the lab's catalog) or explicit
#
# PYTEST_ARGS is passed to both pytest runs. pytest's "no tests collected"
# (exit 5) is a failure; ALLOW_NO_TESTS=1 turns it into a loud warning.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.ONESHELL:
.DELETE_ON_ERROR:
.DEFAULT_GOAL := help
# `make -j test` must still run the steps one after the other, in order.
.NOTPARALLEL:
MAKEFLAGS += --no-builtin-rules

PYTHON_VERSION := 3.11
# Evaluated lazily, so that on a fresh machine it sees the python3 `deps` installed.
PYTHON ?= $(shell command -v python$(PYTHON_VERSION) || echo python3)

VENV := $(CURDIR)/.venv
VENV_PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.zonesync-requirements
DEV_REQUIREMENTS := $(CURDIR)/tests/requirements-dev.txt
REQUIREMENTS := $(DEV_REQUIREMENTS) $(CURDIR)/requirements.txt
TMP := $(CURDIR)/.tmp

SANITY_ARGS ?=
PYTEST_ARGS ?=
ALLOW_NO_TESTS ?=

# The venv's tools first (ansible-lint warns otherwise; ansible-test's children need it).
export PATH := $(VENV)/bin:$(PATH)

.PHONY: help test deps venv sanity units fuzz integration integration-hosts hosts-venv lint build clean distclean collection-link image molecule bench bench-signed

help:
	@sed -n '3,31s/^# \{0,1\}//p' $(firstword $(MAKEFILE_LIST))

test: deps venv sanity units integration integration-hosts lint molecule

deps:
	@$(CURDIR)/.ci/deps.sh

venv:
	@want="$$(cat $(REQUIREMENTS) | sha256sum | cut -d' ' -f1) python$(PYTHON_VERSION)"
	if [[ -f $(VENV_STAMP) && "$$(cat $(VENV_STAMP))" == "$$want" ]] && $(VENV_PY) -c 'import sys' 2>/dev/null; then
	    echo "venv: up to date ($(VENV))"
	    exit 0
	fi
	if ! $(VENV_PY) -c 'import sys; sys.exit(sys.version_info[:2] != tuple(map(int, "$(PYTHON_VERSION)".split("."))))' 2>/dev/null; then
	    echo "venv: creating $(VENV) with $(PYTHON)"
	    rm -rf $(VENV)
	    $(PYTHON) -m venv $(VENV)
	fi
	$(VENV_PY) -m pip install --disable-pip-version-check -q -r $(DEV_REQUIREMENTS)
	echo "$$want" > $(VENV_STAMP)
	echo "venv: installed $(DEV_REQUIREMENTS)"

sanity: venv
	@VENV=$(VENV) SANITY_PYTHON=$(PYTHON_VERSION) $(CURDIR)/tests/sanity/run.sh $(SANITY_ARGS)

# $(call pytest,DIR): run pytest on DIR; exit 5 (nothing collected) is an error.
define pytest
rc=0
$(VENV_PY) -m pytest -q $(PYTEST_ARGS) $(1) || rc=$$?
if [[ $$rc == 5 ]]; then
    if [[ -n "$(ALLOW_NO_TESTS)" ]]; then
        echo "WARNING: pytest collected no tests in $(1) (exit 5); accepted because ALLOW_NO_TESTS is set" >&2
        exit 0
    fi
    echo "ERROR: pytest collected no tests in $(1) (exit 5)" >&2
fi
exit $$rc
endef

units: venv
	@$(call pytest,tests/unit)

# The property tests of tests/unit run seeded with 1,000 cases each in `make units`; here, longer and random.
FUZZ_EXAMPLES ?= 50000
fuzz: venv
	@ZONESYNC_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) ZONESYNC_FUZZ_RANDOM=1 $(VENV_PY) -m pytest -q \
	    tests/unit/plugins/module_utils/test_wire_properties.py

integration: deps venv
	@$(call pytest,tests/integration)

# The managed hosts run the modules under their own Python and dnspython
# (Debian 12: /usr/bin/python3 with python3-dnspython 2.3), which differs from
# the venv's: a venv on the system Python that sees the system's dnspython and
# netaddr, with only ansible-core (for module_utils) added.
HOSTS_VENV := $(CURDIR)/.venv-hosts
HOSTS_TESTS := tests/integration/test_zone_transfer_check.py tests/integration/test_zone_content.py \
	tests/integration/test_soa_serial.py tests/integration/test_fastpath_soa.py tests/integration/test_fastpath_xfr.py \
	tests/integration/test_dnssec_freshness.py
hosts-venv: deps
	@if ! $(HOSTS_VENV)/bin/python -c 'import ansible, dns, netaddr, pytest' 2>/dev/null; then
	    rm -rf $(HOSTS_VENV)
	    /usr/bin/python3 -m venv --system-site-packages $(HOSTS_VENV)
	    $(HOSTS_VENV)/bin/python -m pip install --disable-pip-version-check -q 'ansible-core>=2.16,<2.20'
	fi
	# The point is the system's dnspython, not one pip brought in.
	$(HOSTS_VENV)/bin/python -c 'import dns, dns.version, sys; assert dns.__file__.startswith("/usr/lib/python3/"), dns.__file__; print("hosts-venv: Python %s, dnspython %s from %s" % (sys.version.split()[0], dns.version.version, dns.__file__))'

integration-hosts: hosts-venv
	@rc=0
	$(HOSTS_VENV)/bin/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) $(HOSTS_TESTS) || rc=$$?
	exit $$rc

# The collection itself, importable under its own name (also done by tests/conftest.py).
collection-link:
	@mkdir -p $(TMP)/collections/ansible_collections/dnsops
	ln -sfn $(CURDIR) $(TMP)/collections/ansible_collections/dnsops/zonesync

lint: venv collection-link
	@echo "lint: ansible-lint --profile production"
	# A home of its own: a copy of the collection installed earlier under ~/.ansible would shadow the work tree.
	ANSIBLE_HOME=$(TMP)/lint-home ANSIBLE_COLLECTIONS_PATH=$(TMP)/collections ansible-lint --profile production
	echo "lint: yamllint -s ."
	yamllint -s .

# Podman needs a containers.conf on hosts with hybrid cgroups (tests/podman/env.sh).
image: deps
	@$(CURDIR)/tests/podman/build-image.sh

# Every scenario under molecule/ (or those in MOLECULE_SCENARIOS), one after the
# other, each timed. A failing scenario stops the run.
MOLECULE_SCENARIOS ?= $(sort $(filter-out _shared,$(notdir $(patsubst %/molecule.yml,%,$(wildcard $(CURDIR)/molecule/*/molecule.yml)))))
molecule: deps venv image collection-link
	@eval "$$($(CURDIR)/tests/podman/env.sh)"
	for scenario in $(MOLECULE_SCENARIOS); do
	    echo "molecule: scenario $$scenario"
	    start=$$(date +%s)
	    $(VENV)/bin/molecule test -s $$scenario
	    echo "molecule: scenario $$scenario passed in $$(( $$(date +%s) - start )) s"
	done

bench: deps venv
	@$(VENV_PY) $(CURDIR)/benchmarks/run.py $(BENCH_ARGS)

# What reading signatures adds to the content check, next to dig AXFR, on one BIND (as root).
bench-signed: deps venv collection-link
	@$(VENV_PY) $(CURDIR)/benchmarks/signed.py $(BENCH_SIGNED_ARGS)

# Build from the files git would commit, so caches in the work tree
# (.ansible/, .pytest_cache/, __pycache__/) never end up in the tarball.
build: venv
	@rm -rf $(TMP)/build
	$(CURDIR)/.ci/export-tree.sh $(TMP)/build/src
	ansible-galaxy collection build --force --output-path $(TMP)/build $(TMP)/build/src
	ls -l $(TMP)/build/*.tar.gz

clean:
	@rm -rf $(TMP) $(CURDIR)/tests/output $(CURDIR)/.pytest_cache $(CURDIR)/.ansible
	find $(CURDIR) -path $(VENV) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +

distclean: clean
	@rm -rf $(VENV) $(HOSTS_VENV)

# ---------------------------------------------------------------------------
# The lab (`make lab`, the README's first command): a containerised fleet on
# podman (a hidden BIND primary, a BIND and a PowerDNS secondary, a second-tier
# BIND secondary), deployed with playbooks/site.yml, then checked with
# playbooks/check.yml, which prints the convergence table and writes reports.
.PHONY: lab lab-check lab-down lab-scale bench-fleet

lab: deps venv image collection-link
	@$(CURDIR)/lab/lab.sh up

lab-check: venv collection-link
	@$(CURDIR)/lab/lab.sh check

lab-down:
	@$(CURDIR)/lab/lab.sh down

# Grow the running lab to LAB_ZONES extra zones and time check.yml across them.
LAB_ZONES ?= 10000
lab-scale: venv collection-link
	@eval "$$($(CURDIR)/tests/podman/env.sh)"
	$(VENV_PY) $(CURDIR)/lab/scale.py --zones $(LAB_ZONES)

BENCH_FLEET_ZONES ?= 1000
BENCH_PEER_ZONES ?= 50
BENCH_FLEET_MODE ?= catalog
bench-fleet: lab
	@eval "$$($(CURDIR)/tests/podman/env.sh)"
	$(VENV_PY) $(CURDIR)/benchmarks/fleet_site.py --zones $(BENCH_FLEET_ZONES) --peer-zones $(BENCH_PEER_ZONES) --mode $(BENCH_FLEET_MODE)
