"""R25 as a lint rule: no ``==``/``!=`` on anything named like a MAC, signature, digest or token.

Secret comparisons must go through :func:`hmac.compare_digest` (``KeyRing.digests_equal``);
this walks every module of the package and fails on an equality test whose operand's name
ends in ``mac``, ``sig``, ``signature``, ``digest`` or ``token``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import sessionary

PACKAGE = Path(sessionary.__file__).parent
SECRET_NAME = re.compile(r"(?i)(mac|sig|signature|digest|token)$")
ALLOWED = {
    # Two values presented in one request compared with each other to detect conflicting
    # duplicates (R22): nothing secret is verified there, and both come from the client.
    ("sansio/transport.py", "token"),
    # The in-process memory store's lock fencing tokens: minted by the server for its own
    # requests, never presented by a client, compared in the same process.
    ("stores/memory.py", "token"),
}


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def offences(source: str) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare):
            continue
        if not any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops):
            continue
        for operand in (node.left, *node.comparators):
            name = _name(operand)
            if name is not None and SECRET_NAME.search(name):
                found.append((node.lineno, name))
    return found


def test_the_rule_catches_secret_equality() -> None:
    assert offences("ok = sent_mac == mac") == [(1, "sent_mac"), (1, "mac")]
    assert offences("bad = a.token != b") == [(1, "token")]
    assert offences("fine = hmac.compare_digest(mac, other)") == []
    assert offences("fine = token is None") == []


def test_no_secret_is_compared_with_equality_operators() -> None:
    problems = [
        f"{path.relative_to(PACKAGE)}:{line} compares {name!r} with ==/!="
        for path in sorted(PACKAGE.rglob("*.py"))
        for line, name in offences(path.read_text())
        if (str(path.relative_to(PACKAGE)), name) not in ALLOWED
    ]
    assert problems == []
