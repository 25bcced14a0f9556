"""What the process an app runs in uses, by OpenTelemetry's process conventions, and the most
memory it may use, so that the platform can tell a process near its limit from one merely big:
`process.cpu.time` (seconds, by `cpu.mode`), `process.memory.usage` (resident bytes) and
`process.memory.limit` (bytes). Read from the kernel at each collection, with no dependency.

Apps that share a process each report it, under their own resource: it is the process of each.
"""

from __future__ import annotations

import os
import resource
import sys
from collections.abc import Iterable
from pathlib import Path

from opentelemetry.metrics import CallbackOptions, Meter, Observation

STATM = Path("/proc/self/statm")
CGROUPS = Path("/proc/self/cgroup")
CGROUP_ROOT = Path("/sys/fs/cgroup")


def resident_bytes(statm: Path = STATM) -> int:
    """The process's resident set size, from /proc's count of its resident pages; where there is
    no /proc (macOS), the peak resident size getrusage gives, the nearest it has."""
    try:
        resident_pages = int(statm.read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return _peak_resident_bytes()
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


def _peak_resident_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux counts it in kibibytes, macOS in bytes.
    return peak if sys.platform == "darwin" else peak * 1024


def memory_limit_bytes(cgroups: Path = CGROUPS, root: Path = CGROUP_ROOT) -> int:
    """The most memory the process may use: the lowest limit its cgroups (a container's, a
    pod's, a systemd unit's) set, else the machine's memory. Without a limit, cgroup v2 writes
    "max" and v1 a huge number: neither is below the machine's memory."""
    machine = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    limits = [limit for path in cgroup_limit_files(cgroups, root) if (limit := _number_in(path)) is not None]
    return min([machine, *limits])


def cgroup_limit_files(cgroups: Path = CGROUPS, root: Path = CGROUP_ROOT) -> list[Path]:
    """Where the process's memory limit may be written: in its own cgroups, as `cgroups`
    (/proc/self/cgroup) names them, and at the root of the hierarchy, which in a container is the
    container's own cgroup even where /proc names the host's path for it."""
    files = [root / "memory.max", root / "memory" / "memory.limit_in_bytes"]
    try:
        lines = cgroups.read_text().splitlines()
    except OSError:
        return files
    for line in lines:
        # "hierarchy-id:controllers:path"; cgroup v2's names no controllers.
        fields = line.split(":", 2)
        if len(fields) != 3:
            continue
        _, controllers, path = fields
        own = path.lstrip("/")
        if not controllers:
            files.append(root / own / "memory.max")
        elif "memory" in controllers.split(","):
            files.append(root / "memory" / own / "memory.limit_in_bytes")
    return files


def _number_in(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _cpu_time(_: CallbackOptions) -> Iterable[Observation]:
    times = os.times()
    return [Observation(times.user, {"cpu.mode": "user"}), Observation(times.system, {"cpu.mode": "system"})]


def _memory_usage(_: CallbackOptions) -> Iterable[Observation]:
    return [Observation(resident_bytes())]


def _memory_limit(_: CallbackOptions) -> Iterable[Observation]:
    return [Observation(memory_limit_bytes())]


def observe_process(meter: Meter) -> None:
    meter.create_observable_counter(
        "process.cpu.time", [_cpu_time], unit="s", description="CPU time the process used, by mode."
    )
    meter.create_observable_up_down_counter(
        "process.memory.usage", [_memory_usage], unit="By", description="The process's resident set size."
    )
    meter.create_observable_up_down_counter(
        "process.memory.limit",
        [_memory_limit],
        unit="By",
        description="The most memory the process may use: its cgroup's limit, else the machine's memory.",
    )
