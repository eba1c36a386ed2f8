"""store_shopify plugin (lands with its own issue)."""
