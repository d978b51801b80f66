"""The record MAC's format is stable: records written by one version stay readable by the next.

A change to how :func:`~sessionary.sansio.record_auth.record_seal` lays out its input (an
optimisation, a reordering) would make every stored session read as forged after an upgrade:
everyone signed out. These vectors were computed by the first implementation.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sessionary.sansio.record_auth import SEAL_BYTES, record_seal, seal_matches


def test_known_vectors() -> None:
    full = record_seal(
        bytes(range(32)),
        "k" * 43,
        version=3,
        digest=bytes(16),
        created=1_750_000_000_000,
        idle=1_800_000,
        deadline=1_750_043_200_000,
        user="ada",
        auth_time=1_750_000_000_500,
        user_key="u1",
        device=b"Chrome on Linux",
        attributes={"cart": b"\x01[1,2]", "n": b"\x011", "\u00e9t\u00e9": b""},
    )
    assert full.hex() == "868b786dcb6cab7ae2f7aa781b989a42"
    empty = record_seal(
        bytes(32),
        "",
        version=0,
        digest=b"",
        created=-1,
        idle=0,
        deadline=0,
        user=None,
        auth_time=None,
        user_key=None,
        device=None,
        attributes={},
    )
    assert empty.hex() == "ddd88138c31a2bff9009945746e22290"


names = st.text(max_size=8)


@given(
    st.dictionaries(names, st.binary(max_size=8), max_size=4),
    names,
    st.binary(max_size=8),
)
def test_every_attribute_name_and_value_counts(
    attributes: dict[str, bytes], name: str, value: bytes
) -> None:
    """Adding, removing or changing any one attribute changes the MAC (no two states share
    an input: every part is length-prefixed)."""

    def seal(attrs: dict[str, bytes]) -> bytes:
        return record_seal(
            b"k" * 32,
            "key",
            version=1,
            digest=b"d" * 16,
            created=1,
            idle=2,
            deadline=3,
            user=None,
            auth_time=None,
            user_key=None,
            device=None,
            attributes=attrs,
        )

    base = seal(attributes)
    assert len(base) == SEAL_BYTES
    changed = {**attributes, name: value}
    assert seal_matches(base, seal(changed)) is (changed == attributes)
