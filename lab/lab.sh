#!/usr/bin/env bash
# The lab behind `make lab` and `make lab-down`: a containerised DNS fleet on
# podman, deployed with playbooks/site.yml and checked with playbooks/check.yml.
#
#   lab/lab.sh up     build the image if needed, start 4 containers, site.yml, check.yml, print the table
#   lab/lab.sh check  check.yml again (read-only)
#   lab/lab.sh site   site.yml again (repairs what drifted), extra arguments go to ansible-playbook
#   lab/lab.sh down   remove the containers and the network (the key store in .tmp/lab stays)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
eval "$("$root/tests/podman/env.sh")"
export PATH=$root/.venv/bin:$PATH
export ANSIBLE_COLLECTIONS_PATH=$root/.tmp/collections
export ANSIBLE_FORCE_COLOR=${ANSIBLE_FORCE_COLOR:-false}
export ANSIBLE_HOST_KEY_CHECKING=false
export ANSIBLE_CONNECTION_PLUGINS=$root/tests/podman/connection_plugins
image=${ZONESYNC_IMAGE:-localhost/zonesync-base:bookworm}
network=zonesync-lab
subnet=10.89.153.0/24
state=$root/.tmp/lab
declare -A hosts=([zs-lab-hidden]=10.89.153.10 [zs-lab-bind]=10.89.153.11 [zs-lab-pdns]=10.89.153.12 [zs-lab-tier2]=10.89.153.13)

down() {
    for name in "${!hosts[@]}"; do
        podman rm -f -t 2 "$name" >/dev/null 2>&1 || true
    done
    podman network rm -f "$network" >/dev/null 2>&1 || true
}

playbook() {
    ansible-playbook -i "$root/lab/inventory/hosts.yml" "$@"
}

check() {
    mkdir -p "$state"
    rc=0
    playbook "$root/playbooks/check.yml" -e check_report_dir="$state/report" || rc=$?
    "$root/.venv/bin/python" "$root/lab/table.py" "$state/report/report.json"
    return $rc
}

up() {
    down
    mkdir -p "$state"
    podman network create --subnet "$subnet" "$network" >/dev/null
    for name in "${!hosts[@]}"; do
        podman run -d --name "$name" --hostname "$name" --network "$network" --ip "${hosts[$name]}" \
            --cap-add NET_ADMIN --systemd=always "$image" /sbin/init >/dev/null
    done
    for name in "${!hosts[@]}"; do
        for _ in $(seq 1 60); do
            s=$(podman exec "$name" systemctl is-system-running 2>/dev/null || true)
            [[ $s == running || $s == degraded ]] && break
            sleep 0.5
        done
    done
    echo "lab: 4 containers up on $network ($subnet); running playbooks/site.yml"
    start=$(date +%s)
    playbook "$root/playbooks/site.yml"
    echo "lab: site.yml took $(( $(date +%s) - start )) s; running playbooks/check.yml"
    check
    echo "lab: reports in $state/report/ (report.json, report.md, report.html); 'make lab-down' removes the lab."
}

case ${1:-} in
    up) up ;;
    check) check ;;
    site) shift; playbook "$root/playbooks/site.yml" "$@" ;;
    down) down; echo "lab: removed" ;;
    *) echo "usage: $0 up|check|site|down" >&2; exit 2 ;;
esac
