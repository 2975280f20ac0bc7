import pytest

from chat.realtime.origin import normalize_origin, origin_allowed

ALLOWED = ["http://127.0.0.1:8000", "http://localhost:8000", "https://chat.example.com"]


@pytest.mark.parametrize(
    "origin",
    [
        "http://127.0.0.1:8000",
        "http://LOCALHOST:8000",
        "https://chat.example.com:443",
        "https://chat.example.com",
    ],
)
def test_origin_on_the_list_is_allowed(origin):
    assert origin_allowed(origin, ALLOWED)


@pytest.mark.parametrize(
    "origin",
    [
        None,
        "",
        "null",
        "http://127.0.0.1:8001",
        "https://127.0.0.1:8000",
        "http://chat.example.com",
        "https://evil.chat.example.com",
        "https://chat.example.com.evil.net",
        "https://chat.example.com/path",
        "https://user@chat.example.com",
        "http://127.0.0.1:notaport",
        "http://127.0.0.1:99999",
        "ftp://chat.example.com",
    ],
)
def test_origin_differing_in_scheme_host_or_port_is_refused(origin):
    assert not origin_allowed(origin, ALLOWED)


def test_normalize_origin_makes_default_ports_explicit():
    assert normalize_origin("https://Chat.Example.com") == "https://chat.example.com:443"
    assert normalize_origin("http://[::1]:8000") == "http://[::1]:8000"
