"""The catalogues (translations/): English is complete, and every string the sources wrap is in both
catalogues. The pages in two languages: tests/integration/test_i18n.py."""
from __future__ import annotations

from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from tests.conftest import ROOT

TRANSLATIONS = ROOT / "translations"
EN_PO = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po"
FR_PO = TRANSLATIONS / "fr" / "LC_MESSAGES" / "messages.po"


def _read(po: Path):
    with po.open("rb") as f:
        return read_po(f)


def test_english_catalogue_is_complete():
    catalog = _read(EN_PO)
    # A plural's string is a tuple: ('', '') is untranslated too.
    untranslated = [m.id for m in catalog if m.id and not (all(m.string) if isinstance(m.string, tuple) else m.string)]
    assert not untranslated, f"English translation missing for: {untranslated}"
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert not fuzzy, f"Fuzzy English translations (gettext ignores them): {fuzzy}"
    placeholder_errors = [(m.id, [str(e) for e in errors]) for m, errors in catalog.check()]
    assert not placeholder_errors, placeholder_errors


def test_catalogues_match_the_sources():
    """A string wrapped in the code but missing from the catalogues would stay French in English."""
    with (ROOT / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    keywords = dict(DEFAULT_KEYWORDS, _l=None)
    in_sources = {message[2] if isinstance(message[2], str) else message[2][0]
                  for message in extract_from_dir(str(ROOT), method_map, options_map, keywords=keywords)}
    for po in (EN_PO, FR_PO):
        in_catalogue = {m.id if isinstance(m.id, str) else m.id[0] for m in _read(po) if m.id}
        missing = in_sources - in_catalogue
        assert not missing, f"Run pybabel extract/update: not in {po.relative_to(ROOT)}: {sorted(missing)}"
