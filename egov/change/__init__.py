"""Change: safe, journaled network changes (drivers, waves, commit-confirm, audit)."""
