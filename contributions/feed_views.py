"""The editor's "Relever le flux maintenant" button on a structure's page."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect
from flask_babel import gettext as _

from accounts.auth import editor_required
from contributions import feeds
from contributions.models import Structure
from core.db import session
from core.forms import EmptyForm

feeds_bp = Blueprint("feeds", __name__, url_prefix="/redaction/structures")


def _structure_page(structure_id: int) -> str:
    return f"/redaction/structures/{structure_id}"


@feeds_bp.route("/<int:structure_id>/flux/relever", methods=["POST"])
@editor_required
def poll_now(structure_id: int):
    db = session()
    structure = db.get(Structure, structure_id) or abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400)
    if not (structure.feed_url or "").strip():
        flash(_("Cette structure n'a pas d'adresse de flux RSS ou Atom."), "error")
        return redirect(_structure_page(structure_id))
    feeds.request_poll(db, structure_id)
    flash(_("Relevé du flux demandé : les nouveaux articles arriveront dans la file de modération "
            "dans quelques instants. Actualisez cette page pour voir le résultat."), "success")
    return redirect(_structure_page(structure_id))
