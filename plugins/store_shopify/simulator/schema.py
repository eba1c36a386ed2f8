"""The official Admin GraphQL schema the simulator executes every document against."""

from __future__ import annotations

import functools
import gzip
import json
import os
from pathlib import Path

from graphql import GraphQLSchema, build_client_schema

__all__ = ["SCHEMA_FILE", "SCHEMA_VERSION", "load_schema"]

#: API version of the bundled schema.
SCHEMA_VERSION = "2026-10"
#: Shopify's introspection result for 2026-10, unedited (from the npm package @shopify/dev-mcp 1.16.0,
#: ISC licence; the same file as ``shared/contracts/shopify/``). ``ORDERSYNCD_SHOPIFY_SCHEMA`` overrides it.
SCHEMA_FILE = Path(__file__).with_name("admin-2026-10.introspection.json.gz")


@functools.lru_cache(maxsize=2)
def load_schema(path: str | None = None) -> GraphQLSchema:
    """Build the schema from the introspection file (cached; needs graphql-core 3.2.x)."""
    source = Path(path or os.environ.get("ORDERSYNCD_SHOPIFY_SCHEMA") or SCHEMA_FILE)
    with gzip.open(source, "rt", encoding="utf-8") as handle:
        introspection = json.load(handle)
    return build_client_schema(introspection["data"])
