#!/usr/bin/env bash
# Build the local systemd base image the molecule scenarios and `make lab` run
# on, once: there is no registry to pull from, so mmdebstrap builds a Debian 12
# root file system from the host's own apt sources and podman imports it.
#
# The image carries systemd, Python with dnspython and netaddr (the modules run
# on the DNS hosts too), and the server packages the roles install, so that a
# scenario does not download them again on every run. The roles still declare
# and install their packages; here they find them present. named and pdns are
# installed but disabled: the roles decide which one a host runs.
#
# Usage: tests/podman/build-image.sh [--force]
# The image is rebuilt when --force is given or when this script changed since
# the image was built (its sha256 is stored as an image label).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
eval "$("$here/env.sh")"

image=${ZONESYNC_IMAGE:-localhost/zonesync-base:bookworm}
digest=$(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)
force=${1:-}

if [[ $force != --force ]] && podman image exists "$image"; then
    have=$(podman image inspect --format '{{ index .Labels "zonesync.recipe" }}' "$image" 2>/dev/null || true)
    if [[ $have == "$digest" ]]; then
        echo "image: $image is up to date"
        exit 0
    fi
    echo "image: $image was built from another recipe, rebuilding"
fi

packages=(
    systemd systemd-sysv dbus          # PID 1 in the containers
    python3 python3-apt                # Ansible's modules (apt needs python3-apt)
    python3-dnspython python3-netaddr  # this collection's modules on the hosts
    bind9 bind9-utils bind9-dnsutils   # roles/bind
    pdns-server pdns-backend-sqlite3 sqlite3  # roles/powerdns
    nftables iproute2 procps           # firewall role; ip, ss, ps
    chrony                             # the NTP check's time source
    sudo ca-certificates
)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "image: building $image with mmdebstrap (${#packages[@]} packages)"
# No service may start inside the chroot while it is built; afterwards named and
# pdns stay disabled, and chrony too (a container cannot set the clock).
# The hooks are single-quoted on purpose: mmdebstrap's shell expands "$1" (the root).
# shellcheck disable=SC2016
mmdebstrap --variant=apt --quiet \
    --include="$(IFS=,; echo "${packages[*]}")" \
    --customize-hook='chroot "$1" systemctl disable named.service pdns.service chrony.service || true' \
    --customize-hook='chroot "$1" systemctl mask systemd-timesyncd.service getty@tty1.service console-getty.service || true' \
    --customize-hook='rm -f "$1"/etc/machine-id && : > "$1"/etc/machine-id' \
    --customize-hook='chroot "$1" apt-get clean' \
    bookworm "$work/rootfs.tar"
podman import \
    --change 'CMD ["/sbin/init"]' \
    --change 'STOPSIGNAL SIGRTMIN+3' \
    --change "LABEL zonesync.recipe=$digest" \
    "$work/rootfs.tar" "$image" >/dev/null
echo "image: $image built ($(podman image inspect --format '{{.Size}}' "$image" | numfmt --to=iec))"
