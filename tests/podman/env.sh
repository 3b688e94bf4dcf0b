#!/usr/bin/env bash
# Source this file (or eval "$(tests/podman/env.sh)") before running podman or
# molecule here. On a host with hybrid cgroups (v1 controllers plus an empty v2
# mount) podman's default runtime (crun) refuses to start containers, podman
# lowers RLIMIT_NPROC below its own default ulimit, and RLIMIT_NOFILE cannot go
# above the current hard limit. A containers.conf written from the host's own
# numbers handles all three; on a pure cgroup v2 host nothing is set.
#
# Printed, not exported, when run as a script: `eval "$(tests/podman/env.sh)"`.
zonesync_podman_env() {
    local conf_dir=${ZONESYNC_TMP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.tmp}/podman
    local fstype
    fstype=$(stat -f -c %T /sys/fs/cgroup 2>/dev/null || echo unknown)
    if [[ $fstype == cgroup2fs ]]; then
        return 0 # pure cgroup v2: podman's defaults work
    fi
    mkdir -p "$conf_dir"
    local nofile pid_max
    nofile=$(ulimit -Hn)
    [[ $nofile == unlimited ]] && nofile=1048576
    pid_max=$(cat /proc/sys/kernel/pid_max)
    cat >"$conf_dir/containers.conf" <<CONF
# Written by tests/podman/env.sh for this host (hybrid cgroups).
[containers]
default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${pid_max}:${pid_max}"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
CONF
    echo "export CONTAINERS_CONF=$conf_dir/containers.conf"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    set -euo pipefail
    zonesync_podman_env
else
    eval "$(zonesync_podman_env)"
fi
