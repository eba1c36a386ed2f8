"""A subset of Shopify's search syntax (the ``query:`` argument): ``field:value`` terms joined by
whitespace or ``AND``, values quoted with ``'`` or ``"``, comparisons ``:>``, ``:>=``, ``:<``, ``:<=``,
negation with a leading ``-``. Unknown fields are ignored, as Shopify does (it only warns)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["Term", "compare", "parse_query", "parse_time"]


@dataclass(frozen=True)
class Term:
    """One ``field:op value`` term; ``op`` is one of ``=``, ``>``, ``>=``, ``<``, ``<=``."""

    field: str
    op: str
    value: str
    negated: bool = False


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    current: list[str] = []
    quote = ""
    i = 0
    while i < len(text):
        char = text[i]
        if quote:
            if char == "\\" and i + 1 < len(text):
                current.append(text[i + 1])
                i += 2
                continue
            if char == quote:
                quote = ""
            else:
                current.append(char)
        elif char in "'\"":
            quote = char
        elif char.isspace():
            if current:
                tokens.append("".join(current))
                current = []
        else:
            current.append(char)
        i += 1
    if current:
        tokens.append("".join(current))
    return tokens


def parse_query(text: str | None) -> list[Term]:
    """The terms of a search string (free words and ``OR`` are not supported and ignored)."""
    terms: list[Term] = []
    for token in _tokens(text or ""):
        if token.upper() in {"AND", "OR"} or ":" not in token:
            continue
        negated = token.startswith("-")
        field, _, rest = token.lstrip("-").partition(":")
        op = "="
        for candidate in (">=", "<=", ">", "<"):
            if rest.startswith(candidate):
                op, rest = candidate, rest[len(candidate) :]
                break
        terms.append(Term(field=field.lower(), op=op, value=rest, negated=negated))
    return terms


def parse_time(value: str) -> datetime:
    """A search value as an aware datetime (dates mean midnight UTC)."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def compare(actual: datetime, term: Term) -> bool:
    """Whether ``actual`` satisfies a time term."""
    try:
        wanted = parse_time(term.value)
    except ValueError:
        return True
    result = {
        "=": actual == wanted,
        ">": actual > wanted,
        ">=": actual >= wanted,
        "<": actual < wanted,
        "<=": actual <= wanted,
    }[term.op]
    return result != term.negated
