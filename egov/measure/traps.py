"""SNMPv3 linkDown/linkUp traps (pysnmp 7's notification receiver), handed to the fault engine.

A v3 trap is signed by its sender, so the receiver must hold the user for every sending engine ID
(there is no discovery for traps). Routers are registered as their engine IDs become known
(configured, or learnt by the poller); passphrases are hashed to master keys once, so registering
a province costs milliseconds per router. The sender is identified by its engine ID, not by the
packet's source address (relays and NAT do not change it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from pyasn1.codec.ber import decoder
from pyasn1.error import PyAsn1Error
from pysnmp.carrier.asyncio.dgram import udp, udp6
from pysnmp.entity import config, engine
from pysnmp.entity.rfc3413 import ntfrcv
from pysnmp.proto.api import v2c
from pysnmp.proto.mpmod.rfc3412 import SNMPv3Message
from pysnmp.proto.secmod.rfc3414.service import UsmSecurityParameters
from pysnmp.proto.secmod.rfc3826.priv.aes import Aes
from pysnmp.proto.secmod.rfc7860.auth.hmacsha2 import HmacSha2
from pysnmp.proto.secmod.rfc3414.auth.hmacsha import HmacSha

from egov.measure.model import SnmpAuth

LINK_DOWN = "1.3.6.1.6.3.1.1.5.3"
LINK_UP = "1.3.6.1.6.3.1.1.5.4"
SNMP_TRAP_OID = "1.3.6.1.6.3.1.1.4.1.0"
IF_INDEX = "1.3.6.1.2.1.2.2.1.1."

#: (router, ifIndex, up, received at)
TrapHandler = Callable[[str, int, bool, float], None]
log = logging.getLogger("egov.exporter")


class TrapReceiver:
    """Listens on one UDP address; calls ``handler`` for every authenticated linkDown/linkUp."""

    def __init__(self, listen: tuple[str, int], auth: SnmpAuth, handler: TrapHandler):
        self.listen = listen
        self.auth = auth
        self.handler = handler
        self.engine = engine.SnmpEngine()
        self.routers: dict[bytes, str] = {}
        self.received = 0
        self.dropped = 0
        domain, transport = (udp6.DOMAIN_NAME, udp6.Udp6Transport) if ":" in listen[0] else \
            (udp.DOMAIN_NAME, udp.UdpTransport)
        config.add_transport(self.engine, domain, transport().open_server_mode(listen))
        self._auth_proto = config.USM_AUTH_HMAC192_SHA256 if auth.auth == "sha256" else config.USM_AUTH_HMAC96_SHA
        service = HmacSha2(self._auth_proto) if auth.auth == "sha256" else HmacSha()
        # master keys once (1 MiB of hashing each); per router only the cheap localisation remains
        self._auth_master = service.hash_passphrase(auth.auth_key.encode())
        self._priv_master = Aes().hash_passphrase(self._auth_proto, auth.priv_key.encode())
        ntfrcv.NotificationReceiver(self.engine, self._on_trap)

    def register(self, router: str, engine_id: bytes) -> None:
        """Accept traps from ``router``, which signs them with ``engine_id``."""
        if self.routers.get(engine_id) == router:
            return
        config.add_v3_user(self.engine, self.auth.user, self._auth_proto, self._auth_master,
                           config.USM_PRIV_CFB128_AES, self._priv_master,
                           securityEngineId=v2c.OctetString(engine_id),
                           authKeyType=config.USM_KEY_TYPE_MASTER, privKeyType=config.USM_KEY_TYPE_MASTER)
        self.routers[engine_id] = router

    @staticmethod
    def sender(whole_msg: bytes) -> bytes | None:
        """The authoritative (sending) engine ID of a v3 message: who signed it."""
        try:
            msg, _ = decoder.decode(whole_msg, asn1Spec=SNMPv3Message())
            params, _ = decoder.decode(bytes(msg["msgSecurityParameters"]), asn1Spec=UsmSecurityParameters())
            return bytes(params["msgAuthoritativeEngineId"])
        except (PyAsn1Error, KeyError, TypeError):
            return None

    def _on_trap(self, snmp_engine, state_ref, ctx_engine_id, ctx_name, var_binds, cb_ctx) -> None:  # noqa: ANN001
        at = time.time()
        ex = snmp_engine.observer.get_execution_context("rfc3412.receiveMessage:request")
        sender = self.sender(bytes(ex.get("wholeMsg", b""))) or bytes(ctx_engine_id)
        router = self.routers.get(sender)
        binds = {str(o): v for o, v in var_binds}
        kind = str(binds.get(SNMP_TRAP_OID, ""))
        if router is None or kind not in (LINK_DOWN, LINK_UP):
            self.dropped += 1
            return
        index = next((int(v) for o, v in binds.items() if o.startswith(IF_INDEX)), None)
        if index is None:
            self.dropped += 1
            return
        self.received += 1
        try:
            self.handler(router, index, kind == LINK_UP, at)
        except Exception:  # noqa: BLE001 - a bad trap must not stop the receiver
            log.exception("trap from %s not handled", router)

    def close(self) -> None:
        self.engine.close_dispatcher()
