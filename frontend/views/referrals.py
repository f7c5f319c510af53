"""Referral with consent (issue 17): a facilitator suggests help from a directory service on a
member's record; she reads it on her own pages exactly as it would be shared, changes her part,
agrees or says no, and may withdraw her consent; once she agreed, staff print or download the
pack. The pages call the same services and selectors as the REST API; who may see what is
`safeguarding.policies`'s, and everyone else gets 404. No title, URL or file name carries her
name, the service or her words."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from frontend.views._common import _flash_errors, signed_in
from groups import selectors as group_selectors
from groups.policies import Action, can, group_for
from project.exceptions import ApplicationError
from safeguarding import selectors, services
from safeguarding.models import Referral
from safeguarding.policies import REFERRAL_OPEN

# Where each field of the two forms is, for the error summaries' links.
PROPOSE_FIELDS = {
    "service_id": "r-service",
    "share": "r-share-contact",
    "share_contact": "r-share-contact",
    "contact_route": "r-contact",
    "share_need": "r-share-need",
    "need": "r-need",
    "member_id": "r-service",
}
CHANGE_FIELDS = {
    "share": "r-keep-contact",
    "share_contact": "r-keep-contact",
    "contact_route": "r-contact",
    "share_need": "r-keep-need",
    "need": "r-need",
}


def _errors(exc: ApplicationError, anchors: dict[str, str]) -> dict[str, Any]:
    """Field messages, and the GOV.UK summary linking each to its field, in the page's order."""
    fields = exc.extra.get("fields") if isinstance(exc.extra, dict) else None
    texts = {name: " ".join(str(m) for m in msgs) for name, msgs in (fields or {}).items()}
    if not texts:
        texts = {"share": exc.message}
    order = list(dict.fromkeys(anchors))
    summary = [(anchors[name], texts[name]) for name in order if name in texts]
    summary += [(anchors["share"], t) for name, t in texts.items() if name not in anchors]
    return {"fields": texts, "summary": summary}


# --- staff: suggesting help, following it, the pack ------------------------------------------


@signed_in
@require_http_methods(["GET", "POST"])
def referral_propose(request: HttpRequest, group_id: int, member_id: int) -> HttpResponse:
    """Suggest help from a directory service for a member of the group, choosing exactly what
    would be shared. Nothing is shared until she agrees."""
    user = request.user
    found = group_for(user, group_id, Action.REFERRAL_PROPOSE, visible=Action.REFERRAL_PROPOSE)
    target = group_selectors.member_for_history(viewer=user, group=found, member_id=member_id)
    form = {
        "service_id": "",
        "share_contact": "",
        "contact_route": "",
        "share_need": "",
        "need": "",
    }
    errors: dict[str, Any] | None = None
    if request.method == "POST":
        form = {name: request.POST.get(name, "") for name in form}
        try:
            referral = services.referral_propose(
                actor=user,
                group_id=found.pk,
                member_id=target.pk,
                service_id=form["service_id"] or None,
                share_contact=form["share_contact"] == "1",
                contact_route=form["contact_route"],
                share_need=form["share_need"] == "1",
                need=form["need"],
            )
        except ApplicationError as exc:
            if exc.status == 404:
                raise
            errors = _errors(exc, PROPOSE_FIELDS)
        else:
            done = reverse("referral-staff", args=[found.pk, referral.pk])
            return HttpResponseRedirect(f"{done}?done=proposed")
    return render(
        request,
        "frontend/referral_propose.html",
        {
            "group": found,
            "target": target,
            "services": selectors.referral_services(),
            "form": form,
            "errors": errors,
            "contact_max": services.CONTACT_MAX,
            "need_max": services.NEED_MAX,
        },
        status=400 if errors else 200,
    )


def _staff_referral(request: HttpRequest, group_id: int, referral_id: int) -> tuple[Referral, bool]:
    referral, pack_open = selectors.referral_for_staff(viewer=request.user, referral_id=referral_id)
    if referral.group_id != group_id:
        raise Http404()
    return referral, pack_open


@signed_in
@require_safe
def referral_staff(request: HttpRequest, group_id: int, referral_id: int) -> HttpResponse:
    """A referral as staff follow it: its status and which facts, never her words; the pack
    once she agreed. A lead (who reads packs only) sees this page only while the pack is open."""
    referral, pack_open = _staff_referral(request, group_id, referral_id)
    may_propose = can(request.user, Action.REFERRAL_PROPOSE, group=group_id)
    return render(
        request,
        "frontend/referral_staff.html",
        {
            "referral": referral,
            "pack_open": pack_open,
            "may_cancel": may_propose and referral.status in REFERRAL_OPEN,
            "may_propose": may_propose,
            "done": request.GET.get("done", ""),
        },
    )


@signed_in
@require_POST
def referral_cancel(request: HttpRequest, group_id: int, referral_id: int) -> HttpResponse:
    referral, _pack = _staff_referral(request, group_id, referral_id)
    if not _flash_errors(
        request, lambda: services.referral_withdraw(actor=request.user, referral_id=referral.pk)
    ):
        return redirect("referral-staff", group_id=group_id, referral_id=referral.pk)
    done = reverse("referral-staff", args=[group_id, referral.pk])
    return HttpResponseRedirect(f"{done}?done=cancelled")


@never_cache
@signed_in
@require_safe
def referral_pack_page(request: HttpRequest, referral_id: int) -> HttpResponse:
    """The pack to print (the print style leaves the pack alone on the page). Audited."""
    pack = services.referral_pack(actor=request.user, referral_id=referral_id, form="print")
    return render(request, "frontend/referral_pack.html", {"pack": pack})


@never_cache
@signed_in
@require_safe
def referral_pack_file(request: HttpRequest, referral_id: int) -> HttpResponse:
    """The pack as a plain-text file with a neutral name. Audited."""
    pack = services.referral_pack(actor=request.user, referral_id=referral_id, form="file")
    response = HttpResponse(services.pack_text(pack), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="referral-{pack.referral_id}.txt"'
    return response


# --- hers: reading, changing, agreeing, saying no, withdrawing --------------------------------


@signed_in
@require_safe
def referrals_mine(request: HttpRequest) -> HttpResponse:
    """Help from other services suggested to her, waiting ones first."""
    rows = list(selectors.referrals_mine(viewer=request.user)[:50])
    return render(request, "frontend/referrals.html", {"referrals": rows})


def _her_referral_page(
    request: HttpRequest, referral: Referral, *, status: int = 200
) -> HttpResponse:
    return render(request, "frontend/referral.html", {"referral": referral}, status=status)


@signed_in
@require_http_methods(["GET", "POST"])
def referral_mine(request: HttpRequest, referral_id: int) -> HttpResponse:
    """Her referral, exactly as it would be shared; POST `answer` agrees (to the version she
    read) or says no, and each ends on a confirmation page."""
    referral = selectors.referral_detail(viewer=request.user, referral_id=referral_id)
    if request.method == "GET":
        return _her_referral_page(request, referral)
    answer = request.POST.get("answer")
    version = request.POST.get("version", "")
    answers = {
        "accept": lambda: services.referral_accept(
            actor=request.user,
            referral_id=referral.pk,
            version=int(version) if version.isdigit() else version,
        ),
        "decline": lambda: services.referral_decline(actor=request.user, referral_id=referral.pk),
    }
    if answer not in answers:
        raise Http404()
    if not _flash_errors(request, answers[answer]):
        return redirect("referral-mine", referral_id=referral.pk)
    return redirect("referral-done", referral_id=referral.pk)


@signed_in
@require_http_methods(["GET", "POST"])
def referral_change(request: HttpRequest, referral_id: int) -> HttpResponse:
    """She changes her part: her words, or stops sharing a fact. An agreed referral she
    changes asks her to agree again."""
    referral = selectors.referral_detail(viewer=request.user, referral_id=referral_id)
    form = {
        "contact_route": referral.contact_route,
        "need": referral.need,
        "keep_contact": "1" if referral.share_contact else "",
        "keep_need": "1" if referral.share_need else "",
    }
    errors: dict[str, Any] | None = None
    if request.method == "POST":
        form = {name: request.POST.get(name, "") for name in form}
        try:
            services.referral_update_by_member(
                actor=request.user,
                referral_id=referral.pk,
                contact_route=form["contact_route"] if referral.share_contact else None,
                need=form["need"] if referral.share_need else None,
                share_contact=form["keep_contact"] == "1" if referral.share_contact else None,
                share_need=form["keep_need"] == "1" if referral.share_need else None,
            )
        except ApplicationError as exc:
            if exc.status == 404:
                raise
            errors = _errors(exc, CHANGE_FIELDS)
        else:
            messages.success(
                request, _("Your changes are saved. Read it again, then say if you agree.")
            )
            return redirect("referral-mine", referral_id=referral.pk)
    return render(
        request,
        "frontend/referral_change.html",
        {
            "referral": referral,
            "form": form,
            "errors": errors,
            "contact_max": services.CONTACT_MAX,
            "need_max": services.NEED_MAX,
        },
        status=400 if errors else 200,
    )


@signed_in
@require_http_methods(["GET", "POST"])
def referral_withdraw(request: HttpRequest, referral_id: int) -> HttpResponse:
    """Withdrawing her consent asks first (GOV.UK confirmation), then ends on a panel."""
    referral = selectors.referral_detail(viewer=request.user, referral_id=referral_id)
    if request.method == "POST":
        if not _flash_errors(
            request, lambda: services.referral_withdraw(actor=request.user, referral_id=referral.pk)
        ):
            return redirect("referral-mine", referral_id=referral.pk)
        return redirect("referral-done", referral_id=referral.pk)
    return render(request, "frontend/referral_withdraw.html", {"referral": referral})


@signed_in
@require_safe
def referral_done(request: HttpRequest, referral_id: int) -> HttpResponse:
    """The confirmation panel after she answered: what happens now, by its status."""
    referral = selectors.referral_detail(viewer=request.user, referral_id=referral_id)
    return render(request, "frontend/referral_done.html", {"referral": referral})
