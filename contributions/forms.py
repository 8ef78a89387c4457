from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, RadioField, StringField, TextAreaField, URLField
from wtforms.validators import URL, DataRequired, Length, Optional

from contributions.models import KIND_LABELS, ContributionStatus

MARKDOWN_HELP = ("Mise en forme en Markdown : **gras**, *italique*, [texte du lien](https://…), "
                 "listes avec « - » en début de ligne. Le code HTML n'est pas accepté.")


class ContributionForm(FlaskForm):
    kind = RadioField("Type de contribution", choices=[(k.value, label) for k, label in KIND_LABELS.items()],
                      default="actualite", validators=[DataRequired()])
    title = StringField("Titre", validators=[DataRequired(message="Le titre est obligatoire."), Length(max=300)])
    body_md = TextAreaField("Texte", validators=[DataRequired(message="Le texte est obligatoire."), Length(max=20000)],
                            description=MARKDOWN_HELP)
    link = URLField("Lien (facultatif)", validators=[Optional(), URL(message="Lien invalide : il doit commencer par https://"), Length(max=1000)])
    event_start = DateTimeLocalField("Début (heure de Paris)", format="%Y-%m-%dT%H:%M", validators=[Optional()],
                                     description="Pour un événement.")
    event_end = DateTimeLocalField("Fin (heure de Paris)", format="%Y-%m-%dT%H:%M", validators=[Optional()])
    place = StringField("Lieu (facultatif)", validators=[Optional(), Length(max=300)],
                        description="Adresse, ou « en ligne ».")


class DecisionForm(FlaskForm):
    decision = RadioField("Décision", choices=[
        (ContributionStatus.accepted.value, "Accepter"),
        (ContributionStatus.changes_requested.value, "Demander des modifications"),
        (ContributionStatus.rejected.value, "Refuser"),
    ], validators=[DataRequired(message="Choisissez une décision.")])
    comment = TextAreaField("Commentaire pour le partenaire", validators=[Optional(), Length(max=5000)],
                            description="Obligatoire pour une demande de modifications ou un refus.")
