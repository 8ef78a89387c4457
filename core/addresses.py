"""What an address must be for our relay to take it. Internationalised local parts (josé@…) need
SMTPUTF8 (RFC 6531) from every relay on the way; rather than send some and lose others, they are
refused where addresses are entered, with a French sentence. An internationalised domain is fine:
it is kept in its ASCII form (xn--…)."""
from __future__ import annotations

INTERNATIONAL_LOCAL_PART = (
    "Cette adresse a un accent ou un caractère non latin avant le « @ » (comme josé@exemple.fr) : notre "
    "serveur d'envoi ne peut pas l'atteindre. Indiquez une autre adresse, sans accent avant le « @ ».")


def local_part_problem(raw: str | None) -> str | None:
    """INTERNATIONAL_LOCAL_PART when the part before the last @ is not plain ASCII, else None."""
    local = (raw or "").strip().rpartition("@")[0]
    return None if local.isascii() else INTERNATIONAL_LOCAL_PART
