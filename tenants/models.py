"""Tenants and space allocations (the partners and tenants issue fills this app)."""
