"""Parsing a subscribers' CSV (subscribers/importer.py, the pure half): no database here."""
from __future__ import annotations

from datetime import date

import pytest

from subscribers.importer import ImportFileError, parse
from subscribers.models import LegalBasis, SubscriberStatus

TODAY = date(2026, 12, 2)


def read(text: str, encoding: str = "utf-8", **options):
    return parse(text.encode(encoding), "liste.csv", today=TODAY, **options)


def reasons(parsed) -> dict[int, str]:
    return {r.line: r.reason for r in parsed.refused}


# --- The file --------------------------------------------------------------------------------------

@pytest.mark.parametrize("delimiter", [";", ","])
def test_either_delimiter_is_sniffed(delimiter):
    parsed = read(f"email{delimiter}nom{delimiter}commune\nanne@example.org{delimiter}Anne Roy{delimiter}Bondy\n")
    assert parsed.delimiter == delimiter
    [row] = parsed.rows
    assert (row.email, row.name, row.commune) == ("anne@example.org", "Anne Roy", "Bondy")


def test_a_bom_is_removed_and_the_first_column_still_found():
    parsed = parse("\ufeffemail;nom\nanne@example.org;Anne\n".encode(), "liste.csv", today=TODAY)
    assert [r.email for r in parsed.rows] == ["anne@example.org"] and parsed.encoding == "utf-8"


def test_windows_1252_is_read_when_the_file_is_not_utf8():
    parsed = read("email;nom;structure\nanne@example.org;Anne Lefèvre;Centre social Les Tilleuls — Bondy\n",
                  encoding="cp1252")
    assert parsed.encoding == "windows-1252"
    assert parsed.rows[0].name == "Anne Lefèvre"
    assert parsed.rows[0].structure == "Centre social Les Tilleuls — Bondy"
    assert any("Windows-1252" in note for note in parsed.notes)


def test_utf8_is_tried_strictly_first():
    # "é" in UTF-8 is two bytes that Windows-1252 would also read (as "Ã©"): UTF-8 must win.
    parsed = read("email;nom\nanne@example.org;Anne Lefèvre\n")
    assert parsed.encoding == "utf-8" and parsed.rows[0].name == "Anne Lefèvre"


def test_a_file_neither_utf8_nor_windows_1252_is_refused():
    # 0x81 and 0x8d are undefined in Windows-1252, and this is not UTF-8 either.
    with pytest.raises(ImportFileError, match="ni en UTF-8 ni en Windows-1252"):
        parse(b"email;nom\nanne@example.org;\x81\x8d\xe9\n", "liste.csv", today=TODAY)


def test_utf16_with_a_bom_is_read():
    parsed = parse("email;nom\r\nanne@example.org;Anne\r\n".encode("utf-16"), "liste.csv", today=TODAY)
    assert parsed.rows[0].email == "anne@example.org"


@pytest.mark.parametrize("header", ["email", "E-mail", " Courriel ", "Adresse e-mail", "ADRESSE E-MAIL", "mail",
                                    "adresse courriel"])
def test_the_address_column_has_several_names(header):
    assert read(f"{header};nom\nanne@example.org;Anne\n").rows[0].email == "anne@example.org"


def test_every_header_is_matched_without_accents_case_or_spaces():
    text = (" EMAIL ; Nom ;STRUCTURE; Thèmes ;rôle;Commune;DÉPARTEMENT;Base Légale;Date du Consentement;Source\n"
            "anne@example.org;Anne;CS Tilleuls;Réaap|CLAS;Référent·e CLAS;Bondy;93;consentement;03/04/2025;Salon\n")
    row = read(text).rows[0]
    assert (row.name, row.structure, row.topics, row.role, row.commune, row.departement, row.basis, row.source) == (
        "Anne", "CS Tilleuls", ["clas", "parentalite"], "referent_clas", "Bondy", "93", LegalBasis.consent, "Salon")
    assert row.consent_at is not None and row.consent_at.date() == date(2025, 4, 3)
    assert row.status is SubscriberStatus.active


def test_unknown_columns_are_ignored_with_a_note():
    parsed = read("email;téléphone\nanne@example.org;0102030405\n")
    assert parsed.rows and any("téléphone" in note for note in parsed.notes)


def test_a_file_without_an_address_column_is_refused_as_a_whole():
    with pytest.raises(ImportFileError, match="« email »") as error:
        read("nom;structure\nAnne;CS\n")
    assert "« nom »" in str(error.value)  # says which columns it read


@pytest.mark.parametrize("raw, message", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image"),
    (b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 40, "Excel"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 40, "Excel"),
    (b"%PDF-1.7\n", "PDF"),
    (b"email;nom\n\x00\x01\x02\x03", "binaire"),
    (b"", "vide"),
    (b"   \n\n", "vide"),
])
def test_a_file_that_is_not_csv_is_refused_clearly(raw, message):
    with pytest.raises(ImportFileError, match=message):
        parse(raw, "liste.csv", today=TODAY)


def test_a_file_over_the_limit_is_refused_with_the_limit():
    raw = b"email;nom\n" + b"anne@example.org;Anne\n" * 60_000
    with pytest.raises(ImportFileError, match=r"Fichier trop gros : 1\.\d Mo, la limite est de 1 Mo"):
        parse(raw, "liste.csv", max_bytes=1_048_576, today=TODAY)


def test_only_a_header_is_refused():
    with pytest.raises(ImportFileError, match="aucune ligne"):
        read("email;nom\n")


# --- Rows ------------------------------------------------------------------------------------------

def test_addresses_are_trimmed_and_lowercased_and_duplicates_reported():
    parsed = read("email;nom\n  Anne.Roy@Example.ORG ;Anne\nanne.roy@example.org;Anne bis\nbob@example.org;Bob\n")
    assert [(r.line, r.email, r.name) for r in parsed.rows] == [(2, "anne.roy@example.org", "Anne"),
                                                               (4, "bob@example.org", "Bob")]
    assert reasons(parsed) == {3: "adresse déjà présente ligne 2 du fichier : seule la première ligne compte"}


@pytest.mark.parametrize("cell, reason", [
    ("", "adresse e-mail manquante"),
    ("pas-une-adresse", "il faut exactement un « @ »"),
    ("anne@@example.org", "il faut exactement un « @ »"),
    ("anne@exa mple.org", "adresse e-mail invalide"),
    ("anne@localhost", "adresse e-mail invalide"),
    ('"""anne roy""@example.org"', "adresse e-mail invalide"),  # "anne roy"@example.org, CSV-quoted
    ("anne@[192.0.2.1]", "adresse e-mail invalide"),
    ("x" * 250 + "@example.org", "adresse e-mail invalide"),
    ("anaïs@example.org", "adresse internationalisée"),
    ("anne@exämple.org", "adresse internationalisée"),
    ("用户@例子.中国", "adresse internationalisée"),
])
def test_an_address_the_relay_cannot_take_is_refused_at_entry(cell, reason):
    parsed = read(f"email;nom\n{cell};Anne\nbob@example.org;Bob\n")
    assert reason in reasons(parsed)[2]
    assert [r.email for r in parsed.rows] == ["bob@example.org"]  # the rest imports


@pytest.mark.parametrize("column, cell, reason", [
    ("thèmes", "Réaap|Jardinage", "thème inconnu : « Jardinage »"),
    ("rôle", "Astronaute", "rôle inconnu : « Astronaute »"),
    ("département", "Atlantide", "département inconnu : « Atlantide »"),
    ("département", "20", "département inconnu"),
    ("département", "99", "département inconnu"),
    ("base légale", "contrat", "base légale inconnue : « contrat »"),
    ("date du consentement", "31/02/2025", "date du consentement illisible"),
    ("date du consentement", "hier", "date du consentement illisible"),
    ("date du consentement", "03/12/2026", "date du consentement dans le futur"),
    ("nom", "A" * 201, "nom trop long (201 caractères, 200 au plus)"),
    ("commune", "B" * 121, "commune trop long"),
])
def test_each_bad_value_refuses_its_row_alone_with_a_french_reason(column, cell, reason):
    parsed = read(f"email;{column}\nanne@example.org;{cell}\nbob@example.org;\n")
    assert reason in reasons(parsed)[2]
    assert [r.email for r in parsed.rows] == ["bob@example.org"]


def test_legitimate_interest_with_a_consent_date_is_refused():
    parsed = read("email;base légale;date du consentement\nanne@example.org;intérêt légitime;01/01/2025\n")
    assert "l'une ou l'autre" in reasons(parsed)[2]


@pytest.mark.parametrize("cells, status, basis", [
    (";01/02/2024", SubscriberStatus.active, LegalBasis.consent),
    ("consentement;2024-02-01", SubscriberStatus.active, LegalBasis.consent),
    ("intérêt légitime;", SubscriberStatus.active, LegalBasis.legitimate_interest),
    ("Interet legitime;", SubscriberStatus.active, LegalBasis.legitimate_interest),
    (";", SubscriberStatus.pending, None),
    ("consentement;", SubscriberStatus.pending, LegalBasis.consent),  # a basis with no proof: asked to confirm
])
def test_what_a_new_row_becomes_depends_on_its_proof(cells, status, basis):
    row = read(f"email;base légale;date du consentement\nanne@example.org;{cells}\n").rows[0]
    assert (row.status, row.basis) == (status, basis)


def test_topics_by_key_label_or_alias_and_roles_by_key_or_label():
    text = ("email;thèmes;rôle\n"
            "a@example.org;reaap;referent_clas\n"
            "b@example.org;CLAS | Petite enfance;Travailleur·se social·e\n"
            "c@example.org;Accompagnement à la scolarité (CLAS);référente clas\n"
            "d@example.org;;\n")
    rows = {r.email: r for r in read(text).rows}
    assert rows["a@example.org"].topics == ["parentalite"] and rows["a@example.org"].role == "referent_clas"
    assert rows["b@example.org"].topics == ["clas", "petite_enfance"]
    assert rows["b@example.org"].role == "travailleur_social"
    assert rows["c@example.org"].topics == ["clas"]
    assert (rows["d@example.org"].topics, rows["d@example.org"].role) == (None, None)  # empty: left as is


@pytest.mark.parametrize("cell, code", [("93", "93"), ("2a", "2A"), ("1", "01"), ("974", "974"),
                                        ("Seine-Saint-Denis", "93"), ("  val d'oise ", "95"), ("La Réunion", "974")])
def test_departement_by_code_or_name(cell, code):
    assert read(f"email;département\nanne@example.org;{cell}\n").rows[0].departement == code


def test_names_lose_line_breaks_and_control_characters():
    row = read('email;nom\nanne@example.org;"Anne\r\nRoy\x07"\n').rows[0]
    assert row.name == "Anne Roy"


def test_a_broken_row_is_refused_and_the_next_ones_still_read():
    text = ("email;nom;commune\n"
            "anne@example.org;Anne;Bondy\n"
            "bob@example.org;Bob;Bondy;en trop;encore\n"
            'carl@example.org;"Carl;Bondy\n'
            "dora@example.org;Dora;Pantin\n")
    parsed = read(text)
    assert [r.email for r in parsed.rows] == ["anne@example.org", "dora@example.org"]
    assert "5 colonnes au lieu de 3" in reasons(parsed)[3]
    assert "guillemet" in reasons(parsed)[4]


def test_blank_lines_are_skipped_and_line_numbers_stay_those_of_the_file():
    parsed = read("\nemail;nom\n\nanne@example.org;Anne\n;\nbad;Bob\n")
    assert parsed.rows[0].line == 4
    assert list(reasons(parsed)) == [6]


@pytest.mark.parametrize("address", [
    "anne@example.org", "Anne.Roy@Example.ORG", "a+b@sub.example.fr", "o'brien@example.ie", "x_y-z@a-b.co",
    "a@b.c", "anne@example.test", "anne@localhost.localhost", "anne..roy@example.org", ".anne@example.org",
    "anne@-example.org", "anne@example-.org", "anne@example.123", "a" * 65 + "@example.org",
    "anne@" + "b" * 64 + ".org", "anne@example.onion", "anne@exa_mple.org",
])
def test_the_fast_path_for_common_addresses_answers_as_email_validator(address):
    from email_validator import EmailNotValidError, validate_email

    from subscribers.importer import _plain_address
    try:
        expected = validate_email(address, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        expected = None
    if _plain_address(address):
        assert expected == address.lower()
    parsed = read(f"email\n{address}\n")
    assert [r.email for r in parsed.rows] == ([expected] if expected else [])
