"""How guessable a configured secret is: a small, deterministic estimate (docs/security.md R56).

:func:`estimate_bits` prices the cheapest description of the secret as a series of pieces,
in the manner of zxcvbn, each piece being

* **one character** of the smallest standard alphabet holding the whole secret: decimal
  (3.3 bits), hex (4), base32 (5), base64/base64url (6), printable ASCII (6.6), any byte (8);
* a **sequence** (``abcdef``, ``97531``: a constant step of ±1 or ±2): its first character,
  its length, its step;
* a **keyboard walk** on a QWERTY layout (``qwerty``, ``1qaz2wsx``, ``zxcvbn``): its first
  key, its length, one choice of direction per turn;
* a **repeat** of something earlier (``abcabc``, ``aaaa``): where it starts, how long;
* a **word** placeholders and typed secrets are made of (``change``, ``secret``, ``your``,
  ``key``, ``here``, ``django`` …): its rank in a list of about 200.

A random secret has no cheaper description than character by character, so the estimate
of ``secrets.token_bytes(32)``, ``token_hex(32)`` and ``token_urlsafe(32)`` stays far above
the 128 bits required (the test suite checks 100 000 of each); the short patterns random
strings contain by chance (a word of three letters, ``abc``) cost them a few bits at most.
Typed secrets price as what they are: ``abcdefghijklmnopqrstuvwxyz012345`` about 25 bits,
``qwertyuiopasdfghjklzxcvbnm123456`` about 40, ``my-super-secret-session-key-2024!!`` about
100.

Two whole-value checks come before the estimate: a hex digest (MD5, SHA-1, SHA-256,
SHA-512) of a common word (``hello``, ``password`` …) — random-looking, yet anyone can
recompute it — and a value starting with the marker of a committed development secret
(``django-insecure-``).

It is a guard against mistakes, not a proof of randomness: a secret derived from a
passphrase nobody else knows can still be weak. Generate keys with :mod:`secrets`.
"""

from __future__ import annotations

import hashlib
import math
from bisect import bisect_right
from itertools import pairwise

__all__ = ["MIN_BITS", "estimate_bits", "known_weak"]

MIN_BITS = 128.0
"""What a secret must be worth *more than* (the strength of the keys derived from it): 32
hex characters (16 bytes) or a UUID's hex fall short, as R56 asks for 32 random bytes."""

_MAX_SCANNED = 256  # longer secrets: the first 256 bytes are judged (enough to be sure)
_MIN_RUN = 3

_ALPHABETS: tuple[tuple[frozenset[int], int], ...] = tuple(
    (frozenset(chars.encode("ascii")), size)
    for chars, size in (
        ("0123456789", 10),
        ("0123456789abcdef", 16),
        ("0123456789ABCDEF", 16),
        ("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567=", 32),
        ("abcdefghijklmnopqrstuvwxyz234567=", 32),
        ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=", 64),
        ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=", 64),
        ("".join(chr(c) for c in range(0x20, 0x7F)), 95),
    )
)

# Words placeholders and typed secrets are built from (lower case; at least two letters).
_WORD_TEXT = """
        change changeme me my your our the this that is it to in of do be an no not for and
        with here there key keys secret secrets password passwd pass passphrase pwd token
        replace placeholder example sample insecure unsafe dummy default todo fixme xxx test
        testing tests dev develop development local localhost prod production staging stage
        debug demo app application web site server service session sessions sessionary cookie
        cookies django flask rails starlette fastapi aiohttp redis hello world admin root user
        login logout foo bar baz qux abc qwerty letmein welcome super very long longer random
        string value generate generated some set please must should use used only never real
        actual new old put add enter insert top private public api auth signing sign
        encryption encrypt hmac salt at least characters chars bytes length thirty two one
        three four five number secure security strong hard guess nobody knows will can keep
        safe hidden company project team name my_app myapp site_key master main config
        settings env environment variable var temp tmp free open sesame shh hush dont share
"""
_WORDS = tuple(dict.fromkeys(_WORD_TEXT.split()))
_WORD_BITS = math.log2(len(_WORDS))

_COMMON = (
    "hello",
    "hello world",
    "password",
    "secret",
    "secret_key",
    "secretkey",
    "mysecret",
    "changeme",
    "admin",
    "test",
    "example",
    "default",
    "key",
    "django",
    "flask",
    "letmein",
    "qwerty",
    "123456",
    "foo",
    "sessionary",
    "",
)
_WEAK_DIGESTS = frozenset(
    hashlib.new(algorithm, word.encode()).hexdigest()
    for word in _COMMON
    for algorithm in ("md5", "sha1", "sha256", "sha512")
)
_DEV_MARKERS = (b"django-insecure-", b"insecure-")

# QWERTY rows, unshifted and shifted, with each row's horizontal offset (in key widths).
_ROWS = (
    ("`1234567890-=", "~!@#$%^&*()_+", 0.0),
    ("qwertyuiop[]\\", "QWERTYUIOP{}|", 1.5),
    ("asdfghjkl;'", 'ASDFGHJKL:"', 1.75),
    ("zxcvbnm,./", "ZXCVBNM<>?", 2.25),
)


def _layout() -> dict[int, tuple[int, float, bool]]:
    """Each key's byte -> (row, horizontal position, shifted)."""
    keys: dict[int, tuple[int, float, bool]] = {}
    for row, (plain, shifted, offset) in enumerate(_ROWS):
        for column, (a, b) in enumerate(zip(plain, shifted, strict=True)):
            keys[ord(a)] = (row, column + offset, False)
            keys[ord(b)] = (row, column + offset, True)
    return keys


_KEYS = _layout()
_KEY_BITS = math.log2(len(_KEYS))  # the first key of a walk, shift included
_TURN_BITS = math.log2(6)  # a key has up to six neighbours


def _direction(a: int, b: int) -> tuple[int, int] | None:
    """The direction from key ``a`` to a neighbouring key ``b``, or ``None``."""
    ka, kb = _KEYS[a], _KEYS[b]
    rows = kb[0] - ka[0]
    dx = kb[1] - ka[1]
    if rows == 0 and abs(dx) == 1:
        return (0, 1 if dx > 0 else -1)
    if abs(rows) == 1 and abs(dx) <= 0.75:  # half a key and a bit
        return (rows, 1 if dx > 0 else -1)
    return None


# Every step of a walk: the two bytes -> (direction, whether the shift key changed).
_STEPS: dict[bytes, tuple[tuple[int, int], bool]] = {
    bytes((a, b)): (direction, _KEYS[a][2] != _KEYS[b][2])
    for a in _KEYS
    for b in _KEYS
    if (direction := _direction(a, b)) is not None
}
_WORDS_BY_PREFIX: dict[bytes, tuple[bytes, ...]] = {}
for _word in _WORDS:
    _raw = _word.encode("ascii")
    _WORDS_BY_PREFIX[_raw[:2]] = (*_WORDS_BY_PREFIX.get(_raw[:2], ()), _raw)


def _char_bits(data: bytes) -> float:
    present = frozenset(data)
    for chars, size in _ALPHABETS:
        if present <= chars:
            return math.log2(size)
    return 8.0


def _sequence(data: bytes, i: int, step: int, char_bits: float) -> list[tuple[int, float]]:
    end = i + 2
    while end < len(data) and data[end] - data[end - 1] == step:
        end += 1
    return [(j, char_bits + math.log2(j - i) + 2) for j in range(i + _MIN_RUN, end + 1)]


def _walk(data: bytes, i: int) -> list[tuple[int, float]]:
    out: list[tuple[int, float]] = []
    turns = shifts = 0
    previous: tuple[int, int] | None = None
    end = i + 1
    while end < len(data):
        step = _STEPS.get(data[end - 1 : end + 1])
        if step is None:
            break
        direction, shifted = step
        turns += previous is not None and direction != previous
        shifts += shifted
        previous = direction
        end += 1
        if end - i >= _MIN_RUN:
            out.append((end, _KEY_BITS + math.log2(end - i) + turns * _TURN_BITS + shifts))
    return out


def _repeat(data: bytes, i: int) -> list[tuple[int, float]]:
    length = _MIN_RUN
    while i + length < len(data) and data.find(data[i : i + length + 1], 0, i + length) >= 0:
        length += 1
    where = math.log2(i) + 1  # where the copy starts (and a bit for "repeat")
    return [(i + n, where + math.log2(n)) for n in range(_MIN_RUN, length + 1)]


def _matches(data: bytes, char_bits: float) -> dict[int, list[tuple[int, float]]]:
    """Every pattern in ``data``: start -> ``(end, cost in bits)`` pairs.

    Candidates are found with whole-string operations first (most positions of a random
    secret start no pattern), then each is measured.
    """
    n = len(data)
    found: dict[int, list[tuple[int, float]]] = {}
    pairs = [data[i : i + 2] for i in range(n - 1)]
    deltas = [b - a for a, b in pairwise(data)]
    for i in range(n - 2):
        step = deltas[i]
        if step in (-2, -1, 1, 2) and deltas[i + 1] == step:
            found.setdefault(i, []).extend(_sequence(data, i, step, char_bits))
    walking = [pair in _STEPS for pair in pairs]
    for i in range(n - 2):
        if walking[i] and walking[i + 1]:
            found.setdefault(i, []).extend(_walk(data, i))
    grams = [data[i : i + _MIN_RUN] for i in range(n - _MIN_RUN + 1)]
    if len(set(grams)) < len(grams):
        first: dict[bytes, int] = {}
        for i, gram in enumerate(grams):
            if first.setdefault(gram, i) < i:
                found.setdefault(i, []).extend(_repeat(data, i))
    lowered = data.lower()
    for i in range(n - 1):
        for word in _WORDS_BY_PREFIX.get(lowered[i : i + 2], ()):
            if lowered.startswith(word, i):
                found.setdefault(i, []).append((i + len(word), _WORD_BITS + 1))
    return found


def estimate_bits(secret: bytes) -> float:
    """The estimated guessing cost of ``secret`` in bits (see the module docstring).

    Character by character costs ``length * bits per character``; each pattern used instead
    saves its characters' cost minus its own. The estimate takes the set of non-overlapping
    patterns saving the most (weighted interval scheduling over the few patterns found).
    """
    data = secret[:_MAX_SCANNED]
    char_bits = _char_bits(data)
    savings = sorted(
        (end, start, saved)
        for start, found in _matches(data, char_bits).items()
        for end, cost in found
        if (saved := (end - start) * char_bits - cost) > 0
    )
    ends: list[int] = []
    best: list[float] = []  # best[k]: the most saved by patterns ending by ends[k]
    for end, start, saved in savings:
        before = bisect_right(ends, start)
        total = max(saved + (best[before - 1] if before else 0.0), best[-1] if best else 0.0)
        if ends and ends[-1] == end:
            best[-1] = max(best[-1], total)
        else:
            ends.append(end)
            best.append(total)
    return len(secret) * char_bits - (best[-1] if best else 0.0)


def known_weak(secret: bytes) -> str | None:
    """Why ``secret`` is a well-known weak value (see the module docstring), or ``None``."""
    lowered = secret.strip().lower()
    if lowered.decode("latin-1") in _WEAK_DIGESTS:
        return "is the hash of a common word"
    if lowered.startswith(_DEV_MARKERS):
        return "is a committed development placeholder ('insecure-')"
    return None
