"""The chat page's client config: what the browser needs before its first request."""

import json
import re

from django.contrib.staticfiles import finders
from django.templatetags.static import static

from tests.factories import RoomFactory


def client_config(html: str) -> dict:
    tag = re.search(r'<script id="parley-config" type="application/json">(.*?)</script>', html)
    return json.loads(tag.group(1))


def test_the_room_page_names_the_emoji_data_it_fetches_on_first_use(client, user):
    room = RoomFactory(members=[user])
    client.force_login(user)
    response = client.get(f"/rooms/{room.pk}/")
    assert response.status_code == 200
    config = client_config(response.content.decode())
    assert config["emoji_url"] == static("chat/emoji.json")
    assert finders.find("chat/emoji.json")
