"""SHA-512 crypt without the stdlib ``crypt`` module (removed in Python 3.13): same output as glibc."""

import pytest

from egov.render.sha512crypt import sha512_crypt

# recorded from glibc's crypt(3) (Python 3.11's crypt.crypt) on Debian 12
GLIBC = [
    ("Admin-Pass-1", "0123456789abcdef",
     "$6$0123456789abcdef$/NzKAgzIqHU74rIyl3qV8cfH3QRgDoOVNtAZNf.aCiFMHUxVU2/ic3nV2BDKgTxesqLvfO0h4/yasQjpPx0721"),
    ("lab-secret", "./Zz",
     "$6$./Zz$OOJDvNk7.FjYYzj5bvZuh5nJ3SPZfq.bUun/CrxL5lsh5106jhPar9p.ppmyl8Cnm6ocBGvMwKNlAfvQFzIbv0"),
]


@pytest.mark.parametrize("password,salt,expected", GLIBC)
def test_matches_glibc(password, salt, expected):
    assert sha512_crypt(password, salt) == expected


def test_refuses_a_salt_glibc_would_cut_or_reject():
    with pytest.raises(ValueError):
        sha512_crypt("x", "a" * 17)
    with pytest.raises(ValueError):
        sha512_crypt("x", "bad$salt")
