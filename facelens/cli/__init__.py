"""CLI: a thin layer over the public API (``facelens.open``)."""
