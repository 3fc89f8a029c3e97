"""The virtual backbone: a plan's routers as real FRR in network namespaces, with SSH, SNMP and faults."""
