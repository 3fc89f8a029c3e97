"""NAPALM driver for H3C Comware 7 with commit delay: ``get_network_driver("h3c_comware7")``."""

from napalm_h3c_comware7.comware7 import Comware7Driver

__all__ = ["Comware7Driver"]
