"""The domain packages stand on their own: `accounts` (customers, staff, their credentials) and
`payments` (payment modes, ad hoc payments, settlement) import nothing from the HTTP layer
(`evbill.api`, `evbill.portal`); the HTTP layer only translates (issue 11 item 4).

Every import statement counts, also those inside functions and under `TYPE_CHECKING`, and
relative ones are resolved against the module's package.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import evbill

ROOT = Path(evbill.__path__[0])
DOMAINS = ("accounts", "payments")
HTTP = ("evbill.api", "evbill.portal")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(source: str, module: str, is_package: bool) -> list[str]:
    """Every module `source` (the module `module`) imports, as absolute dotted names; for
    `from X import a` both `X` and `X.a` (a may be a submodule)."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append(target)
            found.extend(f"{target}.{alias.name}" for alias in node.names)
    return found


def _from_http(names: list[str]) -> list[str]:
    return [n for n in names if any(n == h or n.startswith(h + ".") for h in HTTP)]


def _domain_sources(domain: str) -> list[Path]:
    return sorted((ROOT / domain).rglob("*.py"))


@pytest.mark.parametrize("domain", DOMAINS)
def test_a_domain_package_imports_nothing_from_the_http_layer(domain: str) -> None:
    sources = _domain_sources(domain)
    assert len(sources) > 3  # the walk found the package's modules
    offenders: dict[str, list[str]] = {}
    for path in sources:
        name, source = _module_name(path), path.read_text(encoding="utf-8")
        if bad := _from_http(_imports(source, name, path.name == "__init__.py")):
            offenders[name] = bad
    assert offenders == {}


def test_the_user_and_credential_models_live_in_accounts() -> None:
    from evbill.accounts.tables import ApiKeyRow, UserRow

    assert (UserRow.__module__, ApiKeyRow.__module__) == ("evbill.accounts.tables",) * 2
    assert (UserRow.__tablename__, ApiKeyRow.__tablename__) == ("api_users", "api_keys")
    api_tables = (ROOT / "api" / "tables.py").read_text(encoding="utf-8")
    assert "UserRow" not in api_tables and "ApiKeyRow" not in api_tables  # one home


@pytest.mark.parametrize(
    ("source", "module", "expected"),
    [
        ("from evbill.api.tables import UserRow", "evbill.accounts.users",
         ["evbill.api.tables", "evbill.api.tables.UserRow"]),
        ("import evbill.portal.page", "evbill.payments.adhoc", ["evbill.portal.page"]),
        ("from evbill import api", "evbill.payments.adhoc", ["evbill.api"]),
        ("def f():\n    from ..api.auth import Principal", "evbill.accounts.users",
         ["evbill.api.auth", "evbill.api.auth.Principal"]),
        ("from .. import portal", "evbill.payments.providers.stripe", []),
        ("from ... import portal", "evbill.payments.providers.stripe", ["evbill.portal"]),
        ("import evbill.apis_elsewhere", "evbill.accounts.users", []),
    ],
)  # fmt: skip
def test_the_check_sees_every_form_of_import(source: str, module: str,
                                             expected: list[str]) -> None:  # fmt: skip
    assert _from_http(_imports(source, module, is_package=False)) == expected


def test_importing_every_domain_module_loads_no_http_module() -> None:
    """Also transitively: a fresh interpreter importing every module of both packages (from
    this source tree) has loaded neither `evbill.api` nor `evbill.portal` nor FastAPI."""
    names = [_module_name(p) for d in DOMAINS for p in _domain_sources(d)]
    script = (
        f"import importlib, sys\nsys.path.insert(0, {str(ROOT.parent)!r})\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[:2] in "
        "(['evbill', 'api'], ['evbill', 'portal']) or m.split('.')[0] == 'fastapi'))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True).stdout.strip()  # fmt: skip
    assert ast.literal_eval(loaded) == []
