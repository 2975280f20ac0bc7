"""The bench serves a tree as a deployment has it: its bytecode compiled."""

import importlib.util
import sysconfig
from pathlib import Path

from bench import servers


def test_the_served_tree_and_its_packages_are_compiled_but_not_what_else_a_checkout_holds(
    tmp_path, monkeypatch
):
    tree, packages = tmp_path / "tree", tmp_path / "site-packages"
    for module in (
        tree / "chat" / "views.py",
        tree / ".venv" / "lib" / "x.py",
        tree / "node_modules" / "y.py",
        packages / "django" / "db.py",
    ):
        module.parent.mkdir(parents=True, exist_ok=True)
        module.write_text("VALUE = 1\n")
    monkeypatch.setattr(sysconfig, "get_paths", lambda: {"purelib": str(packages)})
    monkeypatch.setattr(servers, "_compiled", set())

    servers.compile_bytecode(tree)

    def cached(module):
        return Path(importlib.util.cache_from_source(str(module))).exists()

    assert cached(tree / "chat" / "views.py")
    assert cached(packages / "django" / "db.py")
    assert not cached(tree / ".venv" / "lib" / "x.py")
    assert not cached(tree / "node_modules" / "y.py")
    assert servers._compiled == {tree}
