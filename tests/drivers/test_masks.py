"""Secret masks on rendered VRP8 and Comware configs: every secret goes, every other line stays.

A mask that takes a word too many corrupts the backup a batch rollback restores (it did: Comware's
``authentication-mode scheme`` + newline + ``protocol``, VRP's ``ssh server cipher aes256_gcm``)."""

from __future__ import annotations

import pytest

from egov.change.mask import MASK, mask
from egov.render.engine import Renderer
from egov.render.secrets import Secrets
from egov.topology.validate import build_plan

SECRETS = Secrets(snmp_auth_key="Auth-Key-0123456789", snmp_priv_key="Priv-Key-0123456789",
                  admin_password="Admin-Pass-0123")


@pytest.mark.parametrize("platform", ["huawei_vrp", "h3c_comware"])
def test_only_secrets_are_masked(platform):
    plan = build_plan("shaanxi")
    node = next(n for n in plan.topology.nodes.values() if n.platform == platform)
    text = Renderer(plan, SECRETS).render_node(node)[f"{node.hostname}.cfg"]
    masked = mask(text)  # by position only: the values are not handed in
    for value in SECRETS.values():
        assert value not in masked
    before, after = text.splitlines(), masked.splitlines()
    assert len(before) == len(after)
    for a, b in zip(before, after):
        if a != b:
            assert any(v in a for v in SECRETS.values()), f"masked a line without a secret: {a!r} -> {b!r}"
            secret = set(SECRETS.values())
            assert [w for w in a.split() if w not in secret] == [w for w in b.split() if w != MASK], (a, b)
