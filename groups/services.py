"""Writes for accounts, groups, the roster, invites and tokens.

Every function takes keyword-only arguments with the actor first, authorises through
`groups.policies`, runs in one transaction, writes an audit row where the action matters and
broadcasts only after commit (ARCHITECTURE.md rule 1).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import Subquery
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from groups.models import (
    Agreement,
    AgreementAcceptance,
    AgreementProposal,
    ApiToken,
    Group,
    GroupRole,
    Invite,
    Membership,
    MembershipStatus,
    OrgRole,
    ProposalStatus,
    User,
)
from groups.policies import Action, active_membership, is_signed_in, require
from project import realtime
from project.audit import audit_record
from project.exceptions import ApplicationError, Conflict, NotFound, ValidationFailed, parse_id

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,39}$")
DISPLAY_NAME_MIN, DISPLAY_NAME_MAX = 2, 40
GROUP_NAME_MAX = 120
GROUP_DESCRIPTION_MAX = 2000
RETENTION_DAYS_MIN, RETENTION_DAYS_MAX = 1, 365
INVITE_MAX_USES = 100
# Letters and digits that cannot be mistaken for one another when read aloud or typed.
INVITE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
INVITE_LENGTH = 12
CLOSE_REMOVED = 4403
CLOSE_SIGNED_OUT = 4401


class InvalidCredentials(ApplicationError):
    status = 400
    code = "invalid_credentials"


class LockedOut(ApplicationError):
    status = 429
    code = "locked_out"


# --- names -----------------------------------------------------------------------------------


def username_normalise(raw: Any) -> str:
    return unicodedata.normalize("NFKC", str(raw or "")).strip().lower()


def username_normalise_from_request(request: HttpRequest, credentials: dict[str, Any]) -> str:
    """django-axes hook: lockouts count against the same form of a username as logins do."""
    return username_normalise((credentials or {}).get("username"))


def _username_errors(username: str) -> list[str]:
    if not USERNAME_RE.fullmatch(username):
        return [
            _(
                "Use 3 to 40 letters, digits, dots, dashes or underscores, starting with a "
                "letter or digit. Please do not use your real name."
            )
        ]
    return []


def display_name_clean(raw: Any) -> tuple[str, str]:
    """Return (display name, comparison key) or raise a field error."""
    if not isinstance(raw, str):
        raise ValidationFailed({"display_name": [_("Choose a name for this group.")]})
    name = " ".join(unicodedata.normalize("NFC", raw).split())
    if any(unicodedata.category(ch) in {"Cc", "Cf", "Co", "Cs"} for ch in name):
        raise ValidationFailed({"display_name": [_("Use letters, digits and spaces only.")]})
    if not DISPLAY_NAME_MIN <= len(name) <= DISPLAY_NAME_MAX:
        raise ValidationFailed(
            {
                "display_name": [
                    _("Use between %(min)d and %(max)d characters.")
                    % {"min": DISPLAY_NAME_MIN, "max": DISPLAY_NAME_MAX}
                ]
            }
        )
    key = unicodedata.normalize("NFKC", name).casefold()
    return name, key


def _display_name_taken() -> Conflict:
    return Conflict(
        _("Someone in this group already uses that name. Please choose another."),
        code="display_name_taken",
    )


# --- tokens and sign-in ----------------------------------------------------------------------


def token_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def token_issue(*, user: User) -> str:
    """Create a bearer token for `user` and return it; only its hash is stored."""
    key = secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, key_hash=token_hash(key))
    return key


def token_sign_in(*, request: HttpRequest, username: Any, password: Any) -> str:
    """Check a username and password and return a new token.

    An unknown user and a wrong password get the same answer (Django's backend runs the
    hasher for unknown users too, so timing matches); django-axes counts failures per
    username + IP and answers `locked_out` once the limit is reached.
    """
    name = username_normalise(username)
    secret = password if isinstance(password, str) else ""
    user = authenticate(request=request, username=name, password=secret)
    if getattr(request, "axes_locked_out", False):
        raise LockedOut(
            _("Too many attempts. Please wait 15 minutes and try again."),
        )
    if user is None or not user.is_active:
        raise InvalidCredentials(_("That username and password do not match."))
    return token_issue(user=user)


@transaction.atomic
def token_revoke(*, actor: User, token: ApiToken | None, session_key: str | None = None) -> None:
    """Sign out: delete the token used (or end the browser session) and close its sockets."""
    if token is not None:
        token_id = token.pk
        token.delete()
        realtime.close_on_commit(realtime.token_group(token_id), CLOSE_SIGNED_OUT)
    if session_key:
        realtime.close_on_commit(realtime.auth_session_group(session_key), CLOSE_SIGNED_OUT)


# --- accounts --------------------------------------------------------------------------------


def _validated_new_account(username: Any, password: Any) -> tuple[str, str]:
    fields: dict[str, list[str]] = {}
    name = username_normalise(username)
    if not name:
        fields["username"] = [_("Choose a username.")]
    else:
        errors = _username_errors(name)
        if errors:
            fields["username"] = errors
    if not isinstance(password, str) or not password:
        fields["password"] = [_("Choose a password.")]
    elif len(password) > 128:
        fields["password"] = [_("Use at most 128 characters.")]
    else:
        try:
            validate_password(password, user=User(username=name))
        except DjangoValidationError as exc:
            fields["password"] = [str(m) for m in exc.messages]
    if fields:
        raise ValidationFailed(fields)
    return name, password


def account_create(*, username: Any, password: Any, org_role: str = OrgRole.NONE) -> User:
    """Create an account with only a username and a password."""
    name, secret = _validated_new_account(username, password)
    if User.objects.filter(username=name).exists():
        raise Conflict(_("That username is taken. Please choose another."), code="username_taken")
    user = User(username=name, org_role=org_role)
    user.set_password(secret)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise Conflict(
            _("That username is taken. Please choose another."), code="username_taken"
        ) from None
    return user


@transaction.atomic
def staff_create(*, actor: User | None, username: Any, password: Any, org_role: str) -> User:
    """Create a staff account (facilitator, safeguarding lead or admin) from the command line."""
    if org_role not in {OrgRole.FACILITATOR, OrgRole.SAFEGUARDING_LEAD, OrgRole.ADMIN}:
        raise ValidationFailed({"role": [_("Choose facilitator, safeguarding_lead or admin.")]})
    user = account_create(username=username, password=password, org_role=org_role)
    if org_role == OrgRole.ADMIN:
        user.is_staff = True
        user.is_superuser = True
        user.save(update_fields=["is_staff", "is_superuser"])
    audit_record(actor=actor, action="account.staff_created", target=user, extra={"role": org_role})
    return user


@transaction.atomic
def account_deactivate(*, actor: User | None, user: User) -> None:
    """Switch an account off: its tokens go, every live socket it has closes."""
    user.is_active = False
    user.save(update_fields=["is_active"])
    ApiToken.objects.filter(user=user).delete()
    audit_record(actor=actor, action="account.deactivated", target=user)
    realtime.close_on_commit(realtime.user_group(user.pk), CLOSE_SIGNED_OUT)


# --- groups ----------------------------------------------------------------------------------


def _group_fields(
    *, name: Any = None, description: Any = None, retention_days: Any = None, partial: bool
) -> dict[str, Any]:
    fields: dict[str, list[str]] = {}
    data: dict[str, Any] = {}
    if name is not None or not partial:
        text = " ".join(str(name or "").split()) if isinstance(name, str) or name is None else None
        if not text:
            fields["name"] = [_("Give the group a name.")]
        elif len(text) > GROUP_NAME_MAX:
            fields["name"] = [_("Use at most %(max)d characters.") % {"max": GROUP_NAME_MAX}]
        else:
            data["name"] = text
    if description is not None:
        if not isinstance(description, str):
            fields["description"] = [_("Describe the group in words.")]
        elif len(description) > GROUP_DESCRIPTION_MAX:
            fields["description"] = [
                _("Use at most %(max)d characters.") % {"max": GROUP_DESCRIPTION_MAX}
            ]
        else:
            data["description"] = description.strip()
    if retention_days is not None:
        if isinstance(retention_days, bool) or not isinstance(retention_days, int):
            fields["retention_days"] = [_("Give a whole number of days.")]
        elif not RETENTION_DAYS_MIN <= retention_days <= RETENTION_DAYS_MAX:
            fields["retention_days"] = [
                _("Keep messages between %(min)d and %(max)d days.")
                % {"min": RETENTION_DAYS_MIN, "max": RETENTION_DAYS_MAX}
            ]
        else:
            data["retention_days"] = retention_days
    if fields:
        raise ValidationFailed(fields)
    return data


@transaction.atomic
def group_create(*, actor: User, name: Any, description: Any, display_name: Any) -> Group:
    """Create a group; the actor becomes its facilitator under `display_name`."""
    require(actor, Action.GROUP_CREATE)
    data = _group_fields(name=name, description=description or "", partial=False)
    shown, key = display_name_clean(display_name)
    group = Group.objects.create(**data)
    membership = Membership.objects.create(
        group=group,
        user=actor,
        display_name=shown,
        display_name_key=key,
        role=GroupRole.FACILITATOR,
    )
    audit_record(actor=actor, action="group.created", target=group, group_id=group.pk)
    audit_record(
        actor=actor,
        action="member.joined",
        target=membership,
        group_id=group.pk,
        extra={"role": membership.role, "via": "group_create"},
    )
    return group


@transaction.atomic
def group_update(
    *,
    actor: User,
    group: Group,
    name: Any = None,
    description: Any = None,
    retention_days: Any = None,
) -> Group:
    require(actor, Action.GROUP_UPDATE, group=group)
    data = _group_fields(
        name=name, description=description, retention_days=retention_days, partial=True
    )
    changed = [field for field, value in data.items() if getattr(group, field) != value]
    for field in changed:
        setattr(group, field, data[field])
    if changed:
        group.save(update_fields=changed)
        audit_record(
            actor=actor,
            action="group.updated",
            target=group,
            group_id=group.pk,
            extra={"fields": sorted(changed)},
        )
    return group


# --- roster ----------------------------------------------------------------------------------


def _member_in_group(group: Group, member_id: Any, *, lock: bool = False) -> Membership:
    queryset = Membership.objects.filter(
        group=group, pk=parse_id(member_id), status=MembershipStatus.ACTIVE
    )
    if lock:
        queryset = queryset.select_for_update()
    membership = queryset.first()
    if membership is None:
        raise NotFound()
    return membership


def _facilitator_count(group: Group) -> int:
    return (
        Membership.objects.select_for_update()
        .filter(group=group, role=GroupRole.FACILITATOR, status=MembershipStatus.ACTIVE)
        .count()
    )


def _last_facilitator() -> Conflict:
    return Conflict(
        _("A group always needs a facilitator. Make someone else facilitator first."),
        code="last_facilitator",
    )


@transaction.atomic
def member_change_role(*, actor: User, group: Group, member_id: Any, role: Any) -> Membership:
    require(actor, Action.MEMBER_CHANGE_ROLE, group=group)
    if role not in GroupRole.values:
        raise ValidationFailed({"role": [_("Choose facilitator, peer_mentor or member.")]})
    membership = _member_in_group(group, member_id, lock=True)
    if membership.role == role:
        return membership
    if role == GroupRole.FACILITATOR and membership.user.org_role not in {
        OrgRole.FACILITATOR,
        OrgRole.ADMIN,
    }:
        raise ValidationFailed(
            {"role": [_("Only staff accounts with the facilitator role can facilitate.")]}
        )
    if membership.role == GroupRole.FACILITATOR and _facilitator_count(group) <= 1:
        raise _last_facilitator()
    previous = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(
        actor=actor,
        action="member.role_changed",
        target=membership,
        group_id=group.pk,
        extra={"from": previous, "to": role},
    )
    realtime.broadcast_on_commit(
        realtime.member_group(membership.pk),
        {"type": "member.role_changed", "member_id": membership.pk, "role": role},
    )
    return membership


@transaction.atomic
def member_remove(*, actor: User, group: Group, member_id: Any) -> None:
    """Remove a member (facilitators), or leave (a member removing herself).

    Her live connections to the group's sessions close with 4403. A member who left may come
    back with a new invite; one who was removed may not.
    """
    mine = active_membership(actor, group)
    target_id = parse_id(member_id)
    leaving = mine is not None and mine.pk == target_id
    require(
        actor,
        Action.MEMBER_LEAVE if leaving else Action.MEMBER_REMOVE,
        group=group,
        membership=mine,
    )
    membership = _member_in_group(group, target_id, lock=True)
    if membership.role == GroupRole.FACILITATOR and _facilitator_count(group) <= 1:
        raise _last_facilitator()
    membership.status = MembershipStatus.LEFT if leaving else MembershipStatus.REMOVED
    membership.ended_at = timezone.now()
    membership.save(update_fields=["status", "ended_at"])
    audit_record(
        actor=actor,
        action="member.left" if leaving else "member.removed",
        target=membership,
        group_id=group.pk,
        extra={"role": membership.role},
    )
    realtime.close_on_commit(realtime.member_group(membership.pk), CLOSE_REMOVED)


# --- invites ---------------------------------------------------------------------------------


def invite_code_new() -> str:
    raw = "".join(secrets.choice(INVITE_ALPHABET) for _ in range(INVITE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, INVITE_LENGTH, 4))


def invite_code_hash(code: Any) -> str:
    """Hash of a code as typed: case, spaces and dashes do not matter."""
    canonical = re.sub(r"[\s-]", "", str(code or "")).upper()
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@transaction.atomic
def invite_create(
    *,
    actor: User,
    group: Group,
    role: Any = GroupRole.MEMBER,
    max_uses: Any = None,
    expires_in_hours: Any = None,
) -> tuple[Invite, str]:
    """Create an invite and return it with its code; the code is shown this once only."""
    require(actor, Action.INVITE_MANAGE, group=group)
    fields: dict[str, list[str]] = {}
    if role not in {GroupRole.MEMBER, GroupRole.PEER_MENTOR}:
        fields["role"] = [_("Invite as member or peer_mentor.")]
    uses = 1 if max_uses is None else max_uses
    if isinstance(uses, bool) or not isinstance(uses, int) or not 1 <= uses <= INVITE_MAX_USES:
        fields["max_uses"] = [_("Between 1 and %(max)d uses.") % {"max": INVITE_MAX_USES}]
    hours = settings.HAVEN_INVITE_DEFAULT_HOURS if expires_in_hours is None else expires_in_hours
    max_hours = settings.HAVEN_INVITE_MAX_HOURS
    if isinstance(hours, bool) or not isinstance(hours, int) or not 1 <= hours <= max_hours:
        fields["expires_in_hours"] = [_("Between 1 and %(max)d hours.") % {"max": max_hours}]
    if fields:
        raise ValidationFailed(fields)
    code = invite_code_new()
    invite = Invite.objects.create(
        group=group,
        code_hash=invite_code_hash(code),
        role=role,
        max_uses=uses,
        expires_at=timezone.now() + timedelta(hours=hours),
        created_by=actor,
    )
    audit_record(
        actor=actor,
        action="invite.created",
        target=invite,
        group_id=group.pk,
        extra={"role": role, "max_uses": uses, "hours": hours},
    )
    return invite, code


@transaction.atomic
def invite_revoke(*, actor: User, group: Group, invite_id: Any) -> None:
    require(actor, Action.INVITE_MANAGE, group=group)
    invite = Invite.objects.select_for_update().filter(group=group, pk=parse_id(invite_id)).first()
    if invite is None:
        raise NotFound()
    if invite.revoked_at is None:
        invite.revoked_at = timezone.now()
        invite.save(update_fields=["revoked_at"])
        audit_record(actor=actor, action="invite.revoked", target=invite, group_id=group.pk)


@transaction.atomic
def invite_redeem(
    *,
    actor: Any,
    code: Any,
    display_name: Any,
    username: Any = None,
    password: Any = None,
) -> tuple[Membership, str | None]:
    """Join a group with an invite code; returns the membership and a token for a new account.

    Someone signed in joins with her account and only chooses a display name; anyone else
    creates an account with a username and a password. An unknown, expired, revoked or used-up
    code is not found. A member removed by a facilitator cannot come back through an invite.
    """
    invite = (
        Invite.objects.select_for_update()
        .select_related("group")
        .filter(code_hash=invite_code_hash(code))
        .first()
    )
    if invite is None or not invite.usable():
        raise NotFound(_("This invite code is not valid. It may have expired or been used."))
    group = invite.group
    shown, key = display_name_clean(display_name)
    signed_in = is_signed_in(actor)
    token: str | None = None
    if signed_in:
        user = actor
        existing = Membership.objects.select_for_update().filter(group=group, user=user).first()
        if existing is not None and existing.status == MembershipStatus.ACTIVE:
            raise Conflict(_("You are already in this group."), code="already_member")
        if existing is not None and existing.status == MembershipStatus.REMOVED:
            raise NotFound(_("This invite code is not valid. It may have expired or been used."))
    else:
        existing = None
    if (
        Membership.objects.filter(group=group, display_name_key=key)
        .exclude(pk=getattr(existing, "pk", None))
        .exists()
    ):
        raise _display_name_taken()
    if not signed_in:
        user = account_create(username=username, password=password)
    try:
        with transaction.atomic():
            if existing is not None:
                existing.display_name, existing.display_name_key = shown, key
                existing.role = invite.role
                existing.status = MembershipStatus.ACTIVE
                existing.joined_at, existing.ended_at = timezone.now(), None
                existing.save()
                membership = existing
            else:
                membership = Membership.objects.create(
                    group=group,
                    user=user,
                    display_name=shown,
                    display_name_key=key,
                    role=invite.role,
                )
    except IntegrityError:
        raise _display_name_taken() from None
    invite.uses += 1
    invite.save(update_fields=["uses"])
    if not signed_in:
        token = token_issue(user=user)
    audit_record(
        actor=user,
        action="invite.redeemed",
        target=invite,
        group_id=group.pk,
        extra={"member_id": membership.pk, "role": membership.role, "new_account": not signed_in},
    )
    return membership, token


# --- boundary agreements ---------------------------------------------------------------------

AGREEMENT_MAX_POINTS = 30
AGREEMENT_POINT_MAX = 500
PROPOSAL_TEXT_MAX = 1000
PROPOSAL_NOTE_MAX = 500


def _clean_points(points: Any) -> list[str]:
    if not isinstance(points, list) or not points:
        raise ValidationFailed({"points": [_("Write at least one point.")]})
    if len(points) > AGREEMENT_MAX_POINTS:
        raise ValidationFailed(
            {"points": [_("Use at most %(max)d points.") % {"max": AGREEMENT_MAX_POINTS}]}
        )
    cleaned: list[str] = []
    for index, point in enumerate(points):
        text = point.strip() if isinstance(point, str) else ""
        if not text:
            raise ValidationFailed({f"points.{index}": [_("A point cannot be empty.")]})
        if len(text) > AGREEMENT_POINT_MAX:
            raise ValidationFailed(
                {
                    f"points.{index}": [
                        _("Use at most %(max)d characters.") % {"max": AGREEMENT_POINT_MAX}
                    ]
                }
            )
        cleaned.append(text)
    return cleaned


@transaction.atomic
def agreement_publish(*, actor: User, group: Group, points: Any) -> Agreement:
    """Publish a new version; everyone must accept it again before entering a session.

    The facilitator who publishes it accepts it by publishing.
    """
    membership = active_membership(actor, group)
    require(actor, Action.AGREEMENT_PUBLISH, group=group, membership=membership)
    cleaned = _clean_points(points)
    # Lock the group row so two publishers cannot take the same version number.
    Group.objects.select_for_update().filter(pk=group.pk).first()
    latest = Agreement.objects.filter(group=group).order_by("-version").first()
    agreement = Agreement.objects.create(
        group=group,
        version=(latest.version + 1) if latest else 1,
        points=cleaned,
        published_by=actor,
    )
    if membership is not None:
        AgreementAcceptance.objects.create(membership=membership, agreement=agreement)
    audit_record(
        actor=actor,
        action="agreement.published",
        target=agreement,
        group_id=group.pk,
        extra={"version": agreement.version, "points": len(cleaned)},
    )
    return agreement


def agreement_current(group: Group | int) -> Agreement | None:
    group_id = group.pk if isinstance(group, Group) else group
    return Agreement.objects.filter(group_id=group_id).order_by("-version").first()


def agreement_accepted_current(member: Membership) -> bool:
    """Has this member accepted her group's current agreement? (The live room asks the same
    in the one read of `facilitation.services.room_enter`.)

    A group with no published agreement has nothing to accept: sessions cannot open then.
    """
    # One query, and the agreement's (encrypted) text is never read: entering a room asks this.
    current = (
        Agreement.objects.filter(group_id=member.group_id).order_by("-version").values("pk")[:1]
    )
    return AgreementAcceptance.objects.filter(
        membership=member, agreement_id=Subquery(current)
    ).exists()


@transaction.atomic
def agreement_accept(*, actor: User, group: Group, version: Any) -> Agreement:
    membership = active_membership(actor, group)
    require(actor, Action.AGREEMENT_ACCEPT, group=group, membership=membership)
    if membership is None:  # AGREEMENT_ACCEPT is held only through a membership
        raise NotFound()
    current = agreement_current(group)
    if current is None:
        raise NotFound(_("This group has no agreement yet."), code="no_agreement")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ValidationFailed({"version": [_("Give the version number you read.")]})
    if version != current.version:
        raise Conflict(
            _("The agreement has changed. Please read the current version and accept that."),
            code="not_current_version",
            extra={"current_version": current.version},
        )
    _acceptance, created = AgreementAcceptance.objects.get_or_create(
        membership=membership, agreement=current
    )
    if created:
        audit_record(
            actor=actor,
            action="agreement.accepted",
            target=current,
            group_id=group.pk,
            extra={"version": current.version, "member_id": membership.pk},
        )
    return current


@transaction.atomic
def proposal_create(*, actor: User, group: Group, text: Any) -> AgreementProposal:
    membership = active_membership(actor, group)
    require(actor, Action.PROPOSAL_CREATE, group=group, membership=membership)
    cleaned = text.strip() if isinstance(text, str) else ""
    if not cleaned:
        raise ValidationFailed({"text": [_("Write the point you would like added.")]})
    if len(cleaned) > PROPOSAL_TEXT_MAX:
        raise ValidationFailed(
            {"text": [_("Use at most %(max)d characters.") % {"max": PROPOSAL_TEXT_MAX}]}
        )
    proposal = AgreementProposal.objects.create(group=group, proposer=membership, text=cleaned)
    audit_record(actor=actor, action="proposal.created", target=proposal, group_id=group.pk)
    return proposal


@transaction.atomic
def proposal_decide(
    *, actor: User, group: Group, proposal_id: Any, status: Any, note: Any = ""
) -> AgreementProposal:
    require(actor, Action.PROPOSAL_REVIEW, group=group)
    proposal = (
        AgreementProposal.objects.select_for_update()
        .filter(group=group, pk=parse_id(proposal_id))
        .first()
    )
    if proposal is None:
        raise NotFound()
    fields: dict[str, list[str]] = {}
    if status not in {ProposalStatus.ADOPTED, ProposalStatus.DECLINED}:
        fields["status"] = [_("Choose adopted or declined.")]
    note_text = note.strip() if isinstance(note, str) else ""
    if note is not None and not isinstance(note, str):
        fields["note"] = [_("Write the note in words.")]
    elif len(note_text) > PROPOSAL_NOTE_MAX:
        fields["note"] = [_("Use at most %(max)d characters.") % {"max": PROPOSAL_NOTE_MAX}]
    if fields:
        raise ValidationFailed(fields)
    proposal.status = status
    proposal.response_note = note_text
    proposal.decided_at = timezone.now()
    proposal.save(update_fields=["status", "response_note", "decided_at"])
    audit_record(
        actor=actor,
        action="proposal.decided",
        target=proposal,
        group_id=group.pk,
        extra={"status": status},
    )
    return proposal
