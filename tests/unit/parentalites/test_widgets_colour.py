"""The widgets' colour (parentalites/widgets.py): one function gives it, and the text on it is
whichever of black and white reads better."""
from __future__ import annotations

from parentalites.widgets import DEFAULT_COLOUR, network_colour, text_on


def test_the_network_colour_is_a_css_hex_colour():
    assert network_colour() == DEFAULT_COLOUR == "#7a1f5c"


def test_text_on_a_colour_is_readable():
    assert text_on("#7a1f5c") == "#ffffff"   # the network's plum: white text
    assert text_on("#ffe066") == "#1f2933"   # a light yellow: dark text
    assert text_on("#000000") == "#ffffff" and text_on("#ffffff") == "#1f2933"
