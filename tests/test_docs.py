"""The documentation keeps up with the code: a test fails, naming what is missing, when a hook, a public name,
a command or option, a metric or a package is added without being documented (or listed).

- docs/plugins.md: one ``### `hook(arg, ...)` `` section per hookspec, with its exact arguments and kind; every
  name of ``ordersyncd.plugin.__all__`` and ``ordersyncd.testing.__all__``; the hooks each level requires.
- docs/cli.md: one ``### `ordersyncd <path>` `` section per click command, naming each of its options and
  arguments; the exit codes of ``ordersyncd.cli``.
- docs/operations.md: every metric of ``ordersyncd.metrics.Metrics``.
- pyproject.toml: every package directory under ``ordersyncd/`` and ``plugins/`` in ``[tool.setuptools] packages``.
"""

from __future__ import annotations

import inspect
import re
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
import pluggy
from prometheus_client import CollectorRegistry

import ordersyncd.plugin
import ordersyncd.testing
from ordersyncd import cli as cli_module
from ordersyncd import hookspecs
from ordersyncd.metrics import Metrics
from ordersyncd.model import SyncLevel
from ordersyncd.plugin_host import MARKETPLACE_HOOKS, REQUIRED_HOOKS, STORE_HOOKS

REPO = Path(__file__).resolve().parents[1]
PLUGINS_DOC = REPO / "docs" / "plugins.md"
CLI_DOC = REPO / "docs" / "cli.md"
OPERATIONS_DOC = REPO / "docs" / "operations.md"
PYPROJECT = REPO / "pyproject.toml"

#: How docs/cli.md names the group every marketplace plugin with ``list_merchants`` adds to the root command.
PLUGIN_GROUP = "<marketplace-plugin>"
#: Suffix of the exposed series name per metric family type (prometheus_client drops it from family names).
METRIC_SUFFIX = {"counter": "_total", "info": "_info"}


# ----------------------------------------------------------------------------------------------- helpers
def read(path: Path) -> str:
    assert path.exists(), f"{path.relative_to(REPO)} does not exist"
    return path.read_text(encoding="utf-8")


def sections(text: str, level: int = 3) -> dict[str, str]:
    """Heading text of every level-``level`` heading → its body, up to the next heading of that level or above."""
    result: dict[str, str] = {}
    current: str | None = None
    body: list[str] = []
    in_fence = False
    for line in text.splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
        heading = None if in_fence else re.match(r"^(#{1,6}) (.*?)\s*$", line)
        if heading and len(heading.group(1)) <= level:
            if current is not None:
                result[current] = "\n".join(body)
            current = heading.group(2) if len(heading.group(1)) == level else None
            body = []
        elif current is not None:
            body.append(line)
    if current is not None:
        result[current] = "\n".join(body)
    return result


def code_text(text: str) -> str:
    """The text of every inline code span and fenced code block of a Markdown text."""
    fenced = re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)
    without_fences = re.sub(r"^```[^\n]*\n.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    return "\n".join([*fenced, *re.findall(r"`([^`\n]+)`", without_fences)])


def mentions(text: str, token: str) -> bool:
    """True when ``token`` appears in ``text`` as a whole token (not inside a longer name or option)."""
    return re.search(rf"(?<![\w-]){re.escape(token)}(?![\w-])", text) is not None


# ----------------------------------------------------------------------------------------------- hooks
def hookspec_functions() -> dict[str, Callable[..., Any]]:
    """Every hook specification of ordersyncd.hookspecs, by name (checked against what pluggy registers)."""
    marked = {
        name: function
        for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
        if getattr(function, f"{hookspecs.PROJECT}_spec", None) is not None
    }
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    registered = {name for name in vars(pm.hook) if not name.startswith("_")}
    assert set(marked) == registered, "hookspecs found by attribute and by pluggy differ"
    return marked


def spec_heading(name: str, function: Callable[..., Any]) -> str:
    return f"`{name}({', '.join(inspect.signature(function).parameters)})`"


def documented_hooks() -> dict[str, str]:
    """Hook name → the heading that documents it, for every ``### `name(args)` `` heading of docs/plugins.md."""
    found = {}
    for heading in sections(read(PLUGINS_DOC)):
        match = re.fullmatch(r"`(\w+)\(([^()]*)\)`", heading)
        if match:
            found[match.group(1)] = heading
    return found


def hook_kind(name: str) -> str:
    if name in MARKETPLACE_HOOKS:
        return "marketplace"
    if name in STORE_HOOKS:
        return "store"
    return "both"


def test_every_hookspec_has_a_section_with_its_exact_arguments() -> None:
    specs = hookspec_functions()
    assert "fetch_orders" in specs
    documented = documented_hooks()
    missing = sorted(name for name in specs if name not in documented)
    wrong = sorted(
        f"{documented[name]} should be {spec_heading(name, function)}"
        for name, function in specs.items()
        if name in documented and documented[name] != spec_heading(name, function)
    )
    stale = sorted(name for name in documented if name not in specs)
    problems = [f"no '### `hook(args)`' section for {name}" for name in missing]
    problems += [f"wrong arguments: {text}" for text in wrong]
    problems += [f"section for a hook that does not exist: {name}" for name in stale]
    assert problems == [], f"docs/plugins.md and ordersyncd.hookspecs disagree: {problems}"


def test_every_hook_section_says_its_kind_and_shows_an_example() -> None:
    bodies = sections(read(PLUGINS_DOC))
    problems = []
    for name, function in sorted(hookspec_functions().items()):
        body = bodies.get(spec_heading(name, function))
        if body is None:
            continue  # reported by the test above
        kind = hook_kind(name)
        if not re.search(rf"^\*\*Kind:\*\* {kind}\b", body, flags=re.MULTILINE):
            problems.append(f"{name}: no '**Kind:** {kind}' line")
        for label in ("**When:**", "**Arguments:**", "**Returns:**", "**Errors:**"):
            if label not in body:
                problems.append(f"{name}: no {label}")
        if "```python" not in body:
            problems.append(f"{name}: no python example")
    assert problems == [], f"incomplete hook sections in docs/plugins.md: {problems}"


def test_the_hooks_each_level_requires_are_documented() -> None:
    rows = {}
    for line in read(PLUGINS_DOC).splitlines():
        match = re.match(r"^\| `(\w+)` \|(.*)\|(.*)\|\s*$", line)
        if match and match.group(1) in {level.value for level in SyncLevel}:
            rows[match.group(1)] = (
                frozenset(re.findall(r"`(\w+)`", match.group(2))),
                frozenset(re.findall(r"`(\w+)`", match.group(3))),
            )
    problems = []
    for level, required in REQUIRED_HOOKS.items():
        row = rows.get(level.value)
        if row is None:
            problems.append(f"no table row for level {level.value}")
            continue
        for kind, documented in zip(("marketplace", "store"), row, strict=True):
            if documented != required[kind]:
                problems.append(
                    f"{level.value}/{kind}: code requires {sorted(required[kind])}, docs say {sorted(documented)}"
                )
    assert problems == [], f"docs/plugins.md misstates the hooks each level requires: {problems}"


# ----------------------------------------------------------------------------------------------- public API
def test_every_public_plugin_api_name_is_documented() -> None:
    code = code_text(read(PLUGINS_DOC))
    missing = sorted(name for name in ordersyncd.plugin.__all__ if not mentions(code, name))
    assert missing == [], (
        f"names of ordersyncd.plugin.__all__ not mentioned (as code) in docs/plugins.md: {missing}"
    )


def test_every_testing_kit_name_is_documented() -> None:
    code = code_text(read(PLUGINS_DOC))
    missing = sorted(name for name in ordersyncd.testing.__all__ if not mentions(code, name))
    assert missing == [], (
        f"names of ordersyncd.testing.__all__ not mentioned (as code) in docs/plugins.md: {missing}"
    )


# ----------------------------------------------------------------------------------------------- CLI
def command_paths() -> Iterator[tuple[str, click.Command]]:
    """``ordersyncd …`` path → command, for the root, every command and subcommand, and the plugin group."""

    def walk(path: str, command: click.Command) -> Iterator[tuple[str, click.Command]]:
        yield path, command
        if isinstance(command, click.Group):
            ctx = click.Context(command, info_name=path.rsplit(" ", 1)[-1])
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None
                yield from walk(f"{path} {name}", sub)

    yield from walk("ordersyncd", cli_module.cli)
    # The group `ordersyncd <plugin> merchants` exists once per installed marketplace plugin with list_merchants;
    # it is built by one function and documented once.
    yield from walk(f"ordersyncd {PLUGIN_GROUP}", cli_module._plugin_group(PLUGIN_GROUP))


def command_words(command: click.Command) -> list[str]:
    """Every option name (long and short) and argument metavar of a command, as people type or read them."""
    words = []
    for param in command.params:
        if isinstance(param, click.Option):
            words += [*param.opts, *param.secondary_opts]
        elif isinstance(param, click.Argument):
            words.append(param.human_readable_name)
    return words


def test_command_paths_cover_what_the_brief_names() -> None:
    paths = {path for path, _ in command_paths()}
    expected = {"ordersyncd run", "ordersyncd check", "ordersyncd sync", "ordersyncd plugins"}
    expected |= {"ordersyncd orders list", "ordersyncd orders show", "ordersyncd orders retry"}
    expected |= {f"ordersyncd {PLUGIN_GROUP} merchants"}
    assert expected <= paths, f"the walk missed commands: {sorted(expected - paths)}"


def documented_commands() -> Iterator[tuple[str, click.Command]]:
    """The commands that need a section: every command people run, and every group with options of its own
    (the root: ``--config``). Groups without options (``orders``, ``<marketplace-plugin>``) only name a family."""
    for path, command in command_paths():
        if not isinstance(command, click.Group) or command.params:
            yield path, command


def test_every_command_has_a_section() -> None:
    documented = sections(read(CLI_DOC))
    missing = sorted(f"### `{path}`" for path, _ in documented_commands() if f"`{path}`" not in documented)
    assert missing == [], f"commands without a section in docs/cli.md: {missing}"


def test_every_option_and_argument_is_documented_in_its_command_section() -> None:
    documented = sections(read(CLI_DOC))
    missing = []
    for path, command in documented_commands():
        body = documented.get(f"`{path}`")
        if body is None:
            continue  # reported by test_every_command_has_a_section
        missing += [f"{path}: {word}" for word in command_words(command) if not mentions(body, word)]
    assert missing == [], (
        f"options or arguments not mentioned in their command's section of docs/cli.md: {missing}"
    )


def test_every_exit_code_is_in_the_table() -> None:
    docstring = inspect.getdoc(cli_module) or ""
    exit_line = " ".join(docstring.split("Exit codes:", 1)[1].split("\n\n", 1)[0].split())
    codes = re.findall(r"(?:^|; )(\d+) ", exit_line)
    assert {"0", "1", "2", "69", "75", "78"} <= set(codes), f"exit codes read from ordersyncd.cli: {codes}"
    table = set(re.findall(r"^\| (\d+) \|", read(CLI_DOC), flags=re.MULTILINE))
    missing = sorted(set(codes) - table, key=int)
    assert missing == [], f"exit codes of ordersyncd.cli missing from the table in docs/cli.md: {missing}"


# ----------------------------------------------------------------------------------------------- metrics
def exported_metric_names() -> set[str]:
    """Every metric of ordersyncd.metrics.Metrics by the name it is exposed and queried under."""
    registry = CollectorRegistry()
    Metrics(registry)
    return {family.name + METRIC_SUFFIX.get(family.type, "") for family in registry.collect()}


def test_every_metric_is_documented_in_operations() -> None:
    names = exported_metric_names()
    assert "ordersyncd_job_runs_total" in names
    text = read(OPERATIONS_DOC)
    missing = sorted(name for name in names if not mentions(text, name))
    assert missing == [], f"metrics of ordersyncd.metrics.Metrics not in docs/operations.md: {missing}"


# ----------------------------------------------------------------------------------------------- packaging
def package_directories() -> set[str]:
    """Dotted names of every package directory of the source tree, as installed."""
    found = set()
    for root, installed_as in (("ordersyncd", "ordersyncd"), ("plugins", "ordersyncd_plugins")):
        base = REPO / root
        for init in base.rglob("__init__.py"):
            relative = init.parent.relative_to(base).parts
            if any(part in {"tests", "__pycache__"} for part in relative):
                continue
            found.add(".".join((installed_as, *relative)))
    return found


def listed_packages() -> set[str]:
    with PYPROJECT.open("rb") as handle:
        return set(tomllib.load(handle)["tool"]["setuptools"]["packages"])


def test_every_package_directory_is_listed_in_pyproject() -> None:
    directories = package_directories()
    assert {"ordersyncd", "ordersyncd.testing", "ordersyncd_plugins"} <= directories
    missing = sorted(directories - listed_packages())
    assert missing == [], (
        f"package directories missing from [tool.setuptools] packages in pyproject.toml: {missing}"
    )


def test_every_listed_package_exists() -> None:
    stale = sorted(listed_packages() - package_directories())
    assert stale == [], (
        f"[tool.setuptools] packages in pyproject.toml lists packages that do not exist: {stale}"
    )
