"""A site's address (PUBLIC_URL) read as its host and origin (config/origins.py)."""

import pytest

from config.origins import Site, site_of


@pytest.mark.parametrize(
    ("url", "host", "origin"),
    [
        ("https://parley-demo.herokuapp.com", "parley-demo.herokuapp.com", None),
        ("https://Chat.Example.com/", "chat.example.com", "https://chat.example.com"),
        ("https://chat.example.com:443", "chat.example.com", "https://chat.example.com"),
        ("https://chat.example.com:8443", "chat.example.com", "https://chat.example.com:8443"),
        ("http://192.168.1.20:8000", "192.168.1.20", "http://192.168.1.20:8000"),
        ("http://chat.lan:80", "chat.lan", "http://chat.lan"),
        ("https://[2001:db8::1]", "[2001:db8::1]", "https://[2001:db8::1]"),
    ],
)
def test_a_site_address_gives_its_host_and_the_origin_a_browser_sends(url, host, origin):
    assert site_of(url) == Site(host, origin or url)


@pytest.mark.parametrize(
    "url",
    [
        "",
        "parley-demo.herokuapp.com",
        "//parley-demo.herokuapp.com",
        "https://",
        "ftp://parley-demo.herokuapp.com",
        "wss://parley-demo.herokuapp.com",
        "https://parley-demo.herokuapp.com/chat",
        "https://parley-demo.herokuapp.com/?next=/",
        "https://parley-demo.herokuapp.com/#top",
        "https://admin@parley-demo.herokuapp.com",
        "https://parley-demo.herokuapp.com:99999",
    ],
)
def test_anything_but_an_absolute_http_address_is_no_site(url):
    assert site_of(url) is None
