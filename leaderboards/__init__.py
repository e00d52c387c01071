"""Leaderboards: result tables as data with provenance (CSV), their loader and plots. Reads tables only."""
