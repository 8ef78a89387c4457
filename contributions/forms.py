"""The partner's forms, one per kind of contribution, and the editor's decision form.

A draft needs only a title; what a kind must say (an event's start, a call's deadline…) is
required to send it to the editors (`RequiredToSubmit`, checked when `form.submitting`)."""
from __future__ import annotations

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    DateField,
    DateTimeLocalField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.validators import (
    URL,
    DataRequired,
    Length,
    NumberRange,
    Optional,
    StopValidation,
)

from contributions.models import (
    RESOURCE_KIND_LABELS,
    ContributionKind,
    ContributionStatus,
)
from contributions.services import TERRITORIES
from core.forms import KnownDepartement

MARKDOWN_HELP = _l("Mise en forme en Markdown : **gras**, *italique*, [texte du lien](https://…), "
                   "listes avec « - » en début de ligne. Le code HTML n'est pas accepté.")
MARKDOWN_SHORT = _l("Markdown accepté (voir l'aide du résumé).")
LIST_HELP = _l("Un élément par ligne, ou sur une seule ligne séparés par des virgules.")
LINK_ERROR = _l("Lien invalide : il doit commencer par https://")


def _join(*parts) -> LazyString:
    """Lazy strings put together when shown, in the request's language."""
    return LazyString(lambda: "".join(str(part) for part in parts))


class RequiredToSubmit:
    """Required to send the contribution to the editors, not to save a draft. Empty otherwise
    stops the chain like Optional."""

    field_flags = {"required": True}

    def __init__(self, message):
        self.message = message

    def __call__(self, form, field):
        empty = field.data is None or (isinstance(field.data, str) and not field.data.strip())
        if empty and field.raw_data and any(str(v).strip() for v in field.raw_data):
            return  # typed but not understood: the field's own parsing error is shown
        if empty:
            field.errors[:] = []
            if getattr(form, "submitting", True):
                raise StopValidation(self.message)
            raise StopValidation()


class BaseContributionForm(FlaskForm):
    """Fields every kind has: the title, the text, a link and a file to add."""

    kind_value: ContributionKind
    submitting = True

    title = StringField(_l("Titre"),
                        validators=[DataRequired(message=_l("Le titre est obligatoire.")), Length(max=300)])
    body_md = TextAreaField(_l("Texte"), validators=[
        RequiredToSubmit(_l("Le texte est obligatoire.")), Length(max=20000)], description=MARKDOWN_HELP)
    link = URLField(_l("Lien (facultatif)"), validators=[
        Optional(), URL(message=LINK_ERROR), Length(max=1000)])
    upload = FileField(_l("Ajouter une image ou un PDF (facultatif)"), description=_l(
        "Image JPEG, PNG ou WebP de 5 Mo au plus, ou document PDF de 10 Mo au plus. Les images sont "
        "réduites et leurs métadonnées (position GPS, appareil…) supprimées."))
    upload_alt = StringField(_l("Description de l'image (texte alternatif)"), validators=[
        Optional(), Length(max=500)], description=_l(
        "Obligatoire pour une image : ce qu'elle montre, en une phrase. Elle est lue aux personnes "
        "aveugles et s'affiche si l'image ne se charge pas."))
    upload_title = StringField(_l("Titre du document (PDF)"), validators=[Optional(), Length(max=300)],
                               description=_l("Pour un PDF : le titre affiché dans le lien."))

    # The order in which the template shows the kind's own fields (after title and text).
    kind_fields: tuple[str, ...] = ()

    def markdown_fields(self) -> list:
        return [self.body_md]


class ActualiteForm(BaseContributionForm):
    kind_value = ContributionKind.actualite


class EvenementForm(BaseContributionForm):
    kind_value = ContributionKind.evenement
    body_md = TextAreaField(_l("Présentation de l'événement"), validators=[
        RequiredToSubmit(_l("Présentez l'événement en quelques lignes.")), Length(max=20000)],
        description=MARKDOWN_HELP)
    event_start = DateTimeLocalField(_l("Début (heure de Paris)"), format="%Y-%m-%dT%H:%M", validators=[
        RequiredToSubmit(_l("Indiquez la date et l'heure de début."))],
        description=_l("Date et heure, par exemple 10/12/2026 18:00."))
    event_end = DateTimeLocalField(_l("Fin (heure de Paris, facultatif)"), format="%Y-%m-%dT%H:%M",
                                   validators=[Optional()])
    place = StringField(_l("Lieu"), validators=[Optional(), Length(max=300)],
                        description=_l("Adresse complète, ou « en ligne »."))
    audience = StringField(_l("Public"), validators=[Optional(), Length(max=300)],
                           description=_l("À qui s'adresse l'événement : parents, professionnels, familles…"))
    link = URLField(_l("Lien d'inscription (facultatif)"), validators=[
        Optional(), URL(message=LINK_ERROR), Length(max=1000)],
        description=_l("Un lien d'inscription, ou à défaut un contact ci-dessous."))
    contact = StringField(_l("Contact pour s'inscrire (facultatif)"), validators=[Optional(), Length(max=300)],
                          description=_l("Nom, téléphone ou adresse e-mail."))
    kind_fields = ("event_start", "event_end", "place", "audience", "link", "contact")

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        if ok and self.event_start.data and self.event_end.data and self.event_end.data < self.event_start.data:
            self.event_end.errors.append(_l("La fin de l'événement précède son début."))
            return False
        return ok


class RessourceForm(BaseContributionForm):
    kind_value = ContributionKind.ressource
    body_md = TextAreaField(_l("Présentation de la ressource"), validators=[
        RequiredToSubmit(_l("Présentez la ressource en quelques lignes.")), Length(max=20000)],
        description=MARKDOWN_HELP)
    resource_kind = RadioField(_l("Type de ressource"), choices=[
        SelectChoice(k.value, label) for k, label in RESOURCE_KIND_LABELS.items()], validators=[
        RequiredToSubmit(_l("Précisez le type de ressource."))])
    link = URLField(_l("Lien vers la ressource"), validators=[
        Optional(), URL(message=LINK_ERROR), Length(max=1000)],
        description=_l("Un lien, ou joignez le document (PDF) ci-dessous."))
    kind_fields = ("resource_kind", "link")


class AppelAProjetsForm(BaseContributionForm):
    kind_value = ContributionKind.appel_a_projets
    body_md = TextAreaField(_l("Présentation de l'appel"), validators=[
        RequiredToSubmit(_l("Présentez l'appel : qui peut répondre, pour quoi, quel financement.")),
        Length(max=20000)], description=MARKDOWN_HELP)
    deadline = DateField(_l("Date limite de réponse"), validators=[
        RequiredToSubmit(_l("Indiquez la date limite de réponse."))])
    link = URLField(_l("Lien vers le cahier des charges (facultatif)"), validators=[
        Optional(), URL(message=LINK_ERROR), Length(max=1000)])
    kind_fields = ("deadline", "link")


def _text(label, help_text=None, required=None, max_length=20000):
    validators = [RequiredToSubmit(required)] if required else [Optional()]
    return TextAreaField(label, validators=[*validators, Length(max=max_length)], description=help_text)


class FicheActionForm(BaseContributionForm):
    """Every field of the national database of social-centre actions (seed 004)."""

    kind_value = ContributionKind.fiche_action
    title = StringField(_l("Nom de l'action"), validators=[
        DataRequired(message=_l("Le nom de l'action est obligatoire.")), Length(max=300)])
    structure_label = StringField(_l("Structure organisatrice"), validators=[Optional(), Length(max=300)],
                                  description=_l("Si elle diffère de votre structure (action portée à plusieurs)."))
    departement = StringField(_l("Département"), validators=[Optional(), Length(max=80), KnownDepartement()],
                              description=_l("Son numéro ou son nom, par exemple : 93 ou Seine-Saint-Denis."))
    year = IntegerField(_l("Année"), validators=[Optional(), NumberRange(min=1950, max=2100, message=_l(
        "Indiquez une année à quatre chiffres."))], description=_l("L'année de l'action, par exemple 2026."))
    action_status = RadioField(_l("Statut de l'action"), choices=[
        SelectChoice("en_cours", _l("En cours")), SelectChoice("terminee", _l("Terminée"))], validators=[Optional()])
    status_reason = _text(_l("Raisons pour lesquelles l'action est terminée"),
                          _l("Obligatoire si l'action est terminée."), max_length=5000)
    dimension = StringField(_l("Dimension"), validators=[Optional(), Length(max=120)],
                            description=_l("Par exemple : Citoyenneté, Services, Accompagnement de projets."))
    keywords = _text(_l("Mots clés"), LIST_HELP, max_length=2000)
    summary = _text(_l("Résumé"), _join(_l("En quelques lignes : ce que fait l'action, pour qui. "), MARKDOWN_HELP),
                    required=_l("Le résumé est obligatoire."))
    initiative = _text(_l("Qui est à l'initiative de l'action ?"), _join(_l(
        "Par exemple : Le centre social, Un ou plusieurs partenaire(s), Un groupe d'habitants. "), LIST_HELP),
        max_length=2000)
    territory = SelectField(_l("Territoire concerné"), choices=[SelectChoice("", _l("— non précisé —"))] + [
        SelectChoice(t, t) for t in TERRITORIES], validators=[Optional()])
    body_md = TextAreaField(_l("Description de l'expérience, ses objectifs, ses acteurs et ses différentes phases"),
                            validators=[Optional(), Length(max=20000)], description=MARKDOWN_HELP)
    public = _text(_l("Public"), _join(_l("Par exemple : Parents, Enfants, Adultes. "), LIST_HELP), max_length=2000)
    partners = _text(_l("Partenaires de l'action"), LIST_HELP, max_length=4000)
    partners_description = _text(_l("Avec qui cette action a-t-elle été menée ? (description générale)"),
                                 MARKDOWN_SHORT)
    financial_resources = _text(_l("Ressources financières mobilisées pour cette action"), MARKDOWN_SHORT)
    people_mobilised = _text(_l("Nombre de personnes mobilisées pour cette action"),
                             _join(_l("Professionnels, bénévoles, habitants… "), MARKDOWN_SHORT))
    result_territory = _text(_l("Résultat sur le territoire"), MARKDOWN_SHORT)
    result_structure = _text(_l("Résultat pour le centre social (la structure)"), MARKDOWN_SHORT)
    result_inhabitants = _text(_l("Résultat pour les habitants"), MARKDOWN_SHORT)
    limits = _text(_l("Suite de l'action : limites"), MARKDOWN_SHORT)
    perspectives = _text(_l("Suite de l'action : perspectives"), MARKDOWN_SHORT)
    contact = _text(_l("Contact"), _l("La personne à joindre pour en savoir plus : nom, téléphone, e-mail."),
                    max_length=1000)
    link = URLField(_l("Lien (facultatif)"), validators=[Optional(), URL(message=LINK_ERROR), Length(max=1000)],
                    description=_l("Une page web qui présente l'action."))

    # Grouped as in the national database, each group a fieldset.
    groups = (
        (_l("L'action"), ("structure_label", "departement", "year", "action_status", "status_reason",
                          "dimension", "keywords", "summary", "initiative", "territory")),
        (_l("L'expérience"), ("body_md", "public", "partners", "partners_description",
                              "financial_resources", "people_mobilised")),
        (_l("Résultats"), ("result_territory", "result_structure", "result_inhabitants")),
        (_l("Suite de l'action"), ("limits", "perspectives")),
        (_l("Pour en savoir plus"), ("contact", "link")),
    )

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        if self.submitting and self.action_status.data == "terminee" and not (self.status_reason.data or "").strip():
            self.status_reason.errors.append(_l("Une action terminée doit dire pourquoi elle s'est arrêtée."))
            return False
        return ok

    def markdown_fields(self) -> list:
        return [self.summary, self.body_md, self.partners_description, self.financial_resources,
                self.people_mobilised, self.result_territory, self.result_structure,
                self.result_inhabitants, self.limits, self.perspectives]


FORMS: dict[ContributionKind, type[BaseContributionForm]] = {
    ContributionKind.actualite: ActualiteForm,
    ContributionKind.evenement: EvenementForm,
    ContributionKind.fiche_action: FicheActionForm,
    ContributionKind.ressource: RessourceForm,
    ContributionKind.appel_a_projets: AppelAProjetsForm,
}

KIND_DESCRIPTIONS = {
    ContributionKind.actualite: _l("Une nouvelle de votre structure ou du réseau : un projet qui démarre, "
                                   "un service qui ouvre, un témoignage."),
    ContributionKind.evenement: _l("Une date à faire connaître : café des parents, conférence, sortie, "
                                   "forum… avec le lieu, le public et comment s'inscrire."),
    ContributionKind.fiche_action: _l("La présentation complète d'une action menée sur votre territoire, "
                                      "comme dans la base nationale des actions des centres sociaux. "
                                      "Elle rejoint l'annuaire des actions une fois acceptée."),
    ContributionKind.ressource: _l("Une publication, un guide, un lien ou un document utile aux "
                                   "professionnels et aux parents."),
    ContributionKind.appel_a_projets: _l("Un appel à projets ou à candidatures, avec sa date limite."),
}


def form_for(kind: ContributionKind, **kwargs) -> BaseContributionForm:
    return FORMS[kind](**kwargs)


class DecisionForm(FlaskForm):
    decision = RadioField(_l("Décision"), choices=[
        SelectChoice(ContributionStatus.accepted.value, _l("Accepter")),
        SelectChoice(ContributionStatus.changes_requested.value, _l("Demander des modifications")),
        SelectChoice(ContributionStatus.rejected.value, _l("Refuser")),
    ], validators=[DataRequired(message=_l("Choisissez une décision."))])
    comment = TextAreaField(_l("Commentaire pour le partenaire"), validators=[Optional(), Length(max=5000)],
                            description=_l("Obligatoire pour une demande de modifications ou un refus."))

