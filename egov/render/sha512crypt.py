"""SHA-512 crypt (``$6$``, glibc / Ulrich Drepper's specification) in pure Python.

The stdlib ``crypt`` module is gone in Python 3.13; Junos (``encrypted-password``) and Linux want
this exact format, and a dependency for ~40 lines of a published algorithm is not worth it.
tests/render/test_sha512crypt.py checks it against glibc's own output.
"""

from __future__ import annotations

import hashlib

_ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
#: the byte order of the final base-64 encoding (from the specification)
_ORDER = [(0, 21, 42), (22, 43, 1), (44, 2, 23), (3, 24, 45), (25, 46, 4), (47, 5, 26), (6, 27, 48),
          (28, 49, 7), (50, 8, 29), (9, 30, 51), (31, 52, 10), (53, 11, 32), (12, 33, 54), (34, 55, 13),
          (56, 14, 35), (15, 36, 57), (37, 58, 16), (59, 17, 38), (18, 39, 60), (40, 61, 19), (62, 20, 41)]
ROUNDS = 5000


def _b64(b2: int, b1: int, b0: int, n: int) -> str:
    w = (b2 << 16) | (b1 << 8) | b0
    out = []
    for _ in range(n):
        out.append(_ITOA64[w & 0x3F])
        w >>= 6
    return "".join(out)


def _repeat(digest: bytes, length: int) -> bytes:
    return (digest * (length // 64 + 1))[:length]


def sha512_crypt(password: str, salt: str) -> str:
    """``$6$<salt>$<hash>`` of ``password``; ``salt`` is at most 16 characters of ``[./0-9A-Za-z]``."""
    if len(salt) > 16 or any(c not in _ITOA64 for c in salt):
        raise ValueError("salt must be at most 16 characters of [./0-9A-Za-z]")
    pw, s = password.encode(), salt.encode()
    b = hashlib.sha512(pw + s + pw).digest()
    a = hashlib.sha512(pw + s + _repeat(b, len(pw)))
    n = len(pw)
    while n:
        a.update(b if n & 1 else pw)
        n >>= 1
    da = a.digest()
    p = _repeat(hashlib.sha512(pw * len(pw)).digest(), len(pw))
    sb = _repeat(hashlib.sha512(s * (16 + da[0])).digest(), len(s))
    c = da
    for i in range(ROUNDS):
        h = hashlib.sha512(p if i & 1 else c)
        if i % 3:
            h.update(sb)
        if i % 7:
            h.update(p)
        h.update(c if i & 1 else p)
        c = h.digest()
    encoded = "".join(_b64(c[x], c[y], c[z], 4) for x, y, z in _ORDER) + _b64(0, 0, c[63], 2)
    return f"$6${salt}${encoded}"
