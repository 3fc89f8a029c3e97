"""Mask secrets in configurations before they are stored or shown (backups, diffs, logs).

The patterns are the platforms' own (``Platform.masks`` in egov/platforms.py); all of them apply to
every text, since a backup's platform is not always known to the reader.
"""

from __future__ import annotations

import re

from egov.platforms import PLATFORMS

MASK = "<masked>"

_PATTERNS = [re.compile(p, re.M) for p in dict.fromkeys(p for pl in PLATFORMS.values() for p in pl.masks)]


def mask(text: str, known: list[str] | tuple[str, ...] = ()) -> str:
    """Replace known secret values, then anything in a secret-bearing position, with <masked>."""
    for value in sorted((k for k in known if k and len(k) >= 4), key=len, reverse=True):
        text = text.replace(value, MASK)
    for pat in _PATTERNS:
        if pat.groups == 4:
            text = pat.sub(lambda m: f"{m.group(1)}{MASK}{m.group(3)}{MASK}", text)
        else:
            text = pat.sub(lambda m: f"{m.group(1)}{MASK}", text)
    return text
