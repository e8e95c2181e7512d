"""Labelled matching benchmark: ``python -m bench.matching``."""
