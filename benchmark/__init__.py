"""Benchmark: the published rendering protocol, metrics, protocols, submission scoring and tables.

May use ``simulator`` (camera model, dataset reader) and ``models`` (to run a model).
"""
