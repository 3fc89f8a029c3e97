"""NAPALM driver for Huawei VRP8 (NE40E/NE8000) with trial commits: ``get_network_driver("huawei_vrp8")``."""

from napalm_huawei_vrp8.vrp8 import VRP8Driver

__all__ = ["VRP8Driver"]
