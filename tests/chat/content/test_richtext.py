import re
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chat.content.richtext import (
    ALLOWED_TAGS,
    LINK_REL,
    PLAIN_RE,
    mention_usernames,
    render_html,
    render_markdown,
)

SAFE_HREF_RE = re.compile(r"(?:https?|mailto):", re.IGNORECASE)
ATTRIBUTES_ALLOWED = {
    "a": {"href", "target", "rel"},
    "ol": {"start"},
    "span": {"class", "data-username"},
}


class Parsed(HTMLParser):
    """The tags, attributes and visible text of a rendered body."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text = ""
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text += data

    def hrefs(self) -> list[str | None]:
        return [attrs.get("href") for tag, attrs in self.tags if tag == "a"]


def assert_safe(html: str) -> Parsed:
    parsed = Parsed(html)
    assert "<script" not in html.lower()
    for tag, attrs in parsed.tags:
        assert tag in ALLOWED_TAGS
        assert set(attrs) <= ATTRIBUTES_ALLOWED.get(tag, set())
        assert not [name for name in attrs if name.startswith("on")]
        if tag == "span":
            assert attrs["class"] == "mention"
    for href in parsed.hrefs():
        assert href is not None
        assert SAFE_HREF_RE.match(href)
    return parsed


XSS_SHOWN_AS_TEXT = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    '"><script>alert(document.cookie)</script>',
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=x OnErRoR=alert(1)>",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<iframe src="javascript:alert(1)"></iframe>',
    "<style>body{background:url(javascript:alert(1))}</style>",
    '<div style="width:expression(alert(1))">x</div>',
    "<body onload=alert(1)>",
    '<details open ontoggle="alert(1)">',
    '<object data="javascript:alert(1)"></object>',
    '<form action="javascript:alert(1)"><button>go</button></form>',
    '<base href="javascript:alert(1)//">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<a href="javascript:alert(1)">x</a>',
    '<a href="&#x6A;avascript:alert(1)">x</a>',
    "<a href=x onmouseover=alert(1)>hover</a>",
    "<!--<script>alert(1)//-->",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&#60;script&#62;alert(1)&#60;/script&#62;",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](javascript&#58;alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](jav&#x09;ascript:alert(1))",
    "[click](java\tscript:alert(1))",
    "[click](<javascript:alert(1)>)",
    '[click](javascript:alert(1) "title")',
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click](DATA:text/html,<script>alert(1)</script>)",
    "[click](vbscript:msgbox(1))",
    "[click](VBScript:msgbox(1))",
    "[click](file:///etc/passwd)",
    "[click](/relative/path)",
    "[click](//evil.example/)",
    "![x](javascript:alert(1))",
    "<javascript:alert(1)>",
    "<JAVASCRIPT:alert(1)>",
    "<vbscript:msgbox(1)>",
    "<data:text/html,<script>alert(1)</script>>",
    "javascript:alert(1)",
]

XSS_INSIDE_MARKUP = [
    '[x](http://example.com"onclick="alert(1))',
    '[x](http://example.com "t\\" onmouseover=\\"alert(1)")',
    "[x](http://example.com/<img src=x onerror=alert(1)>)",
    "http://example.com/<script>alert(1)</script>",
    'www.example.com/"onmouseover="alert(1)',
    "https://example.com/?q=<svg/onload=alert(1)>",
    "`<script>alert(1)</script>`",
    "```html\n<script>alert(1)</script>\n<img src=x onerror=alert(1)>\n```",
    "> <iframe src=javascript:alert(1)>",
    "- <svg onload=alert(1)>\n- **<b onclick=alert(1)>bold</b>**",
    "[<img src=x onerror=alert(1)>](https://example.com)",
]


def test_xss_corpus_is_large_enough():
    assert len(XSS_SHOWN_AS_TEXT) + len(XSS_INSIDE_MARKUP) >= 30


@pytest.mark.parametrize("payload", XSS_SHOWN_AS_TEXT)
def test_xss_payload_renders_as_harmless_visible_text(payload):
    parsed = assert_safe(render_html(payload))
    assert [tag for tag, _ in parsed.tags] == ["p"]
    assert parsed.text == payload


@pytest.mark.parametrize("payload", XSS_INSIDE_MARKUP)
def test_xss_payload_inside_markdown_markup_is_neutralised(payload):
    html = render_html(payload)
    assert_safe(html)
    assert not re.search(r"<[^>]*\son\w+\s*=", html, re.IGNORECASE)


def test_quote_in_link_destination_stays_inside_the_href():
    parsed = assert_safe(render_html('[x](http://example.com/a"onclick="alert(1))'))
    tag, attrs = parsed.tags[1]
    assert tag == "a"
    assert set(attrs) == {"href", "target", "rel"}
    assert attrs["href"] == "http://example.com/a%22onclick=%22alert(1)"


def test_quote_in_a_link_host_leaves_the_markdown_link_text():
    """No browser reads `example.com%22onclick=…` as a host: the Markdown link stays
    text, in which only the plain address before the quote is linked."""
    parsed = assert_safe(render_html('[x](http://example.com"onclick="alert(1))'))
    assert [tag for tag, _attrs in parsed.tags] == ["p", "a"]
    assert parsed.tags[1][1]["href"] == "http://example.com"


def test_mention_username_is_escaped_and_carries_nothing_else():
    parsed = assert_safe(render_html('@bob"onmouseover=alert(1)', {"bob"}))
    assert parsed.tags[1] == ("span", {"class": "mention", "data-username": "bob"})


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "<",
                ">",
                '"',
                "'",
                "&",
                "#",
                ";",
                ":",
                "(",
                ")",
                "[",
                "]",
                "`",
                "*",
                "_",
                "~",
                "\n",
                " ",
                "\\",
                "!",
                "=",
                "@bob",
                "javascript",
                "data",
                "http://",
                "www.",
                "onerror",
                "script",
                "img",
                "a",
                "x",
            ]
        ),
        max_size=40,
    ).map("".join)
)
def test_any_mix_of_markup_characters_renders_only_allowed_markup(body):
    assert_safe(render_html(body, {"bob"}))


@pytest.mark.parametrize("body", ["<http://\\>", "<http://%5c>", "[x](http://\\)"])
def test_a_link_whose_host_a_browser_reads_differently_stays_text(body):
    """Found by the test above: `http://\\` (`http://%5C` once normalised) has a host
    for Python's urlsplit but none for a browser, so the sanitiser dropped the href and
    left an empty link."""
    html = render_html(body)
    assert_safe(html)
    assert "<a" not in html


def test_plain_text_renders_as_a_single_paragraph():
    assert render_html("hello there") == "<p>hello there</p>"


PLAIN_BODIES = [
    "hello there",
    "bench 3 1700000000123",
    "it's ok, see you at 5 (or 6)!",
    'she said "no" & left <quietly> - 100% sure?',
    "Q&A a &copy; b x &#65; y",
    "and/or a.b.c e.g. this; x = y + z | {braces} ^ $5 #tag",
    "Ünïcode İstanbul ﬁ ½ 東京",
    "a  b",
]


@pytest.mark.parametrize("body", PLAIN_BODIES)
def test_plain_text_shortcut_is_taken_and_gives_the_markdown_html(body):
    assert PLAIN_RE.fullmatch(body)
    assert render_html(body) == render_markdown(body)


@pytest.mark.parametrize(
    "body",
    [
        "1. item",
        "- item",
        "> quote",
        "a *b*",
        "a_b_",
        "see https://example.com",
        "see www.example.com",
        "hi @bob",
        "a\nb",
        "a ~~b~~",
        "a `b`",
        "a [b](c)",
        "trailing ",
        "a\u00a0b",
    ],
)
def test_text_with_markup_or_rewritten_characters_takes_the_full_renderer(body):
    assert render_html(body, {"bob"}) == render_markdown(body, {"bob"})
    assert not PLAIN_RE.fullmatch(body) or "www." in body


PLAIN_CHARACTERS = list("aZé東1 !\"#$%&'()+,-./;<=>?|^{}w")


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.lists(st.sampled_from(PLAIN_CHARACTERS), max_size=30).map("".join),
        st.lists(
            st.sampled_from(PLAIN_CHARACTERS + list("_:*~[]`@\\\n\u00a0") + ["www.", "&amp;"]),
            max_size=30,
        ).map("".join),
    )
)
def test_plain_text_shortcut_never_changes_the_html(body):
    assert render_html(body, {"a"}) == render_markdown(body, {"a"})


def test_empty_body_renders_nothing():
    assert render_html("") == ""


def test_render_is_deterministic():
    body = "**hi** @bob see https://example.com\n- a\n- b"
    assert render_html(body, {"bob"}) == render_html(body, {"bob"})


def test_single_newline_becomes_a_line_break():
    assert render_html("one\ntwo") == "<p>one<br>\ntwo</p>"


def test_blank_line_separates_paragraphs():
    assert render_html("one\n\ntwo") == "<p>one</p>\n<p>two</p>"


def test_emphasis_strong_and_strikethrough():
    assert render_html("*em* **strong** ~~gone~~") == (
        "<p><em>em</em> <strong>strong</strong> <s>gone</s></p>"
    )


def test_backslash_escape_keeps_markdown_characters_literal():
    assert render_html(r"\*not em\*") == "<p>*not em*</p>"


def test_code_span_escapes_its_content():
    assert render_html("`<b>x</b>`") == "<p><code>&lt;b&gt;x&lt;/b&gt;</code></p>"


def test_fenced_code_block_escapes_content_and_drops_the_language_class():
    html = render_html("```js\nif (a < b && c) { x = '<i>' }\n```")
    assert html == ("<pre><code>if (a &lt; b &amp;&amp; c) { x = '&lt;i&gt;' }\n</code></pre>")


def test_code_is_not_linkified_or_mention_highlighted():
    body = "`https://example.com @bob`\n```\nwww.example.com @bob\n```"
    html = render_html(body, {"bob"})
    assert "<a" not in html
    assert "mention" not in html
    assert "https://example.com @bob" in html
    assert "www.example.com @bob" in html


def test_markdown_link_gets_rel_and_target_blank():
    assert render_html("[docs](https://example.com/docs)") == (
        f'<p><a href="https://example.com/docs" target="_blank" rel="{LINK_REL}">docs</a></p>'
    )


def test_link_rel_is_noopener_noreferrer_nofollow():
    assert set(LINK_REL.split()) == {"noopener", "noreferrer", "nofollow"}


def test_link_title_is_dropped():
    parsed = Parsed(render_html('[docs](https://example.com "a title")'))
    assert "title" not in parsed.tags[1][1]


def test_mailto_link_is_kept():
    assert Parsed(render_html("[mail me](mailto:bob@example.com)")).hrefs() == [
        "mailto:bob@example.com"
    ]


def test_angle_bracket_autolink():
    assert Parsed(render_html("<https://example.com>")).hrefs() == ["https://example.com"]


def test_plain_https_url_is_autolinked_with_rel_attributes():
    parsed = Parsed(render_html("see https://example.com/a?b=1 now"))
    assert parsed.tags[1] == (
        "a",
        {"href": "https://example.com/a?b=1", "target": "_blank", "rel": LINK_REL},
    )


def test_plain_http_url_is_autolinked():
    assert Parsed(render_html("http://example.com")).hrefs() == ["http://example.com"]


def test_www_address_is_autolinked_over_http():
    parsed = Parsed(render_html("go to www.example.com"))
    assert parsed.hrefs() == ["http://www.example.com"]
    assert parsed.text == "go to www.example.com"


def test_bare_host_names_and_emails_are_not_autolinked():
    assert "<a" not in render_html("edit utils.py and README.md, mail bob@example.com")


def test_ftp_url_is_not_autolinked():
    assert "<a" not in render_html("ftp://example.com/file")


def test_headings_stay_text():
    assert render_html("# not a heading") == "<p># not a heading</p>"


def test_setext_heading_and_rule_stay_text():
    assert render_html("title\n---") == "<p>title<br>\n---</p>"


def test_image_syntax_does_not_embed_an_image():
    html = render_html("![cat](https://example.com/cat.png)")
    assert "<img" not in html
    assert html.startswith("<p>!")


def test_tables_stay_text():
    assert "<table" not in render_html("| a | b |\n|---|---|\n| 1 | 2 |")


def test_raw_html_is_escaped_as_text():
    assert render_html("<b>bold</b>") == "<p>&lt;b&gt;bold&lt;/b&gt;</p>"


def test_html_entities_are_shown_as_typed():
    assert render_html("&amp; &lt;b&gt;") == "<p>&amp;amp; &amp;lt;b&amp;gt;</p>"


def test_indented_text_is_not_a_code_block():
    assert render_html("    indented") == "<p>indented</p>"


def test_bullet_list():
    assert render_html("- one\n- two") == "<ul>\n<li>one</li>\n<li>two</li>\n</ul>"


def test_numbered_list_keeps_its_start():
    assert render_html("3. three\n4. four") == (
        '<ol start="3">\n<li>three</li>\n<li>four</li>\n</ol>'
    )


def test_block_quote():
    assert render_html("> quoted\n> more") == (
        "<blockquote>\n<p>quoted<br>\nmore</p>\n</blockquote>"
    )


def test_known_mention_is_wrapped_in_a_mention_span():
    assert render_html("hi @bob!", {"bob"}) == (
        '<p>hi <span class="mention" data-username="bob">@bob</span>!</p>'
    )


def test_mention_outside_the_given_set_stays_plain_text():
    assert render_html("hi @bob", {"alice"}) == "<p>hi @bob</p>"


def test_mentions_are_plain_text_by_default():
    assert render_html("hi @bob") == "<p>hi @bob</p>"


def test_mention_trailing_dot_is_not_part_of_the_name():
    assert render_html("thanks @bob.", {"bob"}) == (
        '<p>thanks <span class="mention" data-username="bob">@bob</span>.</p>'
    )


def test_mention_inside_emphasis_and_lists_is_highlighted():
    html = render_html("**@bob**\n\n- @bob", {"bob"})
    assert html.count('<span class="mention" data-username="bob">@bob</span>') == 2


def test_mention_inside_link_text_or_url_is_not_highlighted():
    html = render_html("[@bob](https://example.com) https://example.com/@bob", {"bob"})
    assert "mention" not in html


def test_mention_usernames_finds_each_name_once():
    assert mention_usernames("@alice and @bob, again @alice") == {"alice", "bob"}


def test_mention_usernames_accepts_the_django_username_charset():
    assert mention_usernames("@j.doe+x-y_z @Zoë") == {"j.doe+x-y_z", "Zoë"}


def test_mention_usernames_strips_trailing_dots():
    assert mention_usernames("ask @bob... or @j.doe.") == {"bob", "j.doe"}


def test_mention_usernames_needs_start_or_a_non_word_character_before_the_at():
    assert mention_usernames("@start (@paren) bob@example.com x_@under") == {"start", "paren"}


def test_mention_usernames_ignores_code_spans_and_blocks():
    assert mention_usernames("`@span` @real\n```\n@block\n```") == {"real"}


def test_mention_usernames_ignores_links():
    assert mention_usernames("[@bob](https://example.com) https://example.com/@carol") == set()


def test_mention_usernames_limits_names_to_150_characters():
    assert mention_usernames("@" + "a" * 150) == {"a" * 150}
    assert mention_usernames("@" + "a" * 151) == set()


def test_mention_usernames_ignores_a_lone_at_sign():
    assert mention_usernames("@ @. email me at @") == set()


@pytest.mark.parametrize("body", ["http://#@bob", "[x](http://#)", "<http://#>", "[x](http:)"])
def test_a_url_without_a_host_stays_text_not_an_empty_link(body):
    html = render_html(body, {"bob"})
    assert "<a" not in html
    assert_safe(html)
