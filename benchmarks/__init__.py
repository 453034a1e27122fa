"""Benchmarks: speed (``python -m benchmarks``) and detection quality (``python -m benchmarks.quality``)."""
