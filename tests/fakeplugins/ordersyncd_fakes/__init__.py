"""Fake marketplace and store for ordersyncd's tests.

Each fake is a real plugin (installed through the ``ordersyncd.plugins`` entry-point group, like any
third-party plugin) that talks HTTP to a small server holding its in-memory state (:mod:`.server`), so the
state survives the daemon being killed. Faults are injected on the server (latency, 5xx, timeouts, garbage)
with :class:`ordersyncd.testing.FaultInjector`.
"""
