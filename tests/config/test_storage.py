import re

from django.core.management import call_command

HASHED = re.compile(r"[a-z0-9]+\.[0-9a-f]{12}\.js")


def collect(settings, root) -> None:
    settings.STATIC_ROOT = root
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "config.storage.StaticStorage"},
    }
    call_command("collectstatic", "--noinput", verbosity=0)


def test_collectstatic_rewrites_module_imports_to_hashed_names(settings, tmp_path):
    collect(settings, tmp_path)
    [app] = [
        p
        for p in (tmp_path / "chat").glob("app.*.js")
        if re.fullmatch(r"app\.[0-9a-f]{12}\.js", p.name)
    ]
    imports = re.findall(r'from "\./([^"]+)"', app.read_text())
    assert imports
    assert all(HASHED.fullmatch(name) for name in imports), imports
    assert (tmp_path / "chat" / f"{app.name}.gz").exists() or (
        tmp_path / "chat" / f"{app.name}.br"
    ).exists()


def test_a_deep_chain_of_imports_is_hashed_to_its_end(settings, tmp_path):
    """Each level of imports takes a pass; the client's chain is deeper than Django's five."""
    source = tmp_path / "source"
    (source / "deep").mkdir(parents=True)
    depth = 15
    for level in range(depth):
        imports = (
            f'import {{ x{level + 1} }} from "./m{level + 1}.js";\n' if level + 1 < depth else ""
        )
        (source / "deep" / f"m{level}.js").write_text(
            f"{imports}export const x{level} = {level};\n"
        )
    settings.STATICFILES_DIRS = [source]
    collect(settings, tmp_path / "static")
    [top] = [p for p in (tmp_path / "static" / "deep").glob("m0.*.js") if HASHED.fullmatch(p.name)]
    assert HASHED.fullmatch(re.search(r'from "\./([^"]+)"', top.read_text()).group(1))
