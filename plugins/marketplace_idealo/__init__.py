"""marketplace_idealo plugin (lands with its own issue)."""
