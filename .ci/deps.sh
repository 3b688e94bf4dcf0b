#!/usr/bin/env bash
# Install the Debian 12 packages the tests need, but only when some are missing
# (a fast no-op otherwise), and make sure no system DNS server holds port 53 in
# a way that blocks the tests' own servers on 127.53.x.y:53.
#
# Called by `make deps`. Needs root, or sudo, only when something is missing.
set -euo pipefail

packages=(
    bind9 bind9-utils bind9-dnsutils  # named, named-checkconf, tsig-keygen, rndc, dig
    pdns-server pdns-backend-sqlite3  # PowerDNS Authoritative
    faketime                          # clock skew (TSIG BADTIME)
    gcc libc6-dev                     # the wall-clock shift preload for named (tests/integration/dnslab.py)
    nftables iproute2                 # packet filtering; ip, ss
    sqlite3 git                       # pdns databases; sanity copy (tests/sanity/run.sh)
    python3 python3-venv              # make venv
    ca-certificates                   # pip over https
    python3-dnspython python3-netaddr python3-pytest  # the managed hosts' own Python libraries (make integration-hosts)
    shellcheck                        # otherwise ansible-test skips its shellcheck test
    podman runc mmdebstrap            # molecule scenarios and the lab: systemd containers, local base image
)

as_root() {
    if ((EUID == 0)); then
        "$@"
    else
        sudo "$@"
    fi
}

missing=()
for pkg in "${packages[@]}"; do
    if [[ $(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true) != installed ]]; then
        missing+=("$pkg")
    fi
done

if ((${#missing[@]})); then
    echo "deps: installing ${missing[*]}"

    # Keep the freshly installed named/pdns from starting (they would take port 53)
    # unless the machine already has its own policy (Docker images usually do).
    policy=/usr/sbin/policy-rc.d
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\n# dnsops.zonesync .ci/deps.sh: no service starts during its apt-get run\nexit 101\n' |
            as_root tee "$policy" >/dev/null
        as_root chmod 0755 "$policy"
        trap 'as_root rm -f "$policy"' EXIT
    fi

    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"

    # The packages enable their services for the next boot; the tests start
    # their own servers, so stop and disable the system ones we just installed.
    to_disable=()
    if [[ " ${missing[*]} " == *" bind9 "* ]]; then to_disable+=(named); fi
    if [[ " ${missing[*]} " == *" pdns-server "* ]]; then to_disable+=(pdns); fi
    for svc in "${to_disable[@]}"; do
        if [[ -d /run/systemd/system ]]; then
            if systemctl list-unit-files "$svc.service" >/dev/null 2>&1; then
                echo "deps: systemctl disable --now $svc.service"
                as_root systemctl disable --now "$svc.service" || true
            fi
        elif [[ -x /etc/init.d/$svc ]]; then
            echo "deps: stopping and disabling /etc/init.d/$svc"
            as_root /etc/init.d/"$svc" stop >/dev/null 2>&1 || true
            as_root update-rc.d "$svc" disable >/dev/null 2>&1 || true
        fi
    done
fi

# A wildcard listener on port 53 (0.0.0.0, [::] or *) makes every bind to
# 127.53.x.y:53 fail with EADDRINUSE (TCP always, UDP unless both sides set
# SO_REUSEADDR). 127.0.0.1:53 does not conflict, but is worth knowing about.
listeners=$(ss -H -lntup 'sport = :53' 2>/dev/null || true)
blocking=$(awk '$5 ~ /^(0\.0\.0\.0|\*|\[::\]|\[::ffff:0\.0\.0\.0\])(%[^:]*)?:53$/' <<<"$listeners")
if [[ -n $blocking ]]; then
    {
        echo "deps: ERROR: something listens on port 53 on all addresses; the tests' own"
        echo "deps: DNS servers on 127.53.x.y:53 cannot start. Stop it first, e.g."
        echo "deps:   systemctl disable --now named pdns"
        echo "$blocking"
    } >&2
    exit 1
fi
loopback=$(awk '$5 ~ /^127\.0\.0\.1:53$/' <<<"$listeners")
if [[ -n $loopback ]]; then
    echo "deps: note: 127.0.0.1:53 is in use (no conflict with 127.53.x.y):"
    echo "$loopback"
fi
echo "deps: ok (${#packages[@]} packages present, port 53 free on all-address sockets)"
