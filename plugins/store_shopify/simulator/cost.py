"""Query cost in the manner of Shopify's calculated query cost.

Scalars and enums cost 0, an object 1, a connection ``2 + first * (cost of one node)`` (``first`` or
``last`` is required, as on Shopify), a list field with a ``first`` argument ``first * (1 + children)``,
each mutation field 10. As on Shopify, the requested cost must be available for a query to run, and the
difference to the actual cost (computed the same way from what was returned) is refunded afterwards.
An approximation of Shopify's documented method, not its exact numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInt,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    is_leaf_type,
    value_from_ast,
)

__all__ = ["MUTATION_COST", "CostError", "actual_cost", "query_cost"]

MUTATION_COST = 10


class CostError(Exception):
    """The document cannot be costed (a connection without ``first``/``last``)."""


class _Coster:
    def __init__(self, schema: GraphQLSchema, document: DocumentNode, variables: Mapping[str, Any]) -> None:
        self.schema = schema
        self.variables = dict(variables)
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }

    def _size(self, node: FieldNode, name: str) -> int | None:
        for argument in node.arguments or ():
            if argument.name.value == name:
                value = value_from_ast(argument.value, GraphQLInt, self.variables)
                return int(value) if isinstance(value, int) else None
        return None

    def selection(self, parent: GraphQLNamedType, selection_set: SelectionSetNode | None) -> int:
        if selection_set is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(parent, selection)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selection(target or parent, selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:
                    target = self.schema.get_type(fragment.type_condition.name.value)
                    total += self.selection(target or parent, fragment.selection_set)
        return total

    def field(self, parent: GraphQLNamedType, node: FieldNode) -> int:
        fields = getattr(parent, "fields", None)
        definition = fields.get(node.name.value) if fields else None
        if definition is None:
            return 0
        named = get_named_type(definition.type)
        if is_leaf_type(named):
            return 0
        size = self._size(node, "first") or self._size(node, "last")
        if named.name.endswith("Connection") and "first" in definition.args:
            if size is None:
                raise CostError(
                    f"you must provide one of first or last for the '{node.name.value}' connection"
                )
            return 2 + size * self._node_cost(named, node.selection_set)
        children = 1 + self.selection(named, node.selection_set)
        return (size or 1) * children

    def _node_cost(self, connection: GraphQLNamedType, selection_set: SelectionSetNode | None) -> int:
        per_node = 0
        fields = getattr(connection, "fields", {})
        for selection in selection_set.selections if selection_set else ():
            if not isinstance(selection, FieldNode):
                continue
            name = selection.name.value
            if name == "nodes":
                per_node = max(
                    per_node, 1 + self.selection(get_named_type(fields[name].type), selection.selection_set)
                )
            elif name == "edges":
                edge_type = get_named_type(fields[name].type)
                per_node = max(per_node, self.selection(edge_type, selection.selection_set))
        return per_node


def query_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any] | None = None,
) -> int:
    """The requested cost of ``operation`` in ``document``."""
    if operation.operation == OperationType.MUTATION:
        return MUTATION_COST * sum(1 for s in operation.selection_set.selections if isinstance(s, FieldNode))
    coster = _Coster(schema, document, variables or {})
    root = schema.query_type
    assert root is not None
    return coster.selection(root, operation.selection_set)


class _ActualCoster(_Coster):
    """Cost of what a query returned: connections and lists count the items actually present."""

    def walk(self, parent: GraphQLNamedType, selection_set: SelectionSetNode | None, data: Any) -> int:
        if selection_set is None or not isinstance(data, Mapping):
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                total += self.actual_field(parent, selection, data.get(key))
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                total += self.walk(target or parent, selection.selection_set, data)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:
                    target = self.schema.get_type(fragment.type_condition.name.value)
                    total += self.walk(target or parent, fragment.selection_set, data)
        return total

    def actual_field(self, parent: GraphQLNamedType, node: FieldNode, value: Any) -> int:
        fields = getattr(parent, "fields", None)
        definition = fields.get(node.name.value) if fields else None
        if definition is None:
            return 0
        named = get_named_type(definition.type)
        if is_leaf_type(named):
            return 0
        if named.name.endswith("Connection") and "first" in definition.args:
            return 2 + self._items_cost(named, node.selection_set, value)
        if isinstance(value, list):
            return sum(1 + self.walk(named, node.selection_set, item) for item in value)
        return 1 + self.walk(named, node.selection_set, value)

    def _items_cost(
        self, connection: GraphQLNamedType, selection_set: SelectionSetNode | None, value: Any
    ) -> int:
        if not isinstance(value, Mapping):
            return 0
        fields = getattr(connection, "fields", {})
        best = 0
        for selection in selection_set.selections if selection_set else ():
            if not isinstance(selection, FieldNode):
                continue
            key = selection.alias.value if selection.alias else selection.name.value
            name = selection.name.value
            items = value.get(key)
            if name in {"nodes", "edges"} and isinstance(items, list):
                item_type = get_named_type(fields[name].type)
                cost = sum(
                    (1 if name == "nodes" else 0) + self.walk(item_type, selection.selection_set, item)
                    for item in items
                )
                best = max(best, cost)
        return best


def actual_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    data: Mapping[str, Any] | None,
    variables: Mapping[str, Any] | None = None,
) -> int:
    """The cost of what ``operation`` actually returned (``data``); mutations cost their fixed price."""
    if operation.operation == OperationType.MUTATION:
        return query_cost(schema, document, operation, variables)
    coster = _ActualCoster(schema, document, variables or {})
    root = schema.query_type
    assert root is not None
    return coster.walk(root, operation.selection_set, data)
