"""store_woocommerce plugin (lands with its own issue)."""
