"""The emoji picker's data: up to date with the `emoji` package, and all of it reactable."""

import json

import pytest

from chat.management.commands.build_emoji import OUT, picker_data
from chat.services.cleaning import clean_emoji

SHIPPED = json.loads(OUT.read_text())


def test_the_shipped_file_is_what_build_emoji_writes_today():
    assert json.loads(json.dumps(picker_data())) == SHIPPED, "run manage.py build_emoji"


def test_it_carries_the_attribution_its_licences_ask_for():
    assert "New BSD License" in SHIPPED["attribution"]
    assert "Unicode License" in SHIPPED["attribution"]


def test_every_emoji_and_skin_tone_it_offers_is_accepted_as_a_reaction_unchanged():
    offered = [row[0] for row in SHIPPED["emoji"]]
    offered += [tone for row in SHIPPED["emoji"] for tone in row[4]]
    assert len(offered) > 3000
    assert [clean_emoji(emoji) for emoji in offered] == offered


@pytest.mark.parametrize(
    ("emoji", "english", "german", "aliases"),
    [
        ("👍", "thumbs up", "daumen hoch", ["thumbsup", "+1"]),
        ("❤️", "red heart", "rotes herz", ["heart"]),
    ],
)
def test_names_are_given_in_english_and_german_with_aliases(emoji, english, german, aliases):
    row = next(row for row in SHIPPED["emoji"] if row[0] == emoji)
    assert row[1:4] == [english, german, aliases]


def test_skin_tones_come_with_their_base_emoji_and_not_as_rows_of_their_own():
    rows = {row[0]: row for row in SHIPPED["emoji"]}
    assert rows["👍"][4] == ["👍🏻", "👍🏼", "👍🏽", "👍🏾", "👍🏿"]
    assert "👍🏽" not in rows and "🏻" not in rows
    assert rows["🎉"][4] == []
