"""Organisations, MoUs, expressions of interest and commitments (the partners issue fills this app)."""
