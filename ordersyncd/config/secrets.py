"""Resolving secret references: ``KEY_file``, ``KEY_credential`` (systemd ``LoadCredential=``), ``KEY_env``.

Inside the tables that may hold secrets, a key ``KEY_file = "/path"`` reads the file, ``KEY_credential =
"name"`` reads ``$CREDENTIALS_DIRECTORY/name`` and ``KEY_env = "VAR"`` reads an environment variable. The
value (one trailing newline stripped from files) replaces the reference as ``KEY`` =
:class:`ordersyncd.plugin.Secret`. Problems name the key path and the file or variable, never the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigProblem
from ..plugin import Secret
from .keys import OriginMap, format_key_path

__all__ = ["REFERENCE_SUFFIXES", "SecretResolver"]

#: Suffix of a reference key → what it names.
REFERENCE_SUFFIXES: tuple[str, ...] = ("_file", "_credential", "_env")


def _strip_one_newline(text: str) -> str:
    if text.endswith("\r\n"):
        return text[:-2]
    if text.endswith("\n"):
        return text[:-1]
    return text


def _split_reference(key: str) -> tuple[str, str] | None:
    """``("token", "_file")`` for ``"token_file"``; ``None`` when ``key`` is not a reference."""
    for suffix in REFERENCE_SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix):
            return key[: -len(suffix)], suffix
    return None


@dataclass
class SecretResolver:
    """Resolves the references in a table tree, collecting secrets and problems."""

    origins: OriginMap
    environ: Mapping[str, str]
    secrets: list[str] = field(default_factory=list)
    problems: list[ConfigProblem] = field(default_factory=list)

    def resolve(self, table: Mapping[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
        """Return a copy of ``table`` (at key path ``path``) with every reference resolved, recursively."""
        result: dict[str, Any] = {}
        references: dict[str, list[str]] = {}
        for key, value in table.items():
            split = _split_reference(key)
            if split is not None:
                references.setdefault(split[0], []).append(key)
            else:
                result[key] = self._descend(value, (*path, key))
        for base, keys in references.items():
            sources = ([base] if base in table else []) + sorted(keys, key=self._suffix_rank)
            if len(sources) > 1:
                self._conflict(path, base, sources)
                result.pop(base, None)
                continue
            (key,) = keys
            secret = self._read(table[key], (*path, key))
            self.origins.move((*path, key), (*path, base))
            if secret is not None:
                result[base] = Secret(secret)
                if secret not in self.secrets:
                    self.secrets.append(secret)
        return result

    @staticmethod
    def _suffix_rank(key: str) -> int:
        split = _split_reference(key)
        return REFERENCE_SUFFIXES.index(split[1]) if split else -1

    def _descend(self, value: Any, path: tuple[str, ...]) -> Any:
        if isinstance(value, dict):
            return self.resolve(value, path)
        if isinstance(value, list):
            return [
                self.resolve(item, (*path, str(index))) if isinstance(item, dict) else item
                for index, item in enumerate(value)
            ]
        return value

    def _problem(self, path: tuple[str, ...], message: str, file: Path | None = None) -> None:
        origin = file if file is not None else self.origins.lookup(path)
        self.problems.append(ConfigProblem(path=format_key_path(path), message=message, file=str(origin)))

    def _conflict(self, path: tuple[str, ...], base: str, sources: list[str]) -> None:
        # Blame the file read last among those that set one of the sources: it created the conflict.
        files = [self.origins.lookup((*path, key)) for key in sources]
        latest = max(files, key=self._file_rank)
        names = ", ".join(sources)
        self._problem(
            (*path, base), f"secret is given more than once ({names}); set only one of them", latest
        )

    def _file_rank(self, file: Path) -> tuple[int, str]:
        # The main file sorts first, then drop-ins by name (the order they are read in).
        return (0 if file == self.origins.main_file else 1, file.name)

    def _read(self, reference: Any, path: tuple[str, ...]) -> str | None:
        if not isinstance(reference, str) or not reference:
            self._problem(path, "expected a non-empty string naming the secret's source")
            return None
        suffix = path[-1][path[-1].rindex("_") :]
        if suffix == "_file":
            file = Path(reference)
            if not file.is_absolute():
                file = self.origins.lookup(path).parent / file
            return self._read_file(file, path, "secret file")
        if suffix == "_credential":
            return self._read_credential(reference, path)
        return self._read_env(reference, path)

    def _read_file(self, file: Path, path: tuple[str, ...], what: str) -> str | None:
        try:
            text = file.read_text(encoding="utf-8")
        except FileNotFoundError:
            self._problem(path, f"{what} {file} does not exist")
            return None
        except IsADirectoryError:
            self._problem(path, f"{what} {file} is a directory")
            return None
        except UnicodeDecodeError:
            self._problem(path, f"{what} {file} is not valid UTF-8")
            return None
        except OSError as error:
            self._problem(path, f"cannot read {what} {file}: {error.strerror}")
            return None
        value = _strip_one_newline(text)
        if not value:
            self._problem(path, f"{what} {file} is empty")
            return None
        return value

    def _read_credential(self, name: str, path: tuple[str, ...]) -> str | None:
        if "/" in name or name in {".", ".."}:
            self._problem(path, f"invalid credential name {name!r} (a plain file name is expected)")
            return None
        directory = self.environ.get("CREDENTIALS_DIRECTORY", "")
        if not directory:
            self._problem(
                path,
                f"credential {name!r} cannot be read: CREDENTIALS_DIRECTORY is not set "
                "(use LoadCredential= in the systemd unit, or a _file or _env reference)",
            )
            return None
        return self._read_file(Path(directory) / name, path, f"credential {name!r}:")

    def _read_env(self, variable: str, path: tuple[str, ...]) -> str | None:
        value = self.environ.get(variable)
        if value is None:
            self._problem(path, f"environment variable {variable} is not set")
            return None
        if not value:
            self._problem(path, f"environment variable {variable} is empty")
            return None
        return value
