"""Measurement against the plan targets: SNMP polling, traps, service probes, faults, SLA.

The last stage of the flow (plan -> topology -> config -> change -> verification -> measurement):
it reads the topology, and is handed everything else (endpoints, secrets, planned windows) by the
CLI. It imports neither ``egov.lab`` nor ``egov.change``.
"""
