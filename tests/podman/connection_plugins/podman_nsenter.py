# Copyright: dnsops.zonesync contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A test-only connection to the local podman containers of molecule and the lab.

`containers.podman.podman` runs every command through `podman exec`, which
costs about 0.2 s here (conmon and runc for each call), and it cannot pipeline:
one task is four or five such calls, 2 to 3 s for three containers on two
cores. This connection enters the container's namespaces with `nsenter`
(about 4 ms) and pipelines modules on stdin, the way `ssh` with pipelining
runs them on a real fleet. It is part of the test harness, not of the
collection: nothing under plugins/ uses it.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: podman_nsenter
short_description: Run tasks in a local rootful podman container through nsenter, with pipelining
description:
  - Looks up the container's init process once with C(podman inspect), then runs every command
    in the container's mount, UTS, IPC, network, PID and cgroup namespaces with C(nsenter),
    with the environment of the container's init process, as C(podman exec) does.
  - Files are copied through the same C(nsenter) call (C(dd) and C(cat) inside the container), so
    that symbolic links resolve inside the container.
options:
  remote_addr:
    description: The name of the container.
    default: inventory_hostname
    vars:
      - name: inventory_hostname
      - name: ansible_host
      - name: ansible_podman_host
  podman_executable:
    description: The podman command, to look the container up.
    default: podman
    vars:
      - name: ansible_podman_executable
    env:
      - name: ANSIBLE_PODMAN_EXECUTABLE
  pipelining:
    description: Pipeline modules on stdin instead of copying them into the container first.
    type: boolean
    default: true
    env:
      - name: ANSIBLE_PIPELINING
    vars:
      - name: ansible_pipelining
"""

import os
import shutil
import subprocess

from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.connection import ConnectionBase
from ansible.utils.display import Display

display = Display()

# The namespaces a rootful podman container has of its own. The user namespace
# is the host's (rootful, no userns), so it is not entered.
NAMESPACES = ("--mount", "--uts", "--ipc", "--net", "--pid", "--cgroup")


class Connection(ConnectionBase):
    """Commands and files through nsenter into a local podman container."""

    transport = "podman_nsenter"
    has_pipelining = True
    has_tty = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._pid = None
        self._env = None

    def _connect(self):
        if self._connected:
            return self
        name = self.get_option("remote_addr")
        podman = shutil.which(self.get_option("podman_executable")) or self.get_option("podman_executable")
        nsenter = shutil.which("nsenter")
        if nsenter is None:
            raise AnsibleError("nsenter was not found on the controller: install util-linux")
        try:
            found = subprocess.run(
                [podman, "inspect", "--type", "container", "--format", "{{.State.Pid}}", name],
                capture_output=True, check=False, timeout=60,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise AnsibleConnectionFailure(f"could not ask podman for container {name}: {exc}") from exc
        pid = to_text(found.stdout).strip()
        if found.returncode != 0 or not pid.isdigit() or pid == "0":
            raise AnsibleConnectionFailure(
                f"container {name} is not running (podman inspect: rc={found.returncode}, "
                f"{to_text(found.stderr).strip() or 'pid ' + pid})"
            )
        try:
            with open(f"/proc/{pid}/environ", "rb") as handle:
                environ = [item for item in handle.read().split(b"\0") if item]
        except OSError as exc:
            raise AnsibleConnectionFailure(f"could not read the environment of container {name}: {exc}") from exc
        self._pid = pid
        self._nsenter = nsenter
        self._env = environ
        self._connected = True
        display.vvv(f"NSENTER container {name} (pid {pid})", host=name)
        return self

    def _command(self, argv):
        """The argv that runs argv inside the container, with the container's environment."""
        return (
            [to_bytes(self._nsenter), b"--target", to_bytes(self._pid)]
            + [to_bytes(ns) for ns in NAMESPACES]
            + [b"--root", b"--wd", b"--", b"/usr/bin/env", b"-i"]
            + self._env
            + [to_bytes(arg) for arg in argv]
        )

    def exec_command(self, cmd, in_data=None, sudoable=True):
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        display.vvv(f"EXEC {cmd}", host=self.get_option("remote_addr"))
        process = subprocess.run(
            self._command(["/bin/sh", "-c", cmd]),
            input=in_data, capture_output=True, check=False,
        )
        return process.returncode, process.stdout, process.stderr

    def put_file(self, in_path, out_path):
        super().put_file(in_path, out_path)
        display.vvv(f"PUT {in_path} TO {out_path}", host=self.get_option("remote_addr"))
        if not os.path.exists(to_bytes(in_path, errors="surrogate_or_strict")):
            raise AnsibleError(f"file or module does not exist: {in_path}")
        with open(to_bytes(in_path, errors="surrogate_or_strict"), "rb") as source:
            process = subprocess.run(
                self._command(["/bin/dd", f"of={out_path}", "bs=65536", "status=none"]),
                stdin=source, capture_output=True, check=False,
            )
        if process.returncode != 0:
            raise AnsibleError(f"failed to copy {in_path} to {out_path}: {to_text(process.stderr).strip()}")

    def fetch_file(self, in_path, out_path):
        super().fetch_file(in_path, out_path)
        display.vvv(f"FETCH {in_path} TO {out_path}", host=self.get_option("remote_addr"))
        with open(to_bytes(out_path, errors="surrogate_or_strict"), "wb") as target:
            process = subprocess.run(
                self._command(["/bin/cat", in_path]), stdout=target, stderr=subprocess.PIPE, check=False,
            )
        if process.returncode != 0:
            raise AnsibleError(f"failed to fetch {in_path} to {out_path}: {to_text(process.stderr).strip()}")

    def close(self):
        self._connected = False
