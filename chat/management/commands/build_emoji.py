"""Write chat/static/chat/emoji.json, the emoji picker's data, from the `emoji` package.

The server validates reactions against the same package (chat/services/cleaning.py), so
what the picker offers is what the server takes. Run it after upgrading `emoji`.
"""

import json
from importlib.metadata import version
from pathlib import Path

import emoji as emoji_lib
from django.core.management.base import BaseCommand

OUT = Path(__file__).resolve().parents[2] / "static" / "chat" / "emoji.json"
TONES = ("light", "medium-light", "medium", "medium-dark", "dark")
ATTRIBUTION = (
    "Emoji names from the `emoji` Python package (Copyright (c) 2014-2026, Taehoon Kim, "
    "Kevin Wurster; New BSD License), which takes them from Unicode CLDR and emoji data "
    "(Copyright (c) Unicode, Inc.; Unicode License v3)."
)


def _name(data: dict, language: str) -> str:
    return data.get(language, data["en"]).strip(":").replace("_", " ")


def picker_data() -> dict:
    """Every fully-qualified emoji without a skin tone, in code point order, each as
    [emoji, English name, German name, aliases, the five skin-tone forms or []]."""
    emoji_lib.config.load_language("de")
    qualified = {
        data["en"].strip(":"): text
        for text, data in emoji_lib.EMOJI_DATA.items()
        if data["status"] == emoji_lib.STATUS["fully_qualified"]
    }
    toned = {f"{name}_{tone}_skin_tone" for name in qualified for tone in TONES}
    rows = []
    for name, text in qualified.items():
        if "skin_tone" in name and (name in toned or "_skin_tone_" in name):
            continue
        if emoji_lib.EMOJI_DATA[text]["status"] == emoji_lib.STATUS["component"]:
            continue
        data = emoji_lib.EMOJI_DATA[text]
        tones = [qualified.get(f"{name}_{tone}_skin_tone") for tone in TONES]
        aliases = [alias.strip(":") for alias in data.get("alias", [])]
        rows.append(
            [text, _name(data, "en"), _name(data, "de"), aliases, tones if all(tones) else []]
        )
    rows.sort(key=lambda row: [ord(char) for char in row[0]])
    return {"source": f"emoji {version('emoji')}", "attribution": ATTRIBUTION, "emoji": rows}


class Command(BaseCommand):
    help = "Write the emoji picker's data (chat/static/chat/emoji.json) from the emoji package."

    def handle(self, *args, **options) -> None:
        data = picker_data()
        OUT.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n")
        self.stdout.write(f"Wrote {len(data['emoji'])} emoji to {OUT.name}.")
