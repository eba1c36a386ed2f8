"""Summaries of a py-spy raw (folded stacks) profile: where the daemon's CPU samples went."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

__all__ = ["Profile", "read_profile"]

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^():]+)(?::\d+)?\)$")


def _label(frame: str) -> str:
    found = _FRAME.match(frame.strip())
    if not found:
        return frame.strip()
    path = found["file"]
    for marker in ("site-packages/", "lib/python3.11/", "/work/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{found['func']} ({path})"


class Profile:
    """Samples by stack, with inclusive and self shares per function."""

    def __init__(self, stacks: Counter[tuple[str, ...]]) -> None:
        self.stacks = stacks
        self.total = sum(stacks.values())

    def inclusive(self) -> Counter[str]:
        """Samples in which the function is anywhere on the stack."""
        counts: Counter[str] = Counter()
        for stack, samples in self.stacks.items():
            for name in set(stack):
                counts[name] += samples
        return counts

    def self_time(self) -> Counter[str]:
        """Samples in which the function is the innermost frame."""
        counts: Counter[str] = Counter()
        for stack, samples in self.stacks.items():
            if stack:
                counts[stack[-1]] += samples
        return counts

    def top(
        self, kind: str = "inclusive", n: int = 15, contains: tuple[str, ...] = ()
    ) -> list[tuple[str, float]]:
        """The ``n`` largest shares (0..1) of ``kind`` ("inclusive" or "self"), optionally only functions
        whose label contains one of ``contains``."""
        counts = self.inclusive() if kind == "inclusive" else self.self_time()
        rows = [
            (k, v / self.total)
            for k, v in counts.most_common()
            if not contains or any(c in k for c in contains)
        ]
        return rows[:n] if self.total else []


def read_profile(path: Path) -> Profile:
    """Parse py-spy's ``-f raw`` output (``frame;frame;… count`` per line, outermost first)."""
    stacks: Counter[tuple[str, ...]] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        head, _, count = line.rpartition(" ")
        if not head or not count.isdigit():
            continue
        frames = [f for f in head.split(";") if f.strip()]
        if (frames and frames[0].startswith("process ")) or (frames and frames[0].startswith("thread ")):
            frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        stacks[tuple(_label(f) for f in frames)] += int(count)
    return Profile(stacks)
