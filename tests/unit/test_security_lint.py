"""R25 as a lint rule: no ``==``/``!=`` on a secret, or on any value derived from one.

Secret comparisons must go through :func:`hmac.compare_digest` (``KeyRing.digests_equal``).
This walks every function of the package and fails on an equality test one of whose operands
is *secret-derived*:

* a name or attribute named like a secret (``…mac``, ``…sig``, ``…signature``, ``…digest``,
  ``…token``, ``…secret``, ``…validator``, ``…password``, ``csrf``, ``nonce``);
* a call of something secret-making: a MAC or hash (``hmac.digest``, ``hmac.new``,
  ``blake2b``, ``sha256``, ``.digest()``, ``.hexdigest()``), a secret or token maker
  (``_secret(…)``, ``secrets.token_bytes``, ``validator_digest``, ``unmask``, ``seal``), a
  keyed label or tag (``_label(…)``, ``_tag(…)``), a method of a secret-derived value
  (``token.encode()``), or ``bytes``/``str`` of one;
* a parameter of a function that compares what it is given (``digests_equal``,
  ``seal_matches``, ``fingerprint_matches``);
* a slice, concatenation, conditional or f-string built from a secret-derived value;
* a local name assigned, anywhere in the same function, from a secret-derived value
  (followed to a fixed point, so ``candidate = unmask(...)`` then ``x = candidate[:4]``
  taints ``x``).

So ``candidate == self._secret(binding, key)`` is caught on the call alone, whatever the
names. Comparisons that are not secret checks are listed in :data:`ALLOWED`, each with why.
"""

from __future__ import annotations

import ast
import copy
import re
from pathlib import Path

import pytest

import sessionary

PACKAGE = Path(sessionary.__file__).parent
SECRET_NAME = re.compile(
    r"(?i)(mac|sig|signature|digest|token|secret|validator|password|passwd|^csrf|^nonce)$"
)
SECRET_CALL = re.compile(
    r"(?i)(^|_)(secret|digest|hexdigest|hmac|new_mac|mac|sign|blake2b|blake2s|sha1|sha256|"
    r"sha512|token_bytes|token_hex|token_urlsafe|validator_digest|unmask|seal|compare_mac|label|tag)$"
)
CRYPTO_OBJECT = re.compile(r"(?i)(sealer|cipher|aead|aesgcm|hmac|keyring|keys)$")
"""What a method of these returns is key material or crypto output (``_sealer.open(...)``)."""
SECRET_PARAMETERS = re.compile(
    r"(?i)(digest|mac|token|secret|sig|seal|fingerprint)s?_(equal|match|eq)"
)
"""Functions comparing secrets they are given: all their parameters are secrets."""
PRESERVING = frozenset({"bytes", "bytearray", "str", "memoryview"})
"""Builtins whose result carries their argument's bytes (``len``, ``isinstance`` do not)."""
CONSTANT_TIME = frozenset({"compare_digest", "digests_equal"})

ALLOWED: dict[tuple[str, str], str] = {
    # Two values presented in one request compared with each other to detect conflicting
    # duplicates (R22): nothing secret is verified there, and both come from the client.
    ("sansio/transport.py", "token != found"): "duplicate header values (R22)",
    # The in-process memory store's lock fencing tokens and write nonces: minted by the
    # server for its own requests, never presented by a client, compared in one process.
    ("stores/memory.py", "held[0] == token"): "in-process lock fencing token",
    ("stores/memory.py", "held[0] != token"): "in-process lock fencing token",
    ("stores/memory.py", "existing.nonce == op.nonce"): "idempotency nonce of a write",
    ("stores/memory.py", "record.nonce == op.nonce"): "idempotency nonce of a write",
    # Session refs: public handles the device list shows to the signed-in user, matched
    # among that user's own sessions; knowing one grants nothing by itself.
    ("_async/manager.py", "ref == current_ref"): "device-list handle",
    ("_sync/manager.py", "ref == current_ref"): "device-list handle",
    ("_async/manager.py", "keyring.session_ref(key) == ref"): "device-list handle",
    ("_sync/manager.py", "keyring.session_ref(key) == ref"): "device-list handle",
}


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


class _Taint:
    """Which expressions of one function are secret-derived."""

    def __init__(self, function: ast.AST) -> None:
        self.names: set[str] = set()
        functions = ast.FunctionDef | ast.AsyncFunctionDef
        if isinstance(function, functions) and SECRET_PARAMETERS.search(function.name):
            self.names.update(a.arg for a in ast.walk(function.args) if isinstance(a, ast.arg))
        assignments: list[tuple[list[str], ast.expr]] = []
        for node in _own_nodes(function):
            if isinstance(node, ast.Assign):
                assignments.append((_targets(node.targets), node.value))
            elif isinstance(node, ast.AnnAssign | ast.AugAssign | ast.NamedExpr):
                if node.value is not None:
                    assignments.append((_targets([node.target]), node.value))
            elif isinstance(node, ast.For | ast.AsyncFor | ast.comprehension):
                assignments.append((_targets([node.target]), node.iter))
            elif isinstance(node, ast.withitem) and node.optional_vars is not None:
                assignments.append((_targets([node.optional_vars]), node.context_expr))
        changed = True
        while changed:  # follow chains of assignments to a fixed point
            changed = False
            for targets, value in assignments:
                fresh = [t for t in targets if t not in self.names]
                if fresh and self.derived(value):
                    self.names.update(fresh)
                    changed = True

    def derived(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.names or bool(SECRET_NAME.search(node.id))
        if isinstance(node, ast.Attribute):
            return bool(SECRET_NAME.search(node.attr)) or self.derived(node.value)
        if isinstance(node, ast.Subscript | ast.Starred):
            return self.derived(node.value)
        if isinstance(node, ast.Call):
            func = node.func
            name = _name(func)
            if name is not None and SECRET_CALL.search(name):
                return True
            if isinstance(func, ast.Attribute) and self.derived(func.value):
                return True  # a method of a secret: token.encode(), digest.hex()
            owner = _name(func.value) if isinstance(func, ast.Attribute) else None
            if owner is not None and CRYPTO_OBJECT.search(owner):
                return True
            return name in PRESERVING and any(self.derived(a) for a in node.args)
        if isinstance(node, ast.BinOp):
            return self.derived(node.left) or self.derived(node.right)
        if isinstance(node, ast.IfExp):
            return self.derived(node.body) or self.derived(node.orelse)
        if isinstance(node, ast.BoolOp):
            return any(self.derived(v) for v in node.values)
        if isinstance(node, ast.JoinedStr):
            return any(
                self.derived(v.value) for v in node.values if isinstance(v, ast.FormattedValue)
            )
        return False


def _targets(targets: list[ast.expr]) -> list[str]:
    """The local names bound (``a``, ``a, b``, ``*rest``; not ``obj.attr`` or ``d[k]``)."""
    names: list[str] = []
    for target in targets:
        if isinstance(target, ast.Name):
            names.append(target.id)
        elif isinstance(target, ast.Tuple | ast.List):
            names += _targets(list(target.elts))
        elif isinstance(target, ast.Starred):
            names += _targets([target.value])
    return names


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def _own_nodes(scope: ast.AST) -> list[ast.AST]:
    """The nodes of ``scope`` outside the functions and classes nested in it."""
    nodes: list[ast.AST] = []
    todo = list(ast.iter_child_nodes(scope))
    while todo:
        node = todo.pop()
        nodes.append(node)
        if not isinstance(node, _SCOPES):
            todo.extend(ast.iter_child_nodes(node))
    return nodes


def offences(source: str) -> list[tuple[int, str]]:
    """``(line, comparison)`` for every ``==``/``!=`` with a secret-derived operand."""
    tree = ast.parse(source)
    scopes: list[ast.AST] = [tree]
    scopes += [n for n in ast.walk(tree) if isinstance(n, _SCOPES)]
    found: set[tuple[int, str]] = set()
    for scope in scopes:
        taint = _Taint(scope)
        for node in _own_nodes(scope):
            if not isinstance(node, ast.Compare):
                continue
            if not any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops):
                continue
            if any(taint.derived(operand) for operand in (node.left, *node.comparators)):
                found.add((node.lineno, ast.unparse(node)))
    return sorted(found)


def package_offences() -> list[str]:
    return [
        f"{path.relative_to(PACKAGE)}:{line} compares a secret with ==/!=: {text}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for line, text in offences(path.read_text())
        if (path.relative_to(PACKAGE).as_posix(), text) not in ALLOWED
    ]


def test_the_rule_catches_secret_equality() -> None:
    assert offences("ok = sent_mac == mac") == [(1, "sent_mac == mac")]
    assert offences("bad = a.token != b") == [(1, "a.token != b")]
    assert offences("fine = hmac.compare_digest(mac, other)") == []
    assert offences("fine = token is None") == []
    assert offences("fine = len(token) == 43") == []


def test_the_rule_follows_values_derived_from_secrets() -> None:
    source = """
def check(self, presented, binding, key):
    candidate = unmask(presented.strip())
    head = candidate[:4]
    if candidate == self._secret(binding, key):
        return 1
    if head != b"abcd":
        return 2
    expected = hmac.digest(key, binding, "sha256")
    if presented.encode() == expected:
        return 3
    if other == hashlib.blake2b(binding, key=key).digest():
        return 4
    if bytes(candidate) == b"":
        return 5
    return presented == "safe"
"""
    assert [line for line, _ in offences(source)] == [5, 7, 10, 12, 14]


def test_no_secret_is_compared_with_equality_operators() -> None:
    assert package_offences() == []


def test_every_allowed_comparison_still_exists() -> None:
    """A stale allow-list entry would hide a new comparison written the same way."""
    seen = {
        (path.relative_to(PACKAGE).as_posix(), text)
        for path in sorted(PACKAGE.rglob("*.py"))
        for _, text in offences(path.read_text())
    }
    assert set(ALLOWED) <= seen


class _ToEquality(ast.NodeTransformer):
    """Replaces the ``index``-th constant-time comparison call by ``a == b``."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.seen = 0

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if _name(node.func) not in CONSTANT_TIME or len(node.args) != 2:
            return node
        self.seen += 1
        if self.seen - 1 != self.index:
            return node
        return ast.copy_location(ast.Compare(node.args[0], [ast.Eq()], [node.args[1]]), node)


def constant_time_comparisons() -> list[tuple[str, int]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        counter = _ToEquality(-1)
        counter.visit(ast.parse(path.read_text()))
        found += [(path.relative_to(PACKAGE).as_posix(), i) for i in range(counter.seen)]
    return found


@pytest.mark.parametrize(("module", "index"), constant_time_comparisons())
def test_turning_a_constant_time_comparison_into_equality_is_flagged(
    module: str, index: int
) -> None:
    """The deliberate mutation, done to every ``compare_digest``/``digests_equal`` in the
    package (``candidate == self._secret(binding, key)`` in the CSRF check among them): each
    makes the lint fail."""
    tree = ast.parse((PACKAGE / module).read_text())
    mutated = ast.fix_missing_locations(_ToEquality(index).visit(copy.deepcopy(tree)))
    before = set(offences(ast.unparse(tree)))
    after = set(offences(ast.unparse(mutated)))
    assert after - before, f"{module}: comparison {index} turned into == goes unnoticed"


def test_the_csrf_mutation_is_among_them() -> None:
    assert any(module == "sansio/csrf.py" for module, _ in constant_time_comparisons())
