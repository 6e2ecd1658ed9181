"""Downloading a ticket's attachment: only for people who may see the ticket (anyone else
gets a 404, which does not confirm the file exists), and always as a download — the content
comes from strangers' e-mail and must never render in the desk's origin."""

from __future__ import annotations

import re

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from tickets.models import TicketAttachment
from tickets.selectors import tickets_visible_to

_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$")


@require_GET
@login_required
def attachment_download(request: HttpRequest, pk: int) -> HttpResponse:
    attachment = (
        TicketAttachment.objects.filter(pk=pk, ticket__in=tickets_visible_to(request.user))
        .only("filename", "content_type", "content", "truncated")
        .first()
    )
    if attachment is None:
        raise Http404("No such attachment.")
    if attachment.truncated:
        return HttpResponse(
            f"“{attachment.filename}” was too large to keep; the original e-mail in the "
            "help-desk mailbox still has it.",
            status=410,
            content_type="text/plain; charset=utf-8",
        )
    kind = attachment.content_type.lower()
    response = HttpResponse(
        bytes(attachment.content),
        content_type=kind if _MEDIA_TYPE.match(kind) else "application/octet-stream",
    )
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=attachment.filename
    )
    response["X-Content-Type-Options"] = "nosniff"
    # Defence in depth should a browser display it anyway: no scripts, no same-origin access.
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "private, no-store"
    return response
