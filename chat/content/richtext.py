"""Message bodies rendered to sanitised HTML, on the server.

Rendering here rather than in each client means every client shows the same HTML, and
the one place that turns user text into markup is also the one place that makes it safe:
a small Markdown subset parsed with raw HTML off, then nh3 with an explicit allow-list.
"""

import re
from collections.abc import Set
from html.parser import HTMLParser
from urllib.parse import urlsplit

import nh3
from linkify_it import LinkifyIt
from linkify_it.main import Match
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from markdown_it.utils import OptionsDict

MENTION_RE = re.compile(r"(?<!\w)@([\w.+-]{1,150})(?![\w.+-])")
SAFE_URL_RE = re.compile(r"(?:https?|mailto):", re.IGNORECASE)
# A body Markdown leaves as one paragraph of text: it starts with a letter (no list
# marker) and holds no newline, no inline markup (`*_~[]\\@`), no `:` (so no scheme,
# hence no link unless it has "www."), and no character the sanitiser rewrites.
_PLAIN_MARK = r"[!\"#$%&'()+,\-./;<=>?|^{}]"
PLAIN_RE = re.compile(rf"[^\W\d_](?:(?:[^\W_]|{_PLAIN_MARK}| )*(?:[^\W_]|{_PLAIN_MARK}))?")

ALLOWED_TAGS = frozenset(
    {"a", "blockquote", "br", "code", "em", "li", "ol", "p", "pre", "s", "span", "strong", "ul"}
)
ALLOWED_ATTRIBUTES = {"*": set(), "a": {"href"}, "ol": {"start"}, "span": {"data-username"}}
ALLOWED_CLASSES = {"span": {"mention"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer nofollow"


class _ChatLinkify(LinkifyIt):
    """linkify-it, but a link without a scheme must start with www.

    Bare host names are left alone so that `utils.py` or `README.md` stay file names.
    """

    def match(self, text: str) -> list[Match] | None:
        found = [
            link
            for link in super().match(text) or []
            if link.schema or link.raw.lower().startswith("www.")
        ]
        return found or None


# A host as browsers and the sanitiser read it: letters (any script), digits, "-", "." or
# an IPv6 address. Python's urlsplit takes more ("%5c", "\\"), where they find no host.
HOST_RE = re.compile(r"[\w.-]+|[0-9a-f:.]+")


def _validate_link(url: str) -> bool:
    """A safe scheme and, for the web, a host: the sanitiser drops an href it cannot
    parse, and a link with no target is worse than plain text."""
    if SAFE_URL_RE.match(url) is None:
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.scheme.lower() == "mailto":
        return True
    return bool(parts.hostname) and HOST_RE.fullmatch(parts.hostname) is not None


def _split_mentions(text: str, level: int) -> list[Token]:
    tokens = []
    last = 0
    for match in MENTION_RE.finditer(text):
        name = match.group(1).rstrip(".")
        if not name:
            continue
        if match.start() > last:
            tokens.append(Token("text", "", 0, content=text[last : match.start()], level=level))
        tokens.append(
            Token("mention", "span", 0, content="@" + name, level=level, meta={"username": name})
        )
        last = match.start() + 1 + len(name)
    if last < len(text):
        tokens.append(Token("text", "", 0, content=text[last:], level=level))
    return tokens


def _mentions_rule(state: StateCore) -> None:
    """Split `@name` out of text tokens, outside code and link text, into mention tokens."""
    for block in state.tokens:
        if block.type != "inline" or not block.children or "@" not in block.content:
            continue
        children: list[Token] = []
        link_depth = 0
        for token in block.children:
            if token.type == "link_open":
                link_depth += 1
            elif token.type == "link_close":
                link_depth -= 1
            if token.type == "text" and not link_depth and "@" in token.content:
                children.extend(_split_mentions(token.content, token.level))
            else:
                children.append(token)
        block.children = children


def _render_mention(
    renderer: RendererHTML, tokens: list[Token], idx: int, options: OptionsDict, env: dict
) -> str:
    name = tokens[idx].meta["username"]
    if name not in env["mentions"]:
        return escapeHtml(tokens[idx].content)
    name = escapeHtml(name)
    return f'<span class="mention" data-username="{name}">@{name}</span>'


_md = MarkdownIt("zero", {"html": False, "breaks": True, "linkify": True}).enable(
    [
        "autolink",
        "backticks",
        "blockquote",
        "emphasis",
        "escape",
        "fence",
        "link",
        "linkify",
        "list",
        "newline",
        "strikethrough",
    ]
)
_md.linkify = _ChatLinkify(options={"fuzzy_link": True, "fuzzy_email": False})
_md.validateLink = _validate_link
_md.core.ruler.push("mentions", _mentions_rule)
_md.add_render_rule("mention", _render_mention)

_cleaner = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags={"script", "style"},
    attributes=ALLOWED_ATTRIBUTES,
    allowed_classes=ALLOWED_CLASSES,
    link_rel=LINK_REL,
    set_tag_attribute_values={"a": {"target": "_blank"}},
    url_schemes=set(URL_SCHEMES),
    url_relative="deny",
    strip_comments=True,
)


def render_html(body: str, mentions: Set[str] = frozenset()) -> str:
    """The sanitised HTML for a message body; `@name` is highlighted for names in `mentions`.

    Most chat messages are plain text: for those the parser and the sanitiser would
    only escape `&<>` in it and wrap it in a paragraph, so that is done directly, several
    times faster (tests/chat/test_richtext.py proves it is the same HTML).
    """
    if PLAIN_RE.fullmatch(body) and "www." not in body.lower():
        text = body.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return f"<p>{text}</p>"
    return render_markdown(body, mentions)


def render_markdown(body: str, mentions: Set[str] = frozenset()) -> str:
    """render_html without its plain-text shortcut: the parser, then the sanitiser."""
    return _cleaner.clean(_md.render(body, {"mentions": mentions})).strip()


def mention_usernames(body: str) -> set[str]:
    """The usernames `@mentioned` in a body, leaving out code and link text."""
    return {
        token.meta["username"]
        for block in _md.parse(body, {})
        if block.type == "inline" and block.children
        for token in block.children
        if token.type == "mention"
    }


# The tags after which rendered text goes on on a new line.
_LINE_ENDS = frozenset({"blockquote", "br", "li", "ol", "p", "pre", "ul"})


class _TextLines(HTMLParser):
    """The text of rendered HTML as people read it: entities decoded, a line per block."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _LINE_ENDS:
            self.parts.append("\n")


def first_line(html: str) -> str:
    """The first line of text a message shows (its rendered `html` as plain text, not its
    Markdown): what a reply quotes of it."""
    reader = _TextLines()
    reader.feed(html)
    reader.close()
    lines = "".join(reader.parts).split("\n")
    return next((line.strip() for line in lines if line.strip()), "")
