"""Operate: the NOC's runbooks and fault drills, run where a machine can do the step."""
