"""Throughput and memory benchmarks: scripts that print figures (never timed tests).

Run each with ``uv run python benchmarks/<name>.py`` (``--help`` for its flags), or all of
them with ``uv run python benchmarks/run_all.py``.
"""
