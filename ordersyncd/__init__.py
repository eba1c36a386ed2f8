"""ordersyncd — keeps a web store and its marketplaces in step.

The public plugin API lives in :mod:`ordersyncd.plugin`; everything else is the daemon's own.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
