"""Rendering: plan -> one complete configuration per router, from Jinja2 templates."""
