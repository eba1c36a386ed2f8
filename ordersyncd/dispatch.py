"""Calling a connection's hooks in pluggy's order without a pluggy manager per connection.

A :class:`pluggy.PluginManager` holding a connection's two instances costs about 13 KB (a hook caller, spec and
argument tuples per hook, an implementation record per implemented hook): 65 MB at 5,000 connections. What a call
does depends only on the implementations' options, which live on the plugin *classes* (``@hookimpl`` marks
methods), and on the registration order, which is the same for every connection (marketplace, then store). So one
manager per pair of classes is built, and each hook's implementations are read off it in the order pluggy calls
them; a connection's call then runs its own instances' methods in that order and returns the first result that
is not ``None`` (every hook is ``firstresult``).

A pair whose implementations include a wrapper (``wrapper=True`` or ``hookwrapper=True``) is not planned: its
connections keep a manager of their own, so pluggy itself runs the wrappers.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pluggy

__all__ = ["HookPlan", "Step", "plan_hooks"]


@dataclass(frozen=True, slots=True)
class Step:
    """One implementation: the method ``attribute`` of the connection's instance number ``slot`` (0 the
    marketplace, 1 the store), called with the hook arguments named ``argnames``."""

    slot: int
    attribute: str
    argnames: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class HookPlan:
    """Per hook, the implementations in the order pluggy calls them (tryfirst first, then the last registered
    first, trylast last)."""

    steps: dict[str, tuple[Step, ...]]

    def implements(self, hook: str) -> bool:
        return bool(self.steps.get(hook))

    def call(self, hook: str, instances: Sequence[object], kwargs: dict[str, Any]) -> Any:
        """What pluggy's call of a ``firstresult`` hook returns: the first result that is not ``None``.

        An exception of an implementation propagates unchanged; a missing argument raises
        :class:`pluggy.HookCallError`, as pluggy does."""
        for step in self.steps.get(hook, ()):
            try:
                args = [kwargs[name] for name in step.argnames]
            except KeyError as missing:
                raise pluggy.HookCallError(f"hook call must provide argument {missing.args[0]!r}") from None
            result = getattr(instances[step.slot], step.attribute)(*args)
            if result is not None:
                return result
        return None


def _attribute(instance: object, function: Any) -> str | None:
    """The name under which ``instance`` has the bound method ``function`` (its own name unless the hook is
    implemented under another, ``specname``), found without running properties."""
    target = getattr(function, "__func__", function)
    names = [getattr(function, "__name__", ""), *dir(type(instance))]
    for name in names:
        if name and inspect.getattr_static(instance, name, None) is target:
            return name
    return None


def plan_hooks(pm: pluggy.PluginManager, instances: Sequence[object]) -> HookPlan | None:
    """Read the call order of every hook off ``pm``, a manager holding exactly ``instances``; ``None`` when an
    implementation is a wrapper or not a plain method, or when a hook is not ``firstresult`` (the plan would not
    answer as pluggy does)."""
    steps: dict[str, tuple[Step, ...]] = {}
    for name, caller in vars(pm.hook).items():
        if not isinstance(caller, pluggy.HookCaller):
            continue
        if caller.spec is None or not caller.spec.opts.get("firstresult"):
            return None
        planned: list[Step] = []
        for impl in reversed(caller.get_hookimpls()):  # pluggy calls the list from its end
            if impl.wrapper or impl.hookwrapper:
                return None
            attribute = _attribute(impl.plugin, impl.function)
            if attribute is None:
                return None  # not a plain method (a staticmethod, a callable attribute): leave it to pluggy
            slot = next(index for index, instance in enumerate(instances) if instance is impl.plugin)
            planned.append(Step(slot, attribute, tuple(impl.argnames)))
        steps[name] = tuple(planned)
    return HookPlan(steps)
