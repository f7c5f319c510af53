"""Accounts, the names people go by, signing in and out, and bearer tokens.

Usernames and display names keep their own validators (Unicode normalisation, control
characters, a minimum length); the text a person types elsewhere goes through
`project.text.clean_text`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth import SESSION_KEY, authenticate, login, logout
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session as BrowserSession
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from groups.models import ApiToken, Membership, OrgRole, ResetCode, User, token_live_after
from groups.policies import STAFF_ROLES, Action, needs_second_factor, require
from groups.services.second_factor import Enrolment, second_factor_enrol, second_factor_required
from groups.services.slowdown import slowdown_check, slowdown_clear, slowdown_failed
from groups.sql import token_statements
from project import closecodes, languages, realtime
from project.audit import audit_record
from project.exceptions import ApplicationError, Conflict, ValidationFailed
from project.sql import db_time, model_load, prepared_cursor

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,39}$")
# The username column's width: a sign-in attempt longer than any username is refused as input.
USERNAME_FIELD_MAX = 150
PASSWORD_MAX = 128
DISPLAY_NAME_MIN, DISPLAY_NAME_MAX = 2, 40
# The session keys naming the account whose second factor a browser still owes (pages), and
# since when: she has `PENDING_SECONDS` to type the code, then signs in again.
PENDING_KEY = "haven_pending_user"
PENDING_AT_KEY = "haven_pending_at"
PENDING_SECONDS = 300
# The only backend a signed-in browser session names (django-axes checks before it).
SESSION_BACKEND = "django.contrib.auth.backends.ModelBackend"


class InvalidCredentials(ApplicationError):
    status = 400
    code = "invalid_credentials"


class LockedOut(ApplicationError):
    status = 429
    code = "locked_out"


# --- names -----------------------------------------------------------------------------------


def username_normalise(raw: Any) -> str:
    """The one form of a username that is stored, signed in with and counted for lockouts."""
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


def display_name_taken() -> Conflict:
    return Conflict(
        _("Someone in this group already uses that name. Please choose another."),
        code="display_name_taken",
    )


# --- tokens and signing in -------------------------------------------------------------------


def token_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


# How stale a token's `last_used_at` may get before a use writes it again: idle expiry is
# counted in hours, and a write on every request would cost every API call a row update.
TOKEN_TOUCH_EVERY = timedelta(minutes=1)


def token_issue(*, user: User) -> str:
    """Create a bearer token for `user` and return it; only its hash is stored. Her tokens that
    have expired go at the same time."""
    key = secrets.token_urlsafe(32)
    ApiToken.objects.filter(user=user).exclude(pk__in=ApiToken.objects.live().values("pk")).delete()
    ApiToken.objects.create(user=user, key_hash=token_hash(key))
    return key


def token_authenticate(*, key: str) -> tuple[User, ApiToken] | None:
    """The account and token a bearer key signs in, or None: unknown, expired
    (`groups.models.token_live_after`) or a deactivated account. A use moves the token's idle
    clock on.

    Checked in full on every call, nothing cached, so a revoked token (its row deleted) never
    signs in again. Plain SQL because every reconnecting phone asks (issue 20: the ORM's
    compiler was a tenth of the server's time in a restart storm); the rows come back as the
    models' own instances (`project.sql.model_load`). Room entry checks a token with the same
    `TokenCheck`, in its own read (`facilitation.services.entry.room_enter_with_token`)."""
    check = TokenCheck(key)
    read, touch = token_statements()
    with prepared_cursor() as cursor:
        cursor.execute(read, check.params)
        found = check.found(cursor.fetchone())
        if found is not None and check.touch is not None:
            cursor.execute(touch, check.touch)
    return found


class TokenCheck:
    """One bearer key's check, apart from where its statements run: `params` for the read
    (`groups.sql.token_statements`), `found` decides on its row, and then `touch` holds the
    parameters of the idle clock's write when it is due (None when not) and `end` where the
    row's columns after the token's and her account's begin (a statement that reads more
    beside them: `facilitation.sql.room()["enter_with_token"]`)."""

    def __init__(self, key: str) -> None:
        self.now = timezone.now()
        issued_after, used_after = token_live_after(self.now)
        self.params: list[Any] = [token_hash(key), db_time(issued_after), db_time(used_after)]
        # Her token's idle clock is due a write when it was last moved before this.
        self.due_before = self.now - TOKEN_TOUCH_EVERY
        self.touch: list[Any] | None = None
        self.end = 0

    def found(self, row: Any) -> tuple[User, ApiToken] | None:
        if row is None:
            return None
        token, start = model_load(ApiToken, row)
        user, self.end = model_load(User, row, start)
        if token is None or user is None or not user.is_active:
            return None
        if token.last_used_at < self.due_before:
            self.touch = [db_time(self.now), token.pk]
            token.last_used_at = self.now
        token.user = user
        return user, token


def credentials_check(*, request: HttpRequest, username: Any, password: Any) -> User:
    """The account a username and password belong to, for every way of signing in.

    An unknown user and a wrong password get the same answer (Django's backend runs the
    hasher for unknown users too, so timing matches); django-axes counts failures per
    username + IP and answers `locked_out` once the limit is reached; past
    HAVEN_USERNAME_FAILURE_LIMIT failures from anywhere, the username is slowed down
    (`groups.services.slowdown`: 429 `rate_limited`, never a lockout).
    """
    name = username_normalise(username)
    secret = password if isinstance(password, str) else ""
    slowdown_check(name)
    user = authenticate(request=request, username=name, password=secret)
    if getattr(request, "axes_locked_out", False):
        raise LockedOut(
            _("Too many attempts. Please wait 15 minutes and try again."),
        )
    if user is None or not user.is_active:
        slowdown_failed(name)
        raise InvalidCredentials(_("That username and password do not match."))
    slowdown_clear(name)
    return user


def token_sign_in(*, request: HttpRequest, username: Any, password: Any, otp: Any = None) -> str:
    """Check a username and password (`credentials_check`) and, for staff, the code from
    their authenticator app or a recovery code (`otp`; a 400 field error on `otp` when it is
    missing or wrong); then return a new token."""
    user = credentials_check(request=request, username=username, password=password)
    if needs_second_factor(user):
        second_factor_required(user=user, code=otp)
    return token_issue(user=user)


def session_start(*, request: HttpRequest, user: User) -> None:
    """Sign a browser in as `user` (after her credentials were checked, or her account made)."""
    login(request, user, backend=SESSION_BACKEND)


def session_sign_in(*, request: HttpRequest, username: Any, password: Any) -> User:
    """Sign a browser in: the same check as `token_sign_in`, then a cookie session.

    Staff are not signed in yet: the browser remembers, for `PENDING_SECONDS`, whose code it
    waits for (`session_second_factor`); nothing else treats it as signed in meanwhile.
    """
    user = credentials_check(request=request, username=username, password=password)
    if needs_second_factor(user):
        request.session.cycle_key()
        request.session[PENDING_KEY] = user.pk
        request.session[PENDING_AT_KEY] = int(timezone.now().timestamp())
        return user
    session_start(request=request, user=user)
    return user


def session_pending_user(*, request: HttpRequest) -> User | None:
    """The staff account whose code this browser waits for, or None (none, or too late)."""
    user_id = request.session.get(PENDING_KEY)
    started = request.session.get(PENDING_AT_KEY, 0)
    if user_id is None or timezone.now().timestamp() - started > PENDING_SECONDS:
        return None
    return User.objects.filter(pk=user_id, is_active=True).first()


def session_second_factor(*, request: HttpRequest, code: Any) -> User:
    """Finish a staff sign-in with her code: the browser is signed in, and verified
    (django-otp's session record), only now. A wrong code is a field error on `otp`."""
    from django_otp import login as otp_login

    from project.exceptions import NotFound

    user = session_pending_user(request=request)
    if user is None:
        raise NotFound(_("Please sign in again."), code="sign_in_again")
    device = second_factor_required(user=user, code=code)
    for key in (PENDING_KEY, PENDING_AT_KEY):
        request.session.pop(key, None)
    session_start(request=request, user=user)
    otp_login(request, device)
    return user


@transaction.atomic
def token_revoke(*, actor: User, token: ApiToken | None, session_key: str | None = None) -> None:
    """Sign out: delete the token used (or end the browser session) and close its sockets."""
    if token is not None:
        token_id = token.pk
        token.delete()
        realtime.close_on_commit(realtime.token_group(token_id), closecodes.NOT_SIGNED_IN)
    if session_key:
        realtime.close_on_commit(realtime.auth_session_group(session_key), closecodes.NOT_SIGNED_IN)


def session_end(*, request: HttpRequest) -> None:
    """Sign a browser out: its live-room sockets closed (`token_revoke`), its session flushed.
    The one way a browser is signed out: the sign-out page and its beacon, the quick exit's
    mark (`groups.middleware.QuickExitMiddleware`), a REST revoke made with the cookie."""
    user = request.user
    if user.is_authenticated:
        token_revoke(actor=user, token=None, session_key=request.session.session_key)
    logout(request)


def _sessions_of(user: User) -> list[str]:
    """Keys of the browser sessions signed in as `user` (or waiting for her second factor).

    Django's database sessions are not indexed by account, so this reads the unexpired ones;
    they last 8 hours at most, so there are few.
    """
    from django.contrib.sessions.models import Session

    wanted = str(user.pk)
    keys = []
    for row in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        data = row.get_decoded()
        if str(data.get(SESSION_KEY)) == wanted or str(data.get(PENDING_KEY)) == wanted:
            keys.append(row.session_key)
    return keys


@transaction.atomic
def sign_out_everywhere(*, actor: User) -> None:
    """Sign her out on every device: every token and browser session of hers ends, and every
    live socket she has closes (4401), as a sign-out does for one."""
    from django.contrib.sessions.models import Session

    ApiToken.objects.filter(user=actor).delete()
    Session.objects.filter(session_key__in=_sessions_of(actor)).delete()
    audit_record(actor=actor, action="account.signed_out_everywhere", target=actor)
    realtime.close_on_commit(realtime.user_group(actor.pk), closecodes.NOT_SIGNED_IN)


def credentials_purge_expired(*, dry_run: bool = False) -> dict[str, int]:
    """Delete what can no longer sign anyone in: tokens past their idle or absolute expiry
    (`ApiToken.objects.live()` is the one spelling of it) and browser sessions past their
    expiry. Run by `manage.py purge_expired`; idempotent. `dry_run` counts them and deletes
    nothing."""
    from django.contrib.sessions.models import Session

    dead_tokens = ApiToken.objects.exclude(pk__in=ApiToken.objects.live().values("pk"))
    dead_sessions = Session.objects.filter(expire_date__lte=timezone.now())
    if dry_run:
        return {"tokens": dead_tokens.count(), "sessions": dead_sessions.count()}
    tokens, _kinds = dead_tokens.delete()
    sessions, _kinds = dead_sessions.delete()
    return {"tokens": tokens, "sessions": sessions}


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
    elif len(password) > PASSWORD_MAX:
        fields["password"] = [_("Use at most %(max)d characters.") % {"max": PASSWORD_MAX}]
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


@dataclass(frozen=True)
class StaffCreated:
    """A new staff account, with what she must copy once: her authenticator secret and her
    recovery codes (`second_factor.Enrolment`)."""

    user: User
    enrolment: Enrolment


@transaction.atomic
def staff_create(
    *, actor: User | None, username: Any, password: Any, org_role: str
) -> StaffCreated:
    """Create a staff account (facilitator, safeguarding lead or admin) from the command line,
    enrolled in the second factor."""
    if org_role not in STAFF_ROLES:
        raise ValidationFailed({"role": [_("Choose facilitator, safeguarding_lead or admin.")]})
    user = account_create(username=username, password=password, org_role=org_role)
    if org_role == OrgRole.ADMIN:
        user.is_staff = True
        user.is_superuser = True
        user.save(update_fields=["is_staff", "is_superuser"])
    enrolment = second_factor_enrol(user=user)
    audit_record(actor=actor, action="account.staff_created", target=user, extra={"role": org_role})
    return StaffCreated(user=user, enrolment=enrolment)


@transaction.atomic
def account_deactivate(*, actor: User | None, user: User) -> None:
    """Switch an account off: its tokens and browser sessions go, every live socket it has
    closes."""
    from django.contrib.sessions.models import Session

    user.is_active = False
    user.save(update_fields=["is_active"])
    ApiToken.objects.filter(user=user).delete()
    Session.objects.filter(session_key__in=_sessions_of(user)).delete()
    audit_record(actor=actor, action="account.deactivated", target=user)
    realtime.close_on_commit(realtime.user_group(user.pk), closecodes.NOT_SIGNED_IN)


# --- a member's one-time reset code (issue 16) -----------------------------------------------

RESET_CODE_HOURS = 24
_RESET_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_RESET_SEPARATORS = re.compile(r"[\s-]+")


def _reset_code_key(code: Any) -> str:
    """The code as typed, without spaces or dashes and in small letters, hashed like a token."""
    text = code if isinstance(code, str) else ""
    return token_hash(_RESET_SEPARATORS.sub("", text).lower()[:64])


@transaction.atomic
def reset_code_issue(*, actor: User, member: Membership) -> str:
    """A one-time code for a member who forgot her password, shown once to the facilitator of
    her group or the admin who asked (to hand over in person); any older code of hers stops
    working. Audited without the code."""
    require(actor, Action.MEMBER_RESET_CODE, group=member.group_id, visible=Action.MEMBER_HISTORY)
    user = member.user
    if user is None or user.org_role != OrgRole.NONE or not user.is_active:
        raise Conflict(_("Only a member's account gets a reset code here."), code="not_a_member")
    code = "-".join("".join(secrets.choice(_RESET_ALPHABET) for _ in range(4)) for _ in range(4))
    ResetCode.objects.filter(user=user).delete()
    ResetCode.objects.create(
        user=user,
        code_hash=_reset_code_key(code),
        created_by=actor,
        expires_at=timezone.now() + timedelta(hours=RESET_CODE_HOURS),
    )
    audit_record(
        actor=actor,
        action="account.reset_code_issued",
        target=user,
        group_id=member.group_id,
        extra={"member_id": member.pk},
    )
    return code


@transaction.atomic
def password_reset_with_code(*, username: Any, code: Any, password: Any) -> User:
    """She chooses a new password with her username and the code: the code is used up, every
    session, token and socket of hers ends. A wrong or old code says only that it does not work
    (nothing tells whether the username exists) and counts towards the username's slowdown."""
    fields: dict[str, list[str]] = {}
    name = username_normalise(username)
    if not name:
        fields["username"] = [_("Enter your username.")]
    if not isinstance(code, str) or not code.strip():
        fields["code"] = [_("Enter the code you were given.")]
    try:
        _validated_new_account(name or "someone", password)
    except ValidationFailed as exc:
        if "password" in exc.extra["fields"]:
            fields["password"] = exc.extra["fields"]["password"]
    if fields:
        raise ValidationFailed(fields)
    slowdown_check(name)
    found = (
        ResetCode.objects.select_for_update()
        .filter(
            code_hash=_reset_code_key(code),
            user__username=name,
            user__is_active=True,
            expires_at__gt=timezone.now(),
        )
        .select_related("user")
        .first()
    )
    if found is None:
        slowdown_failed(name)
        raise ValidationFailed(
            {"code": [_("That code does not work. Ask the staff for a new one.")]}
        )
    user = found.user
    user.set_password(password)
    user.save(update_fields=["password"])
    ResetCode.objects.filter(user=user).delete()
    slowdown_clear(name)
    ApiToken.objects.filter(user=user).delete()
    BrowserSession.objects.filter(session_key__in=_sessions_of(user)).delete()
    audit_record(actor=user, action="account.password_reset_with_code", target=user)
    realtime.close_on_commit(realtime.user_group(user.pk), closecodes.NOT_SIGNED_IN)
    return user


# --- issue 17: her password and her name in a group, from Settings ----------------------------


@transaction.atomic
def password_change(*, actor: User, current: Any, new: Any, keep_session: str | None) -> None:
    """She changes her password with her current one. Every other browser session and token of
    hers ends (the browser she is using, `keep_session`, stays signed in) and her live sockets
    close. A wrong current password counts towards her username's slowdown. Audited without
    text; nothing is written on any error."""
    fields: dict[str, list[str]] = {}
    if not isinstance(current, str) or not current:
        fields["current"] = [_("Enter your current password.")]
    try:
        _validated_new_account(actor.username, new)
    except ValidationFailed as exc:
        if "password" in exc.extra["fields"]:
            fields["password"] = exc.extra["fields"]["password"]
    if fields:
        raise ValidationFailed(fields)
    slowdown_check(actor.username)
    if not actor.check_password(current):
        slowdown_failed(actor.username)
        raise ValidationFailed({"current": [_("That is not your current password.")]})
    if current == new:
        raise ValidationFailed({"password": [_("Choose a password you have not used here.")]})
    actor.set_password(new)
    actor.save(update_fields=["password"])
    slowdown_clear(actor.username)
    ApiToken.objects.filter(user=actor).delete()
    BrowserSession.objects.filter(session_key__in=_sessions_of(actor)).exclude(
        session_key=keep_session or ""
    ).delete()
    audit_record(actor=actor, action="account.password_changed", target=actor)
    realtime.close_on_commit(realtime.user_group(actor.pk), closecodes.NOT_SIGNED_IN)


@transaction.atomic
def display_name_change(*, actor: User, membership_id: Any, display_name: Any) -> Membership:
    """She changes her name in one of her groups: checked as when joining (letters, digits and
    spaces; unique in the group). Audited without the name."""
    from groups.policies import active_membership
    from project.exceptions import NotFound, parse_id

    found = (
        Membership.objects.select_for_update()
        .filter(pk=parse_id(membership_id), user_id=getattr(actor, "pk", None))
        .first()
    )
    if found is None or active_membership(actor, found.group_id) is None:
        raise NotFound()
    require(actor, Action.MEMBER_RENAME_SELF, group=found.group_id)
    shown, key = display_name_clean(display_name)
    if (
        Membership.objects.filter(group_id=found.group_id, display_name_key=key)
        .exclude(pk=found.pk)
        .exists()
    ):
        raise ValidationFailed({"display_name": [display_name_taken().message]})
    if shown == found.display_name:
        return found
    found.display_name, found.display_name_key = shown, key
    try:
        with transaction.atomic():
            found.save(update_fields=["display_name", "display_name_key"])
    except IntegrityError:
        raise ValidationFailed({"display_name": [display_name_taken().message]}) from None
    audit_record(actor=actor, action="member.renamed", target=found, group_id=found.group_id)
    return found


def what_to_expect_read(*, actor: User) -> None:
    """She opened "What to expect" signed in: her first-run checklist ticks it (issue 17).

    The first moment is kept; one conditional update, nothing when it is already set, so a
    page view costs no write after the first."""
    if not getattr(actor, "is_authenticated", False) or actor.read_what_to_expect_at is not None:
        return
    moment = timezone.now()
    User.objects.filter(pk=actor.pk, read_what_to_expect_at__isnull=True).update(
        read_what_to_expect_at=moment
    )
    actor.read_what_to_expect_at = moment


def language_choose(*, actor: User | None, language: Any) -> str:
    """Check a language choice (a code of settings.LANGUAGES) and, for a signed-in person,
    keep it on her account, where every page and her room connections read it. Returns the
    code. Signed out, nothing is written: the page keeps the choice in this browser."""
    chosen = languages.supported(language)
    if chosen is None:
        raise ValidationFailed({"language": [_("Choose one of the languages in the list.")]})
    if actor is not None and actor.is_authenticated and actor.language != chosen:
        User.objects.filter(pk=actor.pk).update(language=chosen)
        actor.language = chosen
    return chosen
