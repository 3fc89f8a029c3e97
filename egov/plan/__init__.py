"""Plan profiles: the operator-written source of truth (inventory/<name>.yaml)."""
