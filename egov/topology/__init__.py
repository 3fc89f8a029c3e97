"""Topology: the plan expanded into routers, links and stable addresses, then checked."""
