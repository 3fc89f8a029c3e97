"""Exports of the topology for other tools (Ansible inventory, JSON)."""
