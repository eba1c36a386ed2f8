"""store_magento plugin (lands with its own issue)."""
