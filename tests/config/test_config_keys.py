"""Key paths and origin records."""

from __future__ import annotations

import itertools
from pathlib import Path

from ordersyncd.config.keys import OriginMap, compact_origins

MAIN, A, B = Path("/etc/main.toml"), Path("/etc/conf.d/a.toml"), Path("/etc/conf.d/b.toml")


def test_compact_keeps_a_key_that_returns_to_the_outer_file() -> None:
    """A key set by the main file inside a table a drop-in defined differs from its fall-back (the drop-in),
    although it equals the default: it must be kept, and what lies below it dropped."""
    origins = {
        ("t",): A,
        ("t", "k"): MAIN,
        ("t", "k", "deep"): MAIN,
        ("t", "j"): A,
        ("u",): MAIN,
        ("u", "v"): B,
        ("u", "v", "w"): B,
        ("u", "v", "x"): A,
    }
    kept = compact_origins(origins, lambda key: key, MAIN)
    assert kept == {("t",): A, ("t", "k"): MAIN, ("u", "v"): B, ("u", "v", "x"): A}


def test_compacted_map_answers_every_look_up_as_before() -> None:
    files = (MAIN, A, B)
    keys = [
        (*head, *tail)
        for head in (("t",), ("u",))
        for n in range(3)
        for tail in itertools.product("ab", repeat=n)
    ]
    probes = [*keys, ("t", "a", "b", "zzz"), ("none",), ("t", "zzz")]
    for seed in range(200):
        full = OriginMap(MAIN)
        for index, key in enumerate(keys):
            if (seed >> (index % 11)) & 1 or index % 3 == seed % 3:
                full.set(key, files[(seed + index * 7) % 3])
        before = {probe: full.lookup(probe) for probe in probes}
        size = len(full.snapshot())
        full.compact()
        assert {probe: full.lookup(probe) for probe in probes} == before, seed
        assert len(full.snapshot()) <= size
