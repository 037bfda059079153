"""The benchmark suite: ``python -m scripts.bench.run --help``."""
