"""NAPALM driver for FRRouting: ``napalm.get_network_driver("frr")`` returns :class:`FRRDriver`.

Only the driver class is exported here: NAPALM's resolver returns the first ``NetworkDriver``
subclass of this module in alphabetical order, so importing the abstract base class here would
make it return that instead (docs/napalm-frr.md).
"""

from napalm_frr.frr import FRRDriver

__all__ = ["FRRDriver"]
