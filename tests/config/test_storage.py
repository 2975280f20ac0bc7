import re

from django.core.management import call_command


def test_collectstatic_rewrites_module_imports_to_hashed_names(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "config.storage.StaticStorage"},
    }
    call_command("collectstatic", "--noinput", verbosity=0)
    [app] = [
        p
        for p in (tmp_path / "chat").glob("app.*.js")
        if re.fullmatch(r"app\.[0-9a-f]{12}\.js", p.name)
    ]
    imports = re.findall(r'from "\./([^"]+)"', app.read_text())
    assert imports
    assert all(re.fullmatch(r"[a-z0-9]+\.[0-9a-f]{12}\.js", name) for name in imports), imports
    assert (tmp_path / "chat" / f"{app.name}.gz").exists() or (
        tmp_path / "chat" / f"{app.name}.br"
    ).exists()
