"""The server runs one event loop per CPU it may use, including when its affinity is narrowed with
`taskset`: NIO's own count reads cgroups but not the affinity mask, so a server pinned to one core
of two used to run two loops on it (docs/benchmarks.md, "Thread hops")."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import RunningServer, configure, free_ports


def event_loop_threads(pid: int) -> list[str]:
    names = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            names.append((task / "comm").read_text().strip())
        except OSError:  # the thread ended while listing
            continue
    # NIO names the threads of its shared group NIO-SGLTN-<group>-#<n>; the group of the listeners is 1.
    return sorted(n for n in names if n.startswith("NIO-SGLTN-1-"))


def test_unpinned_server_runs_one_loop_per_allowed_cpu(srv):
    assert len(event_loop_threads(srv.proc.pid)) == len(os.sched_getaffinity(0))


@pytest.mark.skipif(shutil.which("taskset") is None, reason="taskset (util-linux) is needed")
def test_server_pinned_to_one_cpu_runs_one_loop(binary, kit):
    port, mtls_port = free_ports(2)
    cfg = configure(kit["written"], port, mtls_port, "e2e-pinned.sqlite")
    cpu = min(os.sched_getaffinity(0))
    s = RunningServer(binary, kit["dir"], "e2e-pinned.yaml", cfg, port, mtls_port, command_prefix=("taskset", "-c", str(cpu)))
    try:
        assert s.api.get("/jwks").status_code == 200
        assert len(event_loop_threads(s.proc.pid)) == 1
    finally:
        s.stop()
