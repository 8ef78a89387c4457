"""Markdown as the text part of an e-mail (core.text.markdown_to_text, laid out by inscriptis): what a
reader of the text part sees for each structure the sanitizer keeps."""
from __future__ import annotations

from core.text import markdown_to_text

SOURCE = """## Le programme

Bonjour **à toutes et à tous**, voir [le site](https://ok.example/page), <https://ok.example/nu>,
[écrire](mailto:contact@ok.example) et [contact@ok.example](mailto:contact@ok.example).
12 rue des Lilas
93000 Bobigny

- un
- deux
  - deux.un
- trois

1. premier
2. second

> Une citation

```
code
  indenté
```

---

| jour | heure |
|---|---|
| lundi | 9 h |

[relatif](/ailleurs) <script>alert(1)</script>"""

EXPECTED = """Le programme

Bonjour à toutes et à tous, voir le site (https://ok.example/page), https://ok.example/nu,
écrire (mailto:contact@ok.example) et contact@ok.example.
12 rue des Lilas
93000 Bobigny

- un
- deux
  - deux.un
- trois

1. premier
2. second

> Une citation

code
  indenté

----

jour  | heure
lundi | 9 h

relatif <\u200bscript>alert(1)<\u200b/script>"""


def test_markdown_as_text_keeps_the_structure_and_writes_links_out():
    assert markdown_to_text(SOURCE) == EXPECTED


def test_markdown_as_text_of_nothing_is_empty():
    assert markdown_to_text(None) == "" and markdown_to_text("") == "" and markdown_to_text("  \n") == ""
