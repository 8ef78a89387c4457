"""Hostile input: XSS payloads, and what "nothing survived" means for an HTML page or a text part,
checked with an HTML parser (what a browser or a mail client would build, not how the text looks).
Used by tests/unit/core/test_text.py (the sanitizer alone) and
tests/integration/contributions/test_hostile_input.py (every field, every output)."""
from __future__ import annotations

import re
from html.parser import HTMLParser

XSS_PAYLOADS = [
    # Script elements, in every case and shape
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
    "<ScRiPt>alert(document.cookie)</sCrIpT>",
    "<<script>script>alert(1)<</script>/script>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<script\x00>alert(1)</script>",
    # Event handlers
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=x OnErRoR=alert(1)>",
    "<svg onload=alert(1)>",
    "<body onload=alert(1)>",
    "<input onfocus=alert(1) autofocus>",
    "<details open ontoggle=alert(1)>x</details>",
    "<marquee onstart=alert(1)>x</marquee>",
    "<video><source onerror=alert(1)></video>",
    "<a href=\"https://ok.example\" onclick=\"alert(1)\">x</a>",
    "<x onclick=alert(1)>clic</x>",
    # Dangerous URLs in HTML links and images, plain, mixed-case, entity-encoded
    "<a href=\"javascript:alert(1)\">x</a>",
    "<a href=\"JaVaScRiPt:alert(1)\">x</a>",
    "<a href=\"&#x6A;avascript:alert(1)\">x</a>",
    "<a href=\"jav&#x09;ascript:alert(1)\">x</a>",
    "<a href='vbscript:msgbox(1)'>x</a>",
    "<a href=\"data:text/html,<script>alert(1)</script>\">x</a>",
    "<IMG SRC=\"javascript:alert('XSS');\">",
    "<img src=&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)>",
    "<img src=\"data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+\">",
    "<table background=\"javascript:alert(1)\"><tr><td>x</td></tr></table>",
    # SVG and MathML
    "<svg><script>alert(1)</script></svg>",
    "<svg><a xlink:href=\"javascript:alert(1)\"><text x=\"20\" y=\"20\">x</text></a></svg>",
    "<math><mi xlink:href=\"javascript:alert(1)\">x</mi></math>",
    # Style injection
    "<div style=\"background:url(javascript:alert(1))\">x</div>",
    "<p style=\"width:expression(alert(1))\">x</p>",
    "<a href=\"https://ok.example/\" style=\"position:fixed;top:0;left:0;width:100%;height:100%\">x</a>",
    "<style>@import 'https://evil.example/x.css'; body{display:none}</style>",
    "<link rel=stylesheet href=https://evil.example/x.css>",
    # Frames, objects, forms, meta, base
    "<iframe src=\"javascript:alert(1)\"></iframe>",
    "<iframe srcdoc=\"<script>alert(1)</script>\"></iframe>",
    "<object data=\"javascript:alert(1)\"></object>",
    "<embed src=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">",
    "<form action=\"javascript:alert(1)\"><input type=submit></form>",
    "<button formaction=\"javascript:alert(1)\">x</button>",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
    "<base href=\"javascript:alert(1)//\">",
    # Markdown links and images with dangerous URLs
    "[clic](javascript:alert(1))",
    "[clic](JAVASCRIPT:alert(1))",
    "[clic](  javascript:alert(1)  )",
    "[clic](java&#x09;script:alert(1))",
    "[clic](&#106;avascript:alert(1))",
    "[clic](vbscript:msgbox(1))",
    "[clic](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](javascript:alert(1))",
    "![x](https://evil.example/x.png \"titre\" onerror=alert(1))",
    "[x](https://ok.example \"t\\\" onmouseover=\\\"alert(1)\")",
    "<javascript:alert(1)>",
    "[a][ref]\n\n[ref]: javascript:alert(1)",
    "| a |\n|---|\n| <img src=x onerror=alert(1)> |",
    "`<script>alert(1)</script>`",
    # Broken tags and breaking out of the page's own markup
    "<img src=x onerror=alert(1)//",
    "<a href=\"javascript:alert(1)\"",
    "\"><script>alert(1)</script>",
    "'><img src=x onerror=alert(1)>",
    "</textarea><script>alert(1)</script>",
    "</title><script>alert(1)</script>",
    "<!--<script>alert(1)</script>-->",
    "<![CDATA[<script>alert(1)</script>]]>",
    # The letter is MJML: markup of its own must not get through either
    "<mj-raw><script>alert(1)</script></mj-raw>",
    "</mj-text><mj-raw><img src=x onerror=alert(1)></mj-raw><mj-text>",
]

# Elements no partner text may create. Forms, inputs and <link> belong to the pages themselves
# (log-out button, style sheet): an injected one is caught by its handler or URL instead.
DANGEROUS_ELEMENTS = {"script", "iframe", "frame", "frameset", "object", "embed", "applet", "base", "svg",
                      "math", "video", "audio", "source", "marquee", "style", "mj-raw", "x"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "background", "poster",
                  "srcset", "lowsrc", "dynsrc", "codebase", "cite", "longdesc", "usemap", "srcdoc", "content"}
BAD_SCHEME = re.compile(r"^\s*(javascript|vbscript|data|livescript|mocha)\s*:", re.I)


class Audit(HTMLParser):
    """What a browser would build: elements, attributes, and whether a comment or a declaration
    appears (neither may come from a partner)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str, str]] = []
        self.comments: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes.extend((tag, name, value or "") for name, value in attrs)

    handle_startendtag = handle_starttag

    def handle_comment(self, data):
        self.comments.append(data)


def audit(html: str) -> Audit:
    parser = Audit()
    parser.feed(html)
    parser.close()
    return parser


def assert_clean(html: str, where: str, *, allowed_styles: frozenset[str] = frozenset(),
                 allowed_tags: frozenset[str] = frozenset(), allowed_comments: frozenset[str] = frozenset()):
    parsed = audit(html)
    bad_tags = (set(parsed.tags) & DANGEROUS_ELEMENTS) - allowed_tags
    assert not bad_tags, f"{where}: element(s) {bad_tags} survived"
    for tag, name, value in parsed.attributes:
        assert not re.fullmatch(r"on\w+", name, re.I), f"{where}: handler {name}={value!r} on <{tag}>"
        if name == "style":
            assert value in allowed_styles, f"{where}: style={value!r} on <{tag}>"
        if name in URL_ATTRIBUTES:
            squeezed = re.sub(r"[\x00-\x20]", "", value)
            assert not BAD_SCHEME.match(squeezed), f"{where}: {name}={value!r} on <{tag}>"
        if tag == "meta":
            assert name != "http-equiv" or value.lower() != "refresh", f"{where}: meta refresh"
    unexpected_comments = [c for c in parsed.comments if c not in allowed_comments]
    assert not any("script" in c.lower() for c in unexpected_comments), f"{where}: comment {unexpected_comments}"
    return parsed


def assert_clean_text(text: str, where: str):
    """A text/plain part carries no markup at all, so that no client can build an element from it."""
    parsed = audit(text)
    assert parsed.tags == [] and parsed.comments == [], f"{where}: markup in the text part: {parsed.tags}"
    for line in text.splitlines():
        if "En savoir plus :" in line or "(PDF) :" in line:
            assert re.search(r": https?://", line), f"{where}: {line!r}"
