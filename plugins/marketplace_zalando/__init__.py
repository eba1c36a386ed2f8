"""marketplace_zalando plugin (lands with its own issue)."""
