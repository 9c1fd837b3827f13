"""scaleplan: decide how a product should scale, with evidence."""

__version__ = "0.1.0"
