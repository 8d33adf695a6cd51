"""``make bench``: the benchmark figures of benchmarks/results.json (see benchmarks/run.py)."""
