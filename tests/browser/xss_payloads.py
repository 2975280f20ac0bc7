"""Hostile text for the browser tests: each payload, if it ever ran, would call
`parleyXss(n)` (or `alert(n)`), which the tests watch for. Every payload fits in a
display name (64 characters) and has no Markdown emphasis, so it must show exactly
as typed wherever the client or a page renders it."""

PAYLOADS = [
    "<script>parleyXss(1)</script>",
    "<img src=x onerror=parleyXss(2)>",
    "<svg onload=parleyXss(3)>",
    "<svg><script>parleyXss(4)</script></svg>",
    '<iframe src="javascript:parleyXss(5)"></iframe>',
    "<body onload=parleyXss(6)>",
    '<a href="javascript:parleyXss(7)">click me</a>',
    "javascript:parleyXss(8)",
    '"><script>parleyXss(9)</script>',
    "'><img src=x onerror=parleyXss(10)>",
    "</textarea><script>parleyXss(11)</script>",
    "</title><script>parleyXss(12)</script>",
    "<details open ontoggle=parleyXss(13)>",
    "<input autofocus onfocus=parleyXss(14)>",
    "<video><source onerror=parleyXss(15)></video>",
    "<math><mtext><img src=x onerror=parleyXss(16)>",
    "<b onmouseover=parleyXss(17)>hover me</b>",
    "{{constructor.constructor('parleyXss(18)')()}}",
    "${parleyXss(19)}",
    '<object data="javascript:parleyXss(20)"></object>',
    '<embed src="javascript:parleyXss(21)">',
    "<form><button formaction=javascript:parleyXss(22)>go",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(23)">',
    "<marquee onstart=parleyXss(24)>moving</marquee>",
    '<img src="x" onerror="alert(25)">',
    "<svg><animate onbegin=alert(26) attributeName=x>",
    "[link](javascript:alert(27))",
    '<div style="background:url(javascript:parleyXss(28))">',
    "<x contenteditable onblur=parleyXss(29)>x</x>",
    '<base href="javascript:parleyXss(30)//">',
    "%3Cscript%3EparleyXss(31)%3C/script%3E",
    "<scr<script>ipt>parleyXss(32)</scr</script>ipt>",
    "<<SCRIPT>parleyXss(33);//<</SCRIPT>",
    "<IMG SRC=JaVaScRiPt:parleyXss(34)>",
    "<a href=data:text/html,<script>parleyXss(35)</script>>x",
    '<img src=x onerror="this.remove();parleyXss(36)">',
]

# Watches for a payload that runs: installed before any page script.
TRAP_SCRIPT = """
window.parleyXssFired = [];
window.parleyXss = (n) => {
    window.parleyXssFired.push(n);
    console.error(`XSS payload ${n} ran`);
};
"""

# Elements with an inline event handler, and script elements that are not Parley's own.
INJECTED_JS = """() => {
    const hasHandler = (node) => node.getAttributeNames().some((name) => name.startsWith("on"));
    const ours = (script) =>
        script.type === "application/json" ||
        (script.src && new URL(script.src).pathname.startsWith("/static/"));
    return {
        handlers: [...document.querySelectorAll("*")].filter(hasHandler)
            .map((node) => node.outerHTML.slice(0, 80)),
        scripts: [...document.scripts].filter((script) => !ours(script))
            .map((script) => script.outerHTML.slice(0, 80)),
        fired: window.parleyXssFired,
    };
}"""
