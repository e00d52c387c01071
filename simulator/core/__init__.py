"""Infrastructure every package shares: errors, registries, typed configs, weight files, checks, safe file I/O.

Nothing here knows about cameras, models or benchmarks; ``simulator`` is simply the lowest layer that holds it.
"""
