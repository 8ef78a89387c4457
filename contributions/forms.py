from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, RadioField, StringField, TextAreaField, URLField
from wtforms.validators import URL, DataRequired, Length, Optional

from contributions.models import KIND_LABELS, ContributionStatus

MARKDOWN_HELP = _l("Mise en forme en Markdown : **gras**, *italique*, [texte du lien](https://…), "
                   "listes avec « - » en début de ligne. Le code HTML n'est pas accepté.")


class ContributionForm(FlaskForm):
    kind = RadioField(_l("Type de contribution"), choices=[(k.value, label) for k, label in KIND_LABELS.items()],
                      default="actualite", validators=[DataRequired()])
    title = StringField(_l("Titre"), validators=[DataRequired(message=_l("Le titre est obligatoire.")), Length(max=300)])
    body_md = TextAreaField(_l("Texte"), validators=[DataRequired(message=_l("Le texte est obligatoire.")), Length(max=20000)],
                            description=MARKDOWN_HELP)
    link = URLField(_l("Lien (facultatif)"), validators=[Optional(), URL(message=_l("Lien invalide : il doit commencer par https://")), Length(max=1000)])
    event_start = DateTimeLocalField(_l("Début (heure de Paris)"), format="%Y-%m-%dT%H:%M", validators=[Optional()],
                                     description=_l("Pour un événement."))
    event_end = DateTimeLocalField(_l("Fin (heure de Paris)"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    place = StringField(_l("Lieu (facultatif)"), validators=[Optional(), Length(max=300)],
                        description=_l("Adresse, ou « en ligne »."))


class DecisionForm(FlaskForm):
    decision = RadioField(_l("Décision"), choices=[
        (ContributionStatus.accepted.value, _l("Accepter")),
        (ContributionStatus.changes_requested.value, _l("Demander des modifications")),
        (ContributionStatus.rejected.value, _l("Refuser")),
    ], validators=[DataRequired(message=_l("Choisissez une décision."))])
    comment = TextAreaField(_l("Commentaire pour le partenaire"), validators=[Optional(), Length(max=5000)],
                            description=_l("Obligatoire pour une demande de modifications ou un refus."))
