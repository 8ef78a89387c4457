"""The French départements: the official list (INSEE, Code officiel géographique), 101 entries,
code and name, and `normalize()` that turns what people write into the code.

No package on PyPI ships this list as it is needed: ISO 3166-2 (pycountry) codes Paris "75C",
adds regions and collectivities and names "Guyane (française)". The table is short and stable
(the last change, 2A/2B, dates from 1976); tests/unit/core/test_departements.py holds it to
101 unique codes and names.

`normalize()` accepts:
- a code: "93", "2A" or "2a", "971"; "093" and "02A" too (zero-padded, as in some exports); "1" → "01";
  "20" is refused (Corsica has been two départements since 1976);
- a name, compared without accents, case, hyphens, apostrophes or spaces: "seine saint denis",
  "Cotes d'Armor", "reunion" (an initial article may be left out);
- both: "Seine-Saint-Denis (93)", "93 - Seine-Saint-Denis", "93 Seine-Saint-Denis"; the code and the
  name must then agree.
Anything else gives None: the caller decides (an error for a form, the text kept as written for an
old import).
"""
from __future__ import annotations

import re
import unicodedata

DEPARTEMENTS: dict[str, str] = {
    "01": "Ain", "02": "Aisne", "03": "Allier", "04": "Alpes-de-Haute-Provence", "05": "Hautes-Alpes",
    "06": "Alpes-Maritimes", "07": "Ardèche", "08": "Ardennes", "09": "Ariège", "10": "Aube", "11": "Aude",
    "12": "Aveyron", "13": "Bouches-du-Rhône", "14": "Calvados", "15": "Cantal", "16": "Charente",
    "17": "Charente-Maritime", "18": "Cher", "19": "Corrèze", "2A": "Corse-du-Sud", "2B": "Haute-Corse",
    "21": "Côte-d'Or", "22": "Côtes-d'Armor", "23": "Creuse", "24": "Dordogne", "25": "Doubs", "26": "Drôme",
    "27": "Eure", "28": "Eure-et-Loir", "29": "Finistère", "30": "Gard", "31": "Haute-Garonne", "32": "Gers",
    "33": "Gironde", "34": "Hérault", "35": "Ille-et-Vilaine", "36": "Indre", "37": "Indre-et-Loire",
    "38": "Isère", "39": "Jura", "40": "Landes", "41": "Loir-et-Cher", "42": "Loire", "43": "Haute-Loire",
    "44": "Loire-Atlantique", "45": "Loiret", "46": "Lot", "47": "Lot-et-Garonne", "48": "Lozère",
    "49": "Maine-et-Loire", "50": "Manche", "51": "Marne", "52": "Haute-Marne", "53": "Mayenne",
    "54": "Meurthe-et-Moselle", "55": "Meuse", "56": "Morbihan", "57": "Moselle", "58": "Nièvre", "59": "Nord",
    "60": "Oise", "61": "Orne", "62": "Pas-de-Calais", "63": "Puy-de-Dôme", "64": "Pyrénées-Atlantiques",
    "65": "Hautes-Pyrénées", "66": "Pyrénées-Orientales", "67": "Bas-Rhin", "68": "Haut-Rhin", "69": "Rhône",
    "70": "Haute-Saône", "71": "Saône-et-Loire", "72": "Sarthe", "73": "Savoie", "74": "Haute-Savoie",
    "75": "Paris", "76": "Seine-Maritime", "77": "Seine-et-Marne", "78": "Yvelines", "79": "Deux-Sèvres",
    "80": "Somme", "81": "Tarn", "82": "Tarn-et-Garonne", "83": "Var", "84": "Vaucluse", "85": "Vendée",
    "86": "Vienne", "87": "Haute-Vienne", "88": "Vosges", "89": "Yonne", "90": "Territoire de Belfort",
    "91": "Essonne", "92": "Hauts-de-Seine", "93": "Seine-Saint-Denis", "94": "Val-de-Marne",
    "95": "Val-d'Oise", "971": "Guadeloupe", "972": "Martinique", "973": "Guyane", "974": "La Réunion",
    "976": "Mayotte",
}


def _fold(value: str) -> str:
    """Lower case, no accents, every run of other characters one space: "Côte-d'Or" → "cote d or"."""
    decomposed = unicodedata.normalize("NFKD", value.casefold().replace("œ", "oe"))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^a-z0-9]+", " ", plain).split())


def _name_keys(name: str) -> set[str]:
    folded = _fold(name)
    keys = {folded, folded.replace(" ", "")}
    for article in ("la ", "le ", "les "):  # "Réunion" for "La Réunion"
        if folded.startswith(article):
            keys |= {folded[len(article):], folded[len(article):].replace(" ", "")}
    return keys


_BY_NAME: dict[str, str] = {key: code for code, name in DEPARTEMENTS.items() for key in _name_keys(name)}
_CODE = re.compile(r"^0*(\d{1,3}|[12][ab])$")


def _code(value: str) -> str | None:
    """A code alone, zero padding tolerated: "93", "093", "2a", "02A", "1" → "01"."""
    match = _CODE.match(value.strip().casefold())
    if not match:
        return None
    raw = match.group(1).upper()
    candidate = raw.zfill(2) if raw.isdigit() and len(raw) < 2 else raw
    return candidate if candidate in DEPARTEMENTS else None


def _by_name(value: str) -> str | None:
    folded = _fold(value)
    return _BY_NAME.get(folded) or _BY_NAME.get(folded.replace(" ", ""))


_WITH_CODE = (
    re.compile(r"^(?P<name>.*\S)\s*\(\s*(?P<code>[0-9][0-9abAB]{0,2})\s*\)$"),      # Seine-Saint-Denis (93)
    re.compile(r"^(?P<code>[0-9][0-9abAB]{0,2})\s*[-–—:,]?\s+(?P<name>\D.*)$"),       # 93 - Seine-Saint-Denis
    re.compile(r"^(?P<name>\D.*\S)\s*[-–—:,]\s*(?P<code>[0-9][0-9abAB]{0,2})$"),     # Seine-Saint-Denis - 93
)


def normalize(value: object) -> str | None:
    """The code of the département `value` names, or None when it names none (or two)."""
    if value is None:
        return None
    text = " ".join(str(value).split())
    if not text or len(text) > 80:
        return None
    code = _code(text) or _by_name(text)
    if code:
        return code
    for pattern in _WITH_CODE:
        match = pattern.match(text)
        if match:
            by_code, by_name = _code(match.group("code")), _by_name(match.group("name"))
            return by_code if by_code and by_code == by_name else None
    return None


def name(code: str | None) -> str | None:
    """The official name of a code ("93" → "Seine-Saint-Denis"); None for an unknown code."""
    return DEPARTEMENTS.get(code or "")


def label(value: str | None) -> str:
    """For display: "Seine-Saint-Denis (93)" for a known département, else the value as written."""
    code = normalize(value)
    if code is None:
        return value or ""
    return f"{DEPARTEMENTS[code]} ({code})"


def choices() -> list[tuple[str, str]]:
    """(code, "Seine-Saint-Denis (93)") in the official order, for select fields."""
    return [(code, f"{nom} ({code})") for code, nom in DEPARTEMENTS.items()]
