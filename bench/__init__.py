"""Benchmarks for Parley. `python -m bench` runs the fan-out benchmark (see bench/__main__.py)."""
