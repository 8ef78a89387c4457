"""The API's query parameters and answers, as marshmallow schemas: flask-smorest validates the
queries with them, writes the answers through them (a field not named here never leaves), and
builds the OpenAPI document from them."""
from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, fields, validate

from events.models import EventType

PARTNER_TYPE = "partenaire"  # a partner's event (an accepted contribution), beside the network's types
EVENT_TYPES = [t.value for t in EventType] + [PARTNER_TYPE]
MAX_PER_PAGE = 50
MAX_QUERY_LENGTH = 200  # as /actions/: a longer search is cut there, never refused

# The API speaks French, its errors too (marshmallow's own messages are English).
NOT_AN_INTEGER: dict[str, Any] = {"invalid": "Un nombre entier est attendu."}
NOT_A_DATE: dict[str, Any] = {"invalid": "Une date au format AAAA-MM-JJ est attendue."}


class QuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE  # ?lang=en and the like are not errors

    cursor = fields.String(metadata={
        "description": "Le curseur `next` de la page précédente (opaque). Un curseur forgé : 400."})
    limit = fields.Integer(load_default=20, error_messages=NOT_AN_INTEGER,
                           validate=validate.Range(1, MAX_PER_PAGE, error="Entre {min} et {max}."),
                           metadata={"description": "Nombre d'éléments par page."})


class EventsQuery(QuerySchema):
    type = fields.String(validate=validate.OneOf(EVENT_TYPES, error="Type inconnu ; les types : {choices}."),
                         metadata={"description": "Type d'événement ; « partenaire » : ceux des structures."})
    commune = fields.String(metadata={
        "description": "Commune (sans tenir compte des accents ni de la casse)."})
    date_from = fields.Date(data_key="from", error_messages=NOT_A_DATE,
                            metadata={"description": "Premier jour (AAAA-MM-JJ, heure de Paris) ; "
                                                     "par défaut : maintenant."})
    date_to = fields.Date(data_key="to", error_messages=NOT_A_DATE,
                          metadata={"description": "Dernier jour (AAAA-MM-JJ)."})
    structure = fields.Integer(error_messages=NOT_AN_INTEGER,
                               validate=validate.Range(1, 2**31 - 1, error="Un identifiant de structure est attendu."),
                               metadata={"description": "Identifiant d'une structure : ses seuls événements."})


class ActionsQuery(QuerySchema):
    q = fields.String(load_default="", metadata={
        "description": "Recherche en français (mots, \"une phrase\", -exclu, or) ; coupée à 200 caractères."})
    departement = fields.List(fields.String(), load_default=list)
    dimension = fields.List(fields.String(), load_default=list)
    mot_cle = fields.List(fields.String(), load_default=list)
    public = fields.List(fields.String(), load_default=list)
    statut = fields.List(fields.String(), load_default=list)
    annee = fields.List(fields.String(), load_default=list)


class LettersQuery(QuerySchema):
    pass


class StructureSchema(Schema):
    """A structure as the site shows it: no account, no address of a person."""
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True)
    commune = fields.String(required=True)
    departement = fields.String(required=True)
    website = fields.String(allow_none=True)


class EventSchema(Schema):
    source = fields.String(required=True, validate=validate.OneOf(["reseau", "partenaire"]),
                           metadata={"description": "« reseau » : un événement du réseau ; « partenaire » : "
                                                    "celui d'une structure."})
    id = fields.Integer(required=True)
    type = fields.String(required=True, validate=validate.OneOf(EVENT_TYPES))
    type_label = fields.String(required=True)
    title = fields.String(required=True)
    description_md = fields.String(required=True)
    description_html = fields.String(required=True, metadata={"description": "Le texte en HTML nettoyé."})
    starts_at = fields.DateTime(required=True)
    ends_at = fields.DateTime(allow_none=True)
    place = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    access_info = fields.String(allow_none=True)
    accessibility_info = fields.String(allow_none=True)
    online_url = fields.String(allow_none=True)
    audience = fields.String(allow_none=True)
    link = fields.String(allow_none=True)
    contact = fields.String(allow_none=True, metadata={
        "description": "Le contact d'une structure, tel que sa page le montre (événements partenaires)."})
    organiser = fields.String(allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(["scheduled", "full", "postponed", "cancelled"]))
    registration_open = fields.Boolean(required=True)
    structure = fields.Nested(StructureSchema, allow_none=True)
    url = fields.String(required=True, metadata={"description": "Cet événement dans l'API."})
    page_url = fields.String(required=True, metadata={"description": "Sa page sur le site."})


class PageSchema(Schema):
    total = fields.Integer(required=True)
    next = fields.String(allow_none=True, required=True, metadata={
        "description": "Le curseur de la page suivante (null : dernière page)."})
    next_url = fields.String(allow_none=True, required=True)


class EventPageSchema(PageSchema):
    items = fields.List(fields.Nested(EventSchema), required=True)


class FileSchema(Schema):
    kind = fields.String(required=True)
    filename = fields.String(required=True)
    title = fields.String(allow_none=True)
    alt_text = fields.String(allow_none=True)
    content_type = fields.String(required=True)
    url = fields.String(required=True)


class FicheSummarySchema(Schema):
    id = fields.Integer(required=True)
    title = fields.String(required=True)
    summary = fields.String(allow_none=True)
    departement = fields.String(allow_none=True)
    departement_label = fields.String(allow_none=True)
    year = fields.Integer(allow_none=True)
    action_status = fields.String(allow_none=True)
    dimension = fields.String(allow_none=True)
    keywords = fields.List(fields.String(), required=True)
    public = fields.List(fields.String(), required=True)
    structure = fields.Nested(StructureSchema, required=True)
    url = fields.String(required=True)
    page_url = fields.String(required=True)


class FicheSchema(FicheSummarySchema):
    body_md = fields.String(required=True)
    structure_label = fields.String(allow_none=True)
    status_reason = fields.String(allow_none=True)
    initiative = fields.List(fields.String(), required=True)
    territory = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    partners = fields.List(fields.String(), required=True)
    partners_description = fields.String(allow_none=True)
    financial_resources = fields.String(allow_none=True)
    people_mobilised = fields.String(allow_none=True)
    result_territory = fields.String(allow_none=True)
    result_structure = fields.String(allow_none=True)
    result_inhabitants = fields.String(allow_none=True)
    limits = fields.String(allow_none=True)
    perspectives = fields.String(allow_none=True)
    contact = fields.String(allow_none=True, metadata={
        "description": "Le contact de la structure, tel que la fiche publiée le montre."})
    files = fields.List(fields.Nested(FileSchema), required=True)


class FacetValueSchema(Schema):
    value = fields.String(required=True)
    label = fields.String(required=True)
    count = fields.Integer(required=True)
    selected = fields.Boolean(required=True)


class FacetSchema(Schema):
    name = fields.String(required=True)
    label = fields.String(required=True)
    values = fields.List(fields.Nested(FacetValueSchema), required=True)


class FichePageSchema(PageSchema):
    query = fields.String(required=True, metadata={"description": "La recherche telle qu'elle a été lue."})
    items = fields.List(fields.Nested(FicheSummarySchema), required=True)
    facets = fields.List(fields.Nested(FacetSchema), required=True)


class LetterSummarySchema(Schema):
    numero = fields.Integer(required=True)
    title = fields.String(required=True)
    issue_date = fields.Date(required=True)
    published_at = fields.DateTime(required=True)
    summary = fields.String(allow_none=True)
    url = fields.String(required=True)
    page_url = fields.String(required=True)


class LetterSchema(LetterSummarySchema):
    html = fields.String(required=True, metadata={"description": "La version web du numéro, figée à l'envoi."})
    email_page_url = fields.String(required=True)


class LetterPageSchema(PageSchema):
    items = fields.List(fields.Nested(LetterSummarySchema), required=True)
