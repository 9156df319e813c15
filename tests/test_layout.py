"""The house: apps by concept, imports in one direction (STYLE.md):
``demo → mlflow_link → notifications → approvals → evidence → audit → registry → jobs → config`` and
``accounts → audit``. An app imports only apps to its right; ``config`` imports no app. Read
from the source with ``ast`` (function-level imports included), so a new import to the left
fails here."""

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Position in the chain: an app may import apps of a higher rank only. accounts sits between
# approvals (which asks it whose password was set by someone else) and audit (which it writes to).
RANK = {"demo": 0, "mlflow_link": 0.5, "notifications": 1, "webhooks": 1, "approvals": 2, "evidence": 3,
        "accounts": 3.5, "audit": 4, "registry": 5, "jobs": 6, "config": 7}  # fmt: skip
# Debts of the house still to pay, each named (an empty set is the goal).
KNOWN: set[tuple[str, str]] = set()


def imports_of(app: str) -> dict[str, set[str]]:
    """The apps each module of ``app`` imports: module path → set of app names."""
    found = {}
    for path in (ROOT / app).rglob("*.py"):
        if "migrations" in path.parts:
            continue
        names = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = {name for name in names if name in RANK and name != app}
    return found


def test_apps_import_only_apps_to_their_right():
    wrong = []
    for app in (name for name in RANK if (ROOT / name).is_dir()):
        for module, names in imports_of(app).items():
            wrong += [f"{module} imports {name}" for name in names
                      if RANK[name] <= RANK[app] and (app, name) not in KNOWN]  # fmt: skip
    assert not wrong, "\n".join(sorted(wrong))


def test_the_known_debts_are_still_debts():
    """An entry of KNOWN that is paid is removed from it, so the list only shrinks."""
    for app, name in KNOWN:
        assert any(name in names for names in imports_of(app).values()), f"{app} no longer imports {name}"


def test_the_test_sees_a_wrong_import(tmp_path, monkeypatch):
    """The check itself can fail: a jobs module importing approvals is reported."""
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "bad.py").write_text("def f():\n    from approvals.models import Job\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert imports_of("jobs") == {"jobs/bad.py": {"approvals"}}
