"""The order state machine: allowed transitions pass, everything else raises IllegalTransition."""

from __future__ import annotations

import itertools

import pytest

from ordersyncd.errors import IllegalTransition, PluginError
from ordersyncd.journal.states import ALLOWED_TRANSITIONS, OrderState, check_transition

S = OrderState

ALLOWED_PAIRS = sorted(
    (current, target) for current, targets in ALLOWED_TRANSITIONS.items() for target in targets
)
ILLEGAL_PAIRS = sorted(set(itertools.product(OrderState, OrderState)) - set(ALLOWED_PAIRS))
TERMINAL = (S.CANCELLED, S.RETURNED)
QUARANTINABLE = sorted(s for s, targets in ALLOWED_TRANSITIONS.items() if S.NEEDS_ATTENTION in targets)


def _pair_id(pair: tuple[OrderState, OrderState]) -> str:
    return f"{pair[0].value}->{pair[1].value}"


def test_every_state_has_an_entry_in_the_table() -> None:
    assert set(ALLOWED_TRANSITIONS) == set(OrderState)
    for targets in ALLOWED_TRANSITIONS.values():
        assert targets <= set(OrderState)


def test_the_cross_product_is_split_completely() -> None:
    n = len(OrderState)
    assert len(ALLOWED_PAIRS) + len(ILLEGAL_PAIRS) == n * n
    assert not set(ALLOWED_PAIRS) & set(ILLEGAL_PAIRS)
    assert ILLEGAL_PAIRS  # the parametrized test below must not be empty


@pytest.mark.parametrize("pair", ALLOWED_PAIRS, ids=_pair_id)
def test_allowed_transition_passes(pair: tuple[OrderState, OrderState]) -> None:
    current, target = pair
    assert check_transition(current, target) is None


@pytest.mark.parametrize("pair", ILLEGAL_PAIRS, ids=_pair_id)
def test_illegal_transition_raises(pair: tuple[OrderState, OrderState]) -> None:
    current, target = pair
    with pytest.raises(IllegalTransition) as info:
        check_transition(current, target)
    assert str(info.value) == f"order state {current.value} cannot become {target.value}"


@pytest.mark.parametrize("state", list(OrderState), ids=str)
def test_no_state_transitions_to_itself(state: OrderState) -> None:
    with pytest.raises(IllegalTransition):
        check_transition(state, state)


@pytest.mark.parametrize("terminal", TERMINAL, ids=str)
def test_terminal_states_have_no_exits(terminal: OrderState) -> None:
    assert ALLOWED_TRANSITIONS[terminal] == frozenset()
    for target in OrderState:
        with pytest.raises(IllegalTransition):
            check_transition(terminal, target)


def test_only_cancelled_and_returned_are_terminal() -> None:
    assert sorted(s for s, targets in ALLOWED_TRANSITIONS.items() if not targets) == sorted(TERMINAL)


def test_orders_can_be_quarantined_before_and_after_creation() -> None:
    # The pipeline quarantines on mapping/creation failures (received, created) and on rejected shipments.
    assert {S.RECEIVED, S.CREATED} <= set(QUARANTINABLE)


@pytest.mark.parametrize("source", QUARANTINABLE, ids=str)
def test_needs_attention_can_return_to_where_it_was_quarantined_from(source: OrderState) -> None:
    check_transition(source, S.NEEDS_ATTENTION)
    check_transition(S.NEEDS_ATTENTION, source)  # raises when `orders retry` could not resume the order


@pytest.mark.parametrize("state", [s for s in OrderState if s not in TERMINAL], ids=str)
def test_every_live_state_can_be_cancelled(state: OrderState) -> None:
    check_transition(state, S.CANCELLED)


def test_illegal_transition_is_not_a_plugin_error() -> None:
    # The core treats PluginError subclasses as classified plugin failures; a state machine violation is a bug.
    assert not issubclass(IllegalTransition, PluginError)
