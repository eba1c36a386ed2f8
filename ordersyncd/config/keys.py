"""Key paths (``connections.c.intervals.poll_orders``) and the map of which file set which key."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["KeyPath", "OriginMap", "compact_origins", "format_key_path", "parse_key_path"]

#: A key path as a tuple of keys; integers are array indexes (only in problem locations).
KeyPath = tuple[str | int, ...]

_K = TypeVar("_K", str, tuple[str, ...])

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def format_key_path(path: Iterable[str | int]) -> str:
    """Render a key path the way TOML writes it: ``a.b."odd key"[2]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
            continue
        key = part if _BARE_KEY.match(part) else json.dumps(part, ensure_ascii=False)
        text = f"{text}.{key}" if text else key
    return text


def parse_key_path(text: str) -> tuple[str, ...]:
    """Split a dotted key path written in TOML syntax (quoted keys allowed) into its keys.

    Raises :class:`ValueError` when ``text`` is not a TOML key.
    """
    try:
        document: Any = tomllib.loads(f"{text} = 0")
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"not a key path: {text!r}") from error
    keys: list[str] = []
    while isinstance(document, dict):
        (key, document), *_ = document.items()
        keys.append(key)
    return tuple(keys)


def compact_origins(
    origins: dict[_K, Path], parts: Callable[[_K], Sequence[str]], default: Path
) -> dict[_K, Path]:
    """``origins`` without the entries a nearest-enclosing-key look-up finds anyway.

    A look-up of a key returns the origin of the key itself or of its nearest enclosing key that has one, else
    ``default``. An entry equal to what that look-up would find without it adds nothing; in a configuration of one
    file every entry is such. The result answers every look-up exactly as ``origins`` does: entries are visited
    shallowest first, so the fall-back of each is computed from what is already kept, which answers as the full
    map does.
    """
    kept: dict[_K, Path] = {}
    by_parts: dict[tuple[str, ...], Path] = {}
    for key in sorted(origins, key=lambda k: len(parts(k))):
        split = tuple(parts(key))
        fallback = default
        for depth in range(len(split) - 1, 0, -1):
            found = by_parts.get(split[:depth])
            if found is not None:
                fallback = found
                break
        if origins[key] != fallback:
            kept[key] = origins[key]
            by_parts[split] = origins[key]
    return kept


class OriginMap:
    """Which file set each key path.

    A leaf (scalar or array) maps to the last file that set it; a table maps to the first file that
    defined it. :meth:`lookup` falls back to the nearest enclosing key that has an origin, then to the
    main file.
    """

    def __init__(self, main_file: Path) -> None:
        self.main_file = main_file
        self._origins: dict[tuple[str, ...], Path] = {}
        #: Keys of at least two parts, by their first two (a block such as stores.NAME): kept in step with
        #: _origins so that thousands of blocks do not make loading quadratic.
        self._by_block: dict[tuple[str, ...], set[tuple[str, ...]]] = {}

    def _add(self, path: tuple[str, ...]) -> None:
        if len(path) >= 2:
            self._by_block.setdefault(path[:2], set()).add(path)

    def _drop(self, path: tuple[str, ...]) -> None:
        if len(path) >= 2:
            self._by_block.get(path[:2], set()).discard(path)

    def set(self, path: tuple[str, ...], file: Path) -> None:
        """Record that ``file`` set the value at ``path``."""
        self._add(path)
        self._origins[path] = file

    def set_default(self, path: tuple[str, ...], file: Path) -> None:
        """Record ``file`` for ``path`` unless an origin is already known (tables: the first definer)."""
        self._add(path)
        self._origins.setdefault(path, file)

    def forget_below(self, path: tuple[str, ...]) -> None:
        """Drop the origins of everything strictly inside ``path`` (its value was replaced)."""
        depth = len(path)
        for key in [k for k in self._origins if len(k) > depth and k[:depth] == path]:
            del self._origins[key]
            self._drop(key)

    def move(self, source: tuple[str, ...], target: tuple[str, ...]) -> None:
        """Give ``target`` the origin of ``source`` and forget ``source``."""
        if source in self._origins:
            self._origins[target] = self._origins.pop(source)
            self._drop(source)
            self._add(target)

    def lookup(self, path: Iterable[str | int]) -> Path:
        """The file responsible for ``path`` (nearest known enclosing key, else the main file)."""
        keys: list[str] = []
        for part in path:
            if isinstance(part, int):
                break
            keys.append(part)
        for depth in range(len(keys), 0, -1):
            found = self._origins.get(tuple(keys[:depth]))
            if found is not None:
                return found
        return self.main_file

    def below(self, prefix: tuple[str, ...]) -> dict[str, Path]:
        """Origins strictly inside ``prefix``, keyed by their dotted path relative to it.

        Indexed by the first two keys (a block such as ``stores.NAME``), so that thousands of blocks do not make
        loading quadratic."""
        depth = len(prefix)
        candidates = sorted(self._by_block.get(prefix[:2], ())) if depth >= 2 else list(self._origins)
        return {
            format_key_path(key[depth:]): self._origins[key]
            for key in candidates
            if len(key) > depth and key[:depth] == prefix and key in self._origins
        }

    def compact(self) -> None:
        """Forget the origins :meth:`lookup` finds anyway (see :func:`compact_origins`): every look-up answers as
        before. The daemon does this once the configuration is built; :meth:`below` then lists only what was
        kept."""
        self._origins = compact_origins(self._origins, lambda key: key, self.main_file)
        self._by_block = {}
        for path in self._origins:
            self._add(path)

    def snapshot(self) -> Mapping[tuple[str, ...], Path]:
        """A copy of the whole map."""
        return dict(self._origins)
