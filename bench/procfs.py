"""Process and machine counters from /proc, so server cost is measured from outside it."""

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, all its threads included, from /proc/<pid>/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # Fields after the parenthesised command name start at field 3 (state).
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def total_cpu_seconds(pids: Iterable[int]) -> float:
    """The CPU of several processes together (a cluster's workers, a proxy's processes)."""
    return sum(cpu_seconds(pid) for pid in pids)


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (nginx's workers under its master), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # gone meanwhile
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def rss_kib(pid: int) -> int:
    """Resident set size of a process in KiB, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


@dataclass(frozen=True)
class MachineCpu:
    """Cumulative jiffies of the whole machine (all cores), from the first line of /proc/stat."""

    busy: int
    total: int

    @classmethod
    def read(cls) -> "MachineCpu":
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = values[3] + values[4]  # idle + iowait
        total = sum(values[:8])  # guest time is already inside user
        return cls(busy=total - idle, total=total)

    def busy_fraction_since(self, earlier: "MachineCpu") -> float:
        """Share of all cores' time that was busy between two readings (0..1)."""
        total = self.total - earlier.total
        return (self.busy - earlier.busy) / total if total else 0.0


def cores() -> int:
    return os.cpu_count() or 1
