"""The editor's back office for events (/redaction/evenements/…): access, the event form in Paris
time, update and cancellation, the registrations list with filters and counts, attendance without
JavaScript, cancelling a registration, the attendance sheet and the CSV export; and partners'
accepted events in the public agenda and its feed."""
from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from icalendar import Calendar
from sqlalchemy import select

from contributions.models import Contribution, ContributionKind, ContributionStatus
from events import services
from events.models import (
    Event,
    EventStatus,
    EventType,
    Registration,
    RegistrationStatus,
)
from tests.integration.helpers import login, make_event, outbox

FORM = {
    "type": "soiree_reaap", "title": "Soirée-rencontre : les écrans en famille",
    "description_md": "Échanges **entre parents**.", "starts_at": "2031-03-14T18:30", "ends_at": "2031-03-14T21:00",
    "place": "Centre social Les Tilleuls", "address": "12 rue des Lilas, 93000 Bobigny",
    "access_info": "Bus 148, arrêt Lilas", "accessibility_info": "Plain-pied, boucle magnétique",
    "online_url": "", "capacity": "30", "registration_opens_at": "", "registration_closes_at": "2031-03-13T12:00",
    "topics": ["numerique", "parentalite"], "roles": [], "status": "scheduled", "organiser": "Réaap 93",
    "contact_email": "reaap@exemple.org", "reminder_days": "7, 1", "survey_url": "https://sondage.example.org/s",
}


def editor(client):
    login(client, "redaction@reaap.test", "mdp-redaction")


def people(db, event, rows):
    """rows: (email, structure, role, party_size)"""
    registrations = [services.register(db, event, email.split("@")[0].title(), email, structure, role, "", size,
                                       consent=True)
                     for email, structure, role, size in rows]
    db.commit()  # the requests' boundary: the web sees them
    return registrations


def test_only_editors_reach_the_back_office(client, world, db):
    event = make_event(db)
    paths = ["/redaction/evenements/", "/redaction/evenements/nouveau", f"/redaction/evenements/{event.id}/",
             f"/redaction/evenements/{event.id}/inscriptions", f"/redaction/evenements/{event.id}/emargement",
             f"/redaction/evenements/{event.id}/inscriptions.csv", f"/redaction/evenements/{event.id}/annuler"]
    for path in paths:
        response = client.get(path)
        assert response.status_code == 302 and "/connexion" in response.headers["Location"], path
    login(client, "amina@tilleuls.test", "mdp-partenaire")
    for path in paths:
        assert client.get(path).status_code == 403, path
    assert client.post(f"/redaction/evenements/{event.id}/annuler", data={"confirm": "y"}).status_code == 403
    db.refresh(event)
    assert event.status is EventStatus.scheduled


def test_create_an_event_in_paris_time_with_its_audience(client, world, db):
    editor(client)
    page = client.get("/redaction/evenements/nouveau").get_data(as_text=True)
    assert 'name="topics"' in page and "Référent·e CLAS" in page and 'value="7,1"' in page
    response = client.post("/redaction/evenements/nouveau", data=FORM)
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    event = db.scalar(select(Event))
    assert event.starts_at == datetime(2031, 3, 14, 17, 30, tzinfo=UTC)  # 18:30 in Paris (UTC+1)
    assert event.registration_closes_at == datetime(2031, 3, 13, 11, 0, tzinfo=UTC)
    assert event.audience == {"topics": ["numerique", "parentalite"], "roles": []}
    assert (event.type, event.capacity, event.reminder_days, event.online_url) == (
        EventType.soiree_reaap, 30, "7,1", None)
    assert event.survey_url == "https://sondage.example.org/s" and event.organiser == "Réaap 93"
    # The edit form shows the times back in Paris time.
    page = client.get(f"/redaction/evenements/{event.id}/").get_data(as_text=True)
    assert 'value="2031-03-14T18:30"' in page and "checked" in page
    assert "Soirée-rencontre : les écrans en famille" in client.get("/agenda/").get_data(as_text=True)


def test_form_errors_are_summarised_and_nothing_is_saved(client, world, db):
    editor(client)
    bad = {**FORM, "ends_at": "2031-03-14T17:00", "reminder_days": "sept", "capacity": "0", "title": ""}
    response = client.post("/redaction/evenements/nouveau", data=bad)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="error-summary"' in page and 'aria-invalid="true"' in page
    assert "La fin doit venir après le début." in page and "Indiquez un titre." in page
    assert 'value="Centre social Les Tilleuls"' in page  # the input is kept
    assert db.scalar(select(Event)) is None


def test_editing_time_raises_the_sequence_and_queues_the_update(client, world, db, captured_jobs):
    event = make_event(db, capacity=1)
    editor(client)
    data = {**FORM, "capacity": "1", "title": event.title}
    response = client.post(f"/redaction/evenements/{event.id}/", data=data)
    assert response.status_code == 302
    db.refresh(event)
    assert event.sequence == 1 and event.place == "Centre social Les Tilleuls"
    assert ("tasks.events.send_notices", (event.id,)) in captured_jobs
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "reçoivent la mise à jour" in page
    # Unchanged times and place: no new version.
    client.post(f"/redaction/evenements/{event.id}/", data={**data, "description_md": "Autre texte"})
    db.refresh(event)
    assert event.sequence == 1 and event.description_md == "Autre texte"


def test_cancel_the_event_needs_a_confirmation(client, world, db, captured_jobs):
    event = make_event(db)
    services.register(db, event, "A", "a@exemple.org", consent=True)
    db.commit()
    editor(client)
    page = client.get(f"/redaction/evenements/{event.id}/annuler").get_data(as_text=True)
    assert "1 inscription confirmée" in page and "Je confirme l'annulation" in page.replace("&#39;", "'")
    response = client.post(f"/redaction/evenements/{event.id}/annuler", data={})
    assert response.status_code == 422 and 'id="error-summary"' in response.get_data(as_text=True)
    db.refresh(event)
    assert event.status is EventStatus.scheduled
    response = client.post(f"/redaction/evenements/{event.id}/annuler", data={"confirm": "y"})
    assert response.status_code == 302
    db.refresh(event)
    assert event.status is EventStatus.cancelled and event.sequence == 1
    assert ("tasks.events.send_notices", (event.id,)) in captured_jobs
    assert "ne peut plus être modifié" in client.get(f"/redaction/evenements/{event.id}/").get_data(as_text=True)


def test_registrations_list_filters_and_counts(client, world, db, captured_jobs):
    event = make_event(db, capacity=5)
    people(db, event, [("ines@exemple.org", "CLAS Bondy", "Référente CLAS", 2),
                       ("paul@exemple.org", "CLAS Bondy", "Parent", 1),
                       ("zoe@exemple.org", "EVS du Pont", "Parent", 2),
                       ("attente@exemple.org", "Mairie", "Élu", 1)])
    editor(client)
    page = client.get(f"/redaction/evenements/{event.id}/inscriptions").get_data(as_text=True)
    for name in ("Ines", "Paul", "Zoe", "Attente"):
        assert name in page
    # Counts of confirmed people by structure and by role.
    assert "<th scope=\"row\">CLAS Bondy</th><td>2</td><td>3</td>" in page
    assert "<th scope=\"row\">Parent</th><td>2</td><td>3</td>" in page
    assert "<strong>5</strong> personnes confirmées" in page

    waiting = client.get(f"/redaction/evenements/{event.id}/inscriptions?statut=waitlisted").get_data(as_text=True)
    assert "Attente" in waiting and "Ines" not in waiting
    bondy = client.get(f"/redaction/evenements/{event.id}/inscriptions?structure=CLAS+Bondy").get_data(as_text=True)
    assert "Ines" in bondy and "Paul" in bondy and "Zoe" not in bondy
    parents = client.get(f"/redaction/evenements/{event.id}/inscriptions?fonction=Parent").get_data(as_text=True)
    assert "Paul" in parents and "Zoe" in parents and "Ines" not in parents


def test_mark_present_with_plain_checkboxes_then_filter(client, world, db, captured_jobs):
    event = make_event(db)
    a, b, c = people(db, event, [("a@exemple.org", "", "", 1), ("b@exemple.org", "", "", 1),
                                 ("c@exemple.org", "", "", 3)])
    editor(client)
    response = client.post(f"/redaction/evenements/{event.id}/presences",
                           data={"shown": [a.id, b.id, c.id], "present": [a.id, c.id]})
    assert response.status_code == 302 and response.headers["Location"].endswith("#presences")
    db.expire_all()
    # b was never ticked: left unmarked (issue 13 #25), not recorded as a change.
    assert [db.get(Registration, r.id).attended for r in (a, b, c)] == [True, None, True]
    # Unticking someone shown marks them absent; someone not shown is left alone.
    client.post(f"/redaction/evenements/{event.id}/presences", data={"shown": [c.id], "present": []})
    db.expire_all()
    assert [db.get(Registration, r.id).attended for r in (a, b, c)] == [True, None, False]
    page = client.get(f"/redaction/evenements/{event.id}/inscriptions?presence=oui").get_data(as_text=True)
    assert "a@exemple.org" in page and "b@exemple.org" not in page and "c@exemple.org" not in page
    assert f'id="present-{a.id}" checked' in page


def test_editor_cancels_a_registration_and_the_waitlist_moves_up(client, world, db, captured_jobs):
    event = make_event(db, capacity=1)
    first, waiting = people(db, event, [("a@exemple.org", "", "", 1), ("w@exemple.org", "", "", 1)])
    editor(client)
    path = f"/redaction/evenements/{event.id}/inscriptions/{first.id}/annuler"
    assert "Annuler cette inscription" in client.get(path).get_data(as_text=True)
    db.refresh(first)
    assert first.status is RegistrationStatus.confirmed  # GET changes nothing
    response = client.post(path)
    assert response.status_code == 302
    db.refresh(first), db.refresh(waiting)
    assert first.status is RegistrationStatus.cancelled and waiting.status is RegistrationStatus.confirmed
    assert [m.to_addr for m in outbox(db, "event_promoted")] == ["w@exemple.org"]
    assert "liste d'attente et prévenu·e : W" in client.get(response.headers["Location"]).get_data(
        as_text=True).replace("&#39;", "'")
    other = make_event(db)
    assert client.post(f"/redaction/evenements/{other.id}/inscriptions/{waiting.id}/annuler").status_code == 404


def test_printable_attendance_sheet(client, world, db, captured_jobs):
    event = make_event(db, capacity=2)
    people(db, event, [("zoe@exemple.org", "EVS du Pont", "Parent", 1),
                       ("ali@exemple.org", "CLAS Bondy", "Référent", 1),
                       ("attente@exemple.org", "", "", 1)])
    editor(client)
    page = client.get(f"/redaction/evenements/{event.id}/emargement").get_data(as_text=True)
    assert "@media print" in page and "Signature" in page and 'class="signature"' in page
    assert page.index("Ali") < page.index("Zoe")  # alphabetical
    assert "Attente" not in page  # only the confirmed


def test_csv_export_is_utf8_with_bom_and_semicolons(client, world, db, captured_jobs):
    event = make_event(db, capacity=10)
    services.register(db, event, "Hélène Ñúñez", "helene@exemple.org", "Centre social « Les Tilleuls »",
                      "Référente; CLAS", "=HYPERLINK(\"http://x\")", 2, consent=True)
    services.register(db, event, "Zoé", "zoe@exemple.org", consent=True)
    db.commit()
    editor(client)
    response = client.get(f"/redaction/evenements/{event.id}/inscriptions.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM, in UTF-8
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:5] == ["Nom", "E-mail", "Structure", "Fonction", "Personnes"]
    assert rows[1][:6] == ["Hélène Ñúñez", "helene@exemple.org", "Centre social « Les Tilleuls »",
                           "Référente; CLAS", "2", "confirmée"]
    assert rows[1][8] == "'=HYPERLINK(\"http://x\")"  # a formula typed by the public is not run
    assert rows[2][0] == "Zoé" and len(rows) == 3
    # The export follows the page's filters.
    raw = client.get(f"/redaction/evenements/{event.id}/inscriptions.csv?structure=__aucune__").get_data()
    assert [r[0] for r in csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";")][1:] == ["Zoé"]


def test_events_list_for_the_editor(client, world, db, captured_jobs):
    event = make_event(db, capacity=1, title="Rencontre des référents CLAS")
    people(db, event, [("a@exemple.org", "", "", 1), ("b@exemple.org", "", "", 1)])
    make_event(db, days=-30, title="Journée passée")
    editor(client)
    page = client.get("/redaction/evenements/").get_data(as_text=True)
    assert "Rencontre des référents CLAS" in page and "Journée passée" in page
    assert page.index("Rencontre des référents CLAS") < page.index("Journée passée")
    assert "1 pers. / 1" in page


# --- Partner events in the agenda -----------------------------------------------------------------

def test_accepted_partner_events_are_in_the_agenda_and_the_feed(client, world, db):
    start = datetime(2031, 5, 20, 12, 0, tzinfo=UTC)

    def contribution(title, status, days=0):
        c = Contribution(structure_id=world["tilleuls"].id, kind=ContributionKind.evenement, status=status,
                         title=title, body_md="Atelier **parents-enfants**.", place="Bobigny",
                         event_start=start + timedelta(days=days), event_end=start + timedelta(days=days, hours=2))
        db.add(c)
        db.commit()
        return c

    accepted = contribution("Atelier cuisine parents-enfants", ContributionStatus.accepted)
    contribution("Proposition en attente", ContributionStatus.submitted)
    published = contribution("Café des parents", ContributionStatus.published, days=-1)
    network = make_event(db, title="Soirée du réseau", starts_at=start + timedelta(days=1),
                         ends_at=start + timedelta(days=1, hours=2))

    page = client.get("/agenda/").get_data(as_text=True)
    assert "Atelier cuisine parents-enfants" in page and "Proposition en attente" not in page
    assert page.index("Café des parents") < page.index("Atelier cuisine") < page.index("Soirée du réseau")
    assert "Proposé par Centre social Les Tilleuls" in page
    detail = client.get(f"/agenda/partenaires/{accepted.id}/").get_data(as_text=True)
    assert "<strong>parents-enfants</strong>" in detail and "Bobigny" in detail
    assert client.get(f"/agenda/partenaires/{accepted.id + 1}/").status_code == 404  # the submitted one

    cal = Calendar.from_ical(client.get("/agenda.ics").get_data())
    uids = {str(v["UID"]): v for v in cal.walk("VEVENT")}
    v = uids[f"contribution-{accepted.id}@parentalites.test"]
    assert str(v["SUMMARY"]) == "Atelier cuisine parents-enfants" and v["DTSTART"].dt == start
    assert str(v["URL"]).endswith(f"/agenda/partenaires/{accepted.id}/")
    assert f"contribution-{published.id}@parentalites.test" in uids and network.uid in uids
    assert len(uids) == 3


def test_saving_attendance_records_only_what_the_editor_changed(client, world, db, captured_jobs):
    """Issue 13 #25: an unticked row that nobody had marked is not a change; unticking a ticked
    row is one."""
    event = make_event(db)
    a, b, c = people(db, event, [("a@exemple.org", "", "", 1), ("b@exemple.org", "", "", 1),
                                 ("c@exemple.org", "", "", 1)])
    editor(client)
    response = client.post(f"/redaction/evenements/{event.id}/presences",
                           data={"shown": [a.id, b.id, c.id], "present": [a.id]}, follow_redirects=True)
    assert "(1 modification)" in response.get_data(as_text=True)
    db.expire_all()
    assert [db.get(Registration, r.id).attended for r in (a, b, c)] == [True, None, None]
    assert db.get(Registration, b.id).attended_marked_at is None
    # The same form again: nothing changed.
    response = client.post(f"/redaction/evenements/{event.id}/presences",
                           data={"shown": [a.id, b.id, c.id], "present": [a.id]}, follow_redirects=True)
    assert "(0 modification)" in response.get_data(as_text=True)


def test_a_cancelled_person_never_counts_as_present(client, world, db, captured_jobs):
    """Issue 13 #25: marked present, then cancelled (or ticked while cancelled): not present, no thanks."""
    from events.attendance import mark_attendance, summary
    event = make_event(db)
    came, gone = people(db, event, [("came@exemple.org", "", "", 1), ("gone@exemple.org", "", "", 2)])
    mark_attendance(db, event, [came.id, gone.id], [came.id, gone.id])
    db.commit()
    services.cancel(db, gone)
    db.commit()
    assert summary(db, event).present == 1
    other = people(db, event, [("other@exemple.org", "", "", 1)])[0]
    services.cancel(db, other)
    db.commit()
    assert mark_attendance(db, event, [other.id], [other.id]) == 0  # a cancelled row cannot be ticked
    db.commit()
    assert summary(db, event).present == 1 and summary(db, event).marked == 1
    editor(client)
    page = client.get(f"/redaction/evenements/{event.id}/inscriptions").get_data(as_text=True)
    assert f'id="present-{gone.id}"' not in page and f'id="present-{came.id}"' in page


def test_the_editor_sets_a_party_size_cap(client, world, db, captured_jobs):
    """Issue 13 #8: a cap per event, else the setting."""
    editor(client)
    response = client.post("/redaction/evenements/nouveau", data={**FORM, "max_party_size": "2"})
    assert response.status_code == 302
    event = db.scalar(select(Event))
    assert event.max_party_size == 2 and services.max_party_size(event) == 2
    page = client.get(f"/redaction/evenements/{event.id}/").get_data(as_text=True)
    assert 'name="max_party_size"' in page and 'value="2"' in page
    client.post(f"/redaction/evenements/{event.id}/", data={**FORM, "max_party_size": ""})
    db.refresh(event)
    assert event.max_party_size is None and services.max_party_size(event) == 5
    response = client.post(f"/redaction/evenements/{event.id}/", data={**FORM, "max_party_size": "0"})
    assert response.status_code == 422 and "entre 1 et 50" in response.get_data(as_text=True)
