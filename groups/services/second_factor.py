"""The second factor of staff accounts: an authenticator app (TOTP) and one-time recovery codes.

Facilitators, safeguarding leads and admins (`groups.policies.needs_second_factor`) sign in with
their password and then a code; members stay password-only. Both devices are django-otp's: a
`TOTPDevice` (six digits every 30 seconds; a code is accepted once, and failures slow further
tries down, doubling each time) and a `StaticDevice` of recovery codes, each of which works once.
The secret and the codes are shown once, at enrolment (`staff_create` prints them).

Verification runs in its own transaction (callers are not inside one), so a wrong code's
throttling is committed even though the caller then refuses the request.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from groups.models import User
from project.exceptions import ValidationFailed

RECOVERY_CODES = 10
OTP_FIELD_MAX = 64
_SPACES = re.compile(r"[\s-]+")


@dataclass(frozen=True)
class Enrolment:
    """What a new staff member copies into her authenticator app and keeps safe; never stored
    in this form (django-otp keeps the key, and the codes, in its own tables)."""

    totp_secret: str  # base32, as authenticator apps take it
    recovery_codes: list[str]


@transaction.atomic
def second_factor_enrol(*, user: User) -> Enrolment:
    """Give `user` a new authenticator key and new recovery codes (old ones stop working)."""
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    totp = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    static = StaticDevice.objects.create(user=user, name="recovery codes", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=static, token=code) for code in codes])
    secret = base64.b32encode(totp.bin_key).decode("ascii")
    return Enrolment(totp_secret=secret, recovery_codes=codes)


def _normalised(code: Any) -> str:
    return _SPACES.sub("", str(code or "")).lower()[:OTP_FIELD_MAX]


def second_factor_verify(*, user: User, code: Any) -> Device | None:
    """The device that accepts `code` for `user` (six digits: her authenticator; anything
    else: one of her recovery codes, used up by this), or None."""
    text = _normalised(code)
    if not text:
        return None
    kind = TOTPDevice if text.isdigit() and len(text) == 6 else StaticDevice
    # Callers run outside any transaction that could roll back: a failure's throttling must
    # be kept even when the request is then refused.
    with transaction.atomic():
        for device in kind.objects.filter(user=user, confirmed=True).select_for_update():
            if device.verify_token(text):
                return device
    return None


def second_factor_required(*, user: User, code: Any) -> Device:
    """`second_factor_verify`, raising a field error on `otp` when the code is missing or wrong."""
    if not _normalised(code):
        raise ValidationFailed(
            {"otp": [_("Enter the 6-digit code from your authenticator app.")]},
            message=_("Enter the 6-digit code from your authenticator app."),
        )
    device = second_factor_verify(user=user, code=code)
    if device is None:
        raise ValidationFailed(
            {"otp": [_("That code did not work. Check the app and try the newest code.")]},
            message=_("That code did not work. Check the app and try the newest code."),
        )
    return device
