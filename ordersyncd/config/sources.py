"""Reading the main file and its ``conf.d/*.toml`` drop-ins, and deep-merging them with origins."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigProblem
from .keys import OriginMap
from .problems import FileProblem

__all__ = ["DROPIN_DIR", "MergedDocument", "config_files", "read_and_merge"]

#: Name of the drop-in directory next to the main file.
DROPIN_DIR = "conf.d"

_POSITION = re.compile(r"^(?P<reason>.*?)\s*\(at line (?P<line>\d+), column (?P<column>\d+)\)$", re.S)


@dataclass
class MergedDocument:
    """The merged TOML document, which file set each key, the files read and the problems met."""

    data: dict[str, Any]
    origins: OriginMap
    files: list[Path] = field(default_factory=list)
    problems: list[ConfigProblem] = field(default_factory=list)


def config_files(main_file: Path) -> tuple[list[Path], list[ConfigProblem]]:
    """The main file followed by the drop-ins ``conf.d/*.toml`` beside it, in lexical order of name.

    Hidden files (editor lock files such as ``.#x.toml``) and anything that is not a regular file are
    skipped. A missing ``conf.d`` is fine; an unreadable one is a problem.
    """
    files = [main_file]
    problems: list[ConfigProblem] = []
    dropin_dir = main_file.parent / DROPIN_DIR
    try:
        entries = sorted(dropin_dir.iterdir(), key=lambda p: p.name)
    except FileNotFoundError:
        return files, problems
    except NotADirectoryError:
        problems.append(FileProblem(path="", message="is not a directory", file=str(dropin_dir)))
        return files, problems
    except OSError as error:
        problems.append(FileProblem(path="", message=f"cannot list: {error.strerror}", file=str(dropin_dir)))
        return files, problems
    for entry in entries:
        if entry.name.startswith(".") or entry.suffix != ".toml":
            continue
        if entry.is_file():
            files.append(entry)
    return files, problems


def _parse(file: Path) -> tuple[dict[str, Any] | None, ConfigProblem | None]:
    """Parse one TOML file; on failure return a problem naming the file (and line and column)."""
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        return None, FileProblem(path="", message="configuration file not found", file=str(file))
    except OSError as error:
        return None, FileProblem(path="", message=f"cannot read: {error.strerror}", file=str(file))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, FileProblem(path="", message="is not valid UTF-8", file=str(file))
    try:
        return tomllib.loads(text), None
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        position = _POSITION.match(message)
        if position is None:
            return None, FileProblem(path="", message=f"TOML syntax error: {message}", file=str(file))
        return None, FileProblem(
            path="",
            message=f"TOML syntax error: {position['reason']}",
            file=str(file),
            line=int(position["line"]),
            column=int(position["column"]),
        )


def _record(origins: OriginMap, path: tuple[str, ...], value: Any, file: Path) -> None:
    """Record ``file`` as the origin of ``value`` at ``path`` and of everything inside it."""
    if isinstance(value, dict):
        origins.set_default(path, file)
        for key, item in value.items():
            _record(origins, (*path, key), item, file)
    else:
        origins.set(path, file)


def _merge(
    base: dict[str, Any], overlay: dict[str, Any], origins: OriginMap, file: Path, prefix: tuple[str, ...]
) -> None:
    """Merge ``overlay`` into ``base``: tables recursively, anything else replaced."""
    for key, value in overlay.items():
        path = (*prefix, key)
        current = base.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            _merge(current, value, origins, file, path)
            continue
        if key in base:
            origins.forget_below(path)
            origins.set(path, file)  # the table (or value) at path now comes from this file
        base[key] = value
        _record(origins, path, value, file)


def read_and_merge(main_file: Path) -> MergedDocument:
    """Read the main file and its drop-ins and deep-merge them in order.

    Every file is parsed, so all syntax errors are reported at once; when any file fails, ``data`` holds
    only what could be read and ``problems`` is not empty.
    """
    origins = OriginMap(main_file)
    files, problems = config_files(main_file)
    document = MergedDocument(data={}, origins=origins, problems=problems)
    for file in files:
        parsed, problem = _parse(file)
        if problem is not None:
            document.problems.append(problem)
            if file == main_file and not file.exists():
                return document  # nothing else is worth reading without the main file
            continue
        assert parsed is not None
        document.files.append(file)
        _merge(document.data, parsed, origins, file, ())
    return document
