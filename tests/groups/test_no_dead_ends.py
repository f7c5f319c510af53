"""No dead ends (issue 17): leaving a group asks first and says "You left the group"; a break
folds the group away in My groups without leaving it, and she can undo it; the join form keeps
what she typed after an error; she changes her password and her name in a group from Settings;
her data warns before the download and erasure ends on a page that says it worked."""

from __future__ import annotations

import pytest
from django.test import Client

from groups.models import Membership, MembershipStatus
from groups.services import membership_break
from project.exceptions import NotFound, ValidationFailed
from project.models import AuditEntry
from tests.conftest import World

pytestmark = pytest.mark.django_db


def signed_in(world: World, persona: str) -> Client:
    browser = Client()
    browser.force_login(world.users[persona])
    return browser


def leave_url(world: World) -> str:
    return f"/groups/{world.group_a.pk}/leave/"


# --- leaving, or a break instead -------------------------------------------------------------


def test_the_group_page_links_to_a_confirmation_and_opening_it_changes_nothing(world):
    browser = signed_in(world, "member")

    group_page = browser.get(f"/groups/{world.group_a.pk}/").content.decode()
    confirm = browser.get(leave_url(world))

    assert f'href="{leave_url(world)}"' in group_page
    text = confirm.content.decode()
    assert confirm.status_code == 200
    assert "Leave Group A?" in text and "Leave the group" in text and "Stay" in text
    assert "Take a break instead" in text
    assert "<title>Leave a group \N{EN DASH} Haven</title>" in text
    assert Membership.objects.get(pk=world.members["member"].pk).status == MembershipStatus.ACTIVE


def test_leaving_says_you_left_the_group_never_removed(world):
    browser = signed_in(world, "member")

    answer = browser.post(leave_url(world), {"choice": "leave"}, follow=True)

    text = answer.content.decode()
    assert "You left the group" in text and "Removed from the group" not in text
    assert Membership.objects.get(pk=world.members["member"].pk).status == MembershipStatus.LEFT
    assert AuditEntry.objects.filter(action="member.left").count() == 1


def test_a_break_hides_the_group_from_my_groups_and_she_can_come_back(world):
    browser = signed_in(world, "member")

    browser.post(leave_url(world), {"choice": "break"})
    during = browser.get("/groups/").content.decode()
    still_in = browser.get(f"/groups/{world.group_a.pk}/")
    browser.post(f"/groups/{world.group_a.pk}/break/", {"on": "0"})
    after = browser.get("/groups/").content.decode()

    membership = Membership.objects.get(pk=world.members["member"].pk)
    assert "Groups you are taking a break from" in during
    assert f'href="/groups/{world.group_a.pk}/"' not in during
    assert "Come back to Group A" in during
    assert still_in.status_code == 200
    assert membership.status == MembershipStatus.ACTIVE and not membership.on_break
    assert "Groups you are taking a break from" not in after
    assert f'href="/groups/{world.group_a.pk}/"' in after
    actions = list(
        AuditEntry.objects.filter(action__startswith="member.break")
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == ["member.break_started", "member.break_ended"]
    for entry in AuditEntry.objects.filter(action__startswith="member.break"):
        assert "Group A" not in str(entry.extra) and "Rose" not in str(entry.extra)


@pytest.mark.parametrize("form", [{}, {"choice": "maybe"}, {"choice": ""}])
def test_a_leave_form_without_a_choice_shows_an_error_and_changes_nothing(world, form):
    answer = signed_in(world, "member").post(leave_url(world), form)

    text = answer.content.decode()
    assert answer.status_code == 400
    assert "<title>Error: Leave a group \N{EN DASH} Haven</title>" in text
    assert 'href="#leave-choice"' in text
    membership = Membership.objects.get(pk=world.members["member"].pk)
    assert membership.status == MembershipStatus.ACTIVE and not membership.on_break
    assert not AuditEntry.objects.filter(
        action__in=["member.left", "member.break_started"]
    ).exists()


@pytest.mark.parametrize("on", ["", "yes", "2"])
def test_a_bad_break_value_writes_nothing(world, on):
    answer = signed_in(world, "member").post(f"/groups/{world.group_a.pk}/break/", {"on": on})

    assert answer.status_code == 302
    assert not Membership.objects.get(pk=world.members["member"].pk).on_break
    assert not AuditEntry.objects.filter(action__startswith="member.break").exists()


def test_the_break_service_refuses_a_non_boolean_and_someone_outside_the_group(world):
    with pytest.raises(ValidationFailed):
        membership_break(actor=world.users["member"], group=world.group_a, on="1")
    with pytest.raises(NotFound):
        membership_break(actor=world.users["outsider"], group=world.group_a, on=True)
    assert not Membership.objects.filter(on_break=True).exists()


@pytest.mark.parametrize("persona", ["outsider", "safeguarding_lead", "anonymous"])
def test_someone_outside_the_group_gets_no_leave_page(world, persona):
    browser = Client() if persona == "anonymous" else signed_in(world, persona)

    page = browser.get(leave_url(world))
    posted = browser.post(leave_url(world), {"choice": "leave"})

    if persona == "anonymous":
        assert page.status_code == 302 and posted.status_code == 302
    else:
        assert page.status_code == 404 and posted.status_code == 404
    assert not Membership.objects.filter(status=MembershipStatus.LEFT).exists()


def test_the_last_facilitator_is_told_why_she_cannot_leave_and_stays(world):
    answer = signed_in(world, "facilitator").post(leave_url(world), {"choice": "leave"})

    assert answer.status_code == 400
    assert "There is a problem" in answer.content.decode()
    facilitator = Membership.objects.get(pk=world.members["facilitator"].pk)
    assert facilitator.status == MembershipStatus.ACTIVE


# --- the join form keeps what she typed -----------------------------------------------------


def new_code(world: World) -> str:
    from groups.services import invite_create

    _invite, code = invite_create(actor=world.users["facilitator"], group=world.group_a)
    return code


def test_the_join_page_says_there_is_no_email_reset():
    page = Client().get("/join/").content.decode()

    assert "There is no e-mail reset" in page
    assert "a facilitator can give you a one-time code" in page


def test_a_taken_name_keeps_what_she_typed_but_never_the_password(world):
    from groups.models import User

    code = new_code(world)
    answer = Client().post(
        "/join/",
        {
            "code": code,
            "display_name": "Rose",
            "username": "new-person",
            "password": "a long enough secret",
        },
    )

    text = answer.content.decode()
    assert answer.status_code == 400
    assert "<title>Error: Join a group \N{EN DASH} Haven</title>" in text
    assert 'href="#display_name"' in text and 'id="display_name-error"' in text
    assert f'value="{code}"' in text and 'value="new-person"' in text
    assert "a long enough secret" not in text
    assert not User.objects.filter(username="new-person").exists()


def test_every_missing_field_is_listed_and_linked_and_nothing_is_written(world):
    before = Membership.objects.count()

    answer = Client().post("/join/", {"code": "", "display_name": "", "username": ""})

    text = answer.content.decode()
    assert answer.status_code == 400
    for field in ("code", "display_name", "username", "password"):
        assert f'href="#{field}"' in text and f'id="{field}-error"' in text
    assert Membership.objects.count() == before


@pytest.mark.parametrize("expired", [False, True])
def test_an_unknown_or_expired_code_says_what_to_do_next(world, expired):
    from groups.models import Invite

    code = new_code(world) if expired else "ABCD-EFGH-JKLM"
    if expired:
        from datetime import timedelta

        from django.utils import timezone

        Invite.objects.update(expires_at=timezone.now() - timedelta(days=1))

    answer = Client().post(
        "/join/",
        {"code": code, "display_name": "Lily", "username": "lily", "password": "long secret words"},
    )

    text = answer.content.decode()
    assert answer.status_code == 400
    assert "ask the facilitator who gave it to you for a new one" in text
    assert 'href="#code"' in text and 'value="Lily"' in text
    assert not Membership.objects.filter(display_name="Lily").exists()


# --- her password and her names, from Settings ----------------------------------------------

NEW_PASSWORD = "a different long passphrase"


def test_she_changes_her_password_and_her_other_devices_are_signed_out(world):
    from tests.conftest import PASSWORD

    here, elsewhere = signed_in(world, "member"), signed_in(world, "member")

    settings_page = here.get("/settings/").content.decode()
    answer = here.post("/settings/password/", {"current": PASSWORD, "password": NEW_PASSWORD})

    user = world.users["member"]
    user.refresh_from_db()
    assert 'href="/settings/password/"' in settings_page
    assert answer.status_code == 302 and answer["Location"] == "/settings/"
    assert user.check_password(NEW_PASSWORD)
    assert here.get("/settings/").status_code == 200
    assert elsewhere.get("/settings/").status_code == 302
    entry = AuditEntry.objects.get(action="account.password_changed")
    assert PASSWORD not in str(entry.extra) and NEW_PASSWORD not in str(entry.extra)


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"current": "not my password", "password": NEW_PASSWORD}, "pw-current"),
        ({"current": "", "password": NEW_PASSWORD}, "pw-current"),
        ({"current": "wrongish-current", "password": "tiny7"}, "pw-new"),
    ],
)
def test_a_wrong_password_change_shows_the_error_at_the_field_and_changes_nothing(
    world, form, field
):
    from tests.conftest import PASSWORD

    browser = signed_in(world, "member")

    answer = browser.post("/settings/password/", form)

    text = answer.content.decode()
    assert answer.status_code == 400
    assert "<title>Error: Change your password \N{EN DASH} Haven</title>" in text
    assert f'href="#{field}"' in text and f'id="{field}-error"' in text
    assert form["password"] not in text and (not form["current"] or form["current"] not in text)
    user = world.users["member"]
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert not AuditEntry.objects.filter(action="account.password_changed").exists()


def test_she_changes_her_name_in_a_group_and_it_is_audited_without_the_name(world):
    browser = signed_in(world, "member")
    mine = world.members["member"]

    answer = browser.post(
        "/settings/names/", {"membership_id": mine.pk, "display_name": "Rosa"}, follow=True
    )

    mine.refresh_from_db()
    assert mine.display_name == "Rosa"
    assert "Your name in the group is changed" in answer.content.decode()
    entry = AuditEntry.objects.get(action="member.renamed")
    assert "Rosa" not in str(entry.extra) and "Rose" not in str(entry.extra)


@pytest.mark.parametrize(("name", "message"), [("JADE", "already uses"), ("", "Use between")])
def test_a_taken_or_empty_name_keeps_what_she_typed_and_changes_nothing(world, name, message):
    browser = signed_in(world, "member")
    mine = world.members["member"]

    answer = browser.post("/settings/names/", {"membership_id": mine.pk, "display_name": name})

    text = answer.content.decode()
    assert answer.status_code == 400 and message in text
    assert f'href="#name-{mine.pk}"' in text and f'value="{name}"' in text
    mine.refresh_from_db()
    assert mine.display_name == "Rose"
    assert not AuditEntry.objects.filter(action="member.renamed").exists()


@pytest.mark.parametrize("target", ["member2", "outsider", "nonsense"])
def test_she_cannot_rename_anyone_else(world, target):
    browser = signed_in(world, "member")
    membership_id = "abc" if target == "nonsense" else world.members[target].pk

    answer = browser.post(
        "/settings/names/", {"membership_id": membership_id, "display_name": "Taken Over"}
    )

    assert answer.status_code in {400, 404}
    assert not Membership.objects.filter(display_name="Taken Over").exists()


# --- her data -------------------------------------------------------------------------------


def test_download_my_data_warns_first_and_offers_a_page_and_a_neutrally_named_file(world):
    browser = signed_in(world, "member")

    settings_page = browser.get("/settings/").content.decode()
    warning = browser.get("/settings/data/").content.decode()
    readable = browser.get("/settings/data/read/")
    file = browser.get("/settings/data/file/")

    assert 'href="/settings/data/"' in settings_page and "/api/v1/me/export/" not in settings_page
    assert "Anyone who has the file can read it." in warning
    assert 'href="/settings/data/read/"' in warning and 'href="/settings/data/file/"' in warning
    assert readable.status_code == 200 and "no-store" in readable["Cache-Control"]
    text = readable.content.decode()
    assert "Your groups and your names in them" in text and "Rose" in text and "{" not in text
    assert file["Content-Disposition"] == 'attachment; filename="export.json"'
    assert "haven" not in file["Content-Disposition"].lower()
    assert file.json()["account"]["username"] == "rose"


@pytest.mark.parametrize(
    "path", ["/settings/data/", "/settings/data/read/", "/settings/data/file/"]
)
def test_her_data_pages_need_her_signed_in(world, path):
    answer = Client().get(path)

    assert answer.status_code == 302 and answer["Location"] == "/signin/"


def test_erasure_ends_on_a_page_that_says_it_worked(world):
    from tests.conftest import PASSWORD

    browser = signed_in(world, "member")

    answer = browser.post("/settings/", {"action": "erase", "password": PASSWORD}, follow=True)

    text = answer.content.decode()
    assert answer.redirect_chain[-1][0] == "/erased/"
    assert "Your account is erased" in text
    assert "<title>Account erased \N{EN DASH} Haven</title>" in text
    assert browser.get("/settings/").status_code == 302


def test_a_wrong_password_erases_nothing(world):
    browser = signed_in(world, "member")

    answer = browser.post("/settings/", {"action": "erase", "password": "wrong"}, follow=True)

    assert answer.redirect_chain[-1][0] == "/settings/"
    world.users["member"].refresh_from_db()
    assert world.users["member"].is_active
    assert Membership.objects.filter(pk=world.members["member"].pk).exists()


# --- content-warning choices in a short form ------------------------------------------------


def test_warning_choices_are_one_line_and_a_change_for_a_topic(world):
    from facilitation.taxonomy import CONTENT_WARNINGS

    browser = signed_in(world, "member")
    first_key, first_label, _d = CONTENT_WARNINGS[0]

    before = browser.get("/settings/").content.decode()
    saved = browser.post("/settings/", {f"cw_{first_key}": "show"})
    after = browser.get("/settings/").content.decode()

    assert "All warnings are folded (recommended)" in before
    assert "Change for a topic" in before and before.count("<fieldset") <= 2
    assert saved.status_code == 302
    assert "All warnings are folded (recommended)" not in after
    assert f"<li>{first_label}</li>" in after
    user = world.users["member"]
    user.refresh_from_db()
    chosen = user.preferences["content_warnings"]
    assert chosen[first_key] == "show"
    assert all(chosen[key] == "collapse" for key, _l, _d in CONTENT_WARNINGS[1:])


def test_a_bad_warning_choice_changes_nothing(world):
    from facilitation.taxonomy import CONTENT_WARNINGS

    browser = signed_in(world, "member")
    user = world.users["member"]
    before = dict(user.preferences)

    browser.post("/settings/", {f"cw_{CONTENT_WARNINGS[0][0]}": "sideways"}, follow=True)

    user.refresh_from_db()
    assert user.preferences == before


# --- the first-run checklist ----------------------------------------------------------------


def test_her_first_steps_show_on_the_group_page_until_she_has_done_them(world):
    from facilitation.taxonomy import CONTENT_WARNINGS
    from groups.services import agreement_accept, agreement_publish

    agreement_publish(actor=world.users["facilitator"], group=world.group_a, points=["We listen."])
    browser = signed_in(world, "member")
    url = f"/groups/{world.group_a.pk}/"

    first = browser.get(url).content.decode()
    browser.post("/settings/", {f"cw_{CONTENT_WARNINGS[0][0]}": "show"})
    version = world.group_a.agreements.order_by("-version").first().version
    agreement_accept(actor=world.users["member"], group=world.group_a, version=version)
    still = browser.get(url).content.decode()
    browser.get("/what-to-expect/")
    later = browser.get(url).content.decode()
    staff = signed_in(world, "facilitator").get(url).content.decode()

    assert "Getting started" in first
    assert "Read and accept the group agreement" in first and 'href="/what-to-expect/"' in first
    assert 'href="/settings/?change=warnings#content-warnings"' in first
    assert "Getting started" in still  # What to expect is not read yet
    assert "Getting started" not in later
    assert "Getting started" not in staff


def test_opening_what_to_expect_signed_in_ticks_it_on_her_checklist_once(world):
    from django.utils import timezone

    browser = signed_in(world, "member")
    url = f"/groups/{world.group_a.pk}/"
    before = browser.get(url).content.decode()

    browser.get("/what-to-expect/")
    user = world.users["member"]
    user.refresh_from_db()
    first_read = user.read_what_to_expect_at
    browser.get("/what-to-expect/")
    user.refresh_from_db()
    after = browser.get(url).content.decode()

    def expect_tag(html: str) -> str:
        item = html.split("Read what to expect in a session</a>", 1)[1].split("</li>", 1)[0]
        return "Done" if "Done" in item else "To do"

    assert expect_tag(before) == "To do"
    assert expect_tag(after) == "Done"
    assert first_read is not None and first_read <= timezone.now()
    assert user.read_what_to_expect_at == first_read  # the first moment is kept


def test_what_to_expect_read_by_a_visitor_or_another_member_ticks_nothing_for_her(world):
    from groups.models import User

    Client().get("/what-to-expect/")
    signed_in(world, "peer_mentor").get("/what-to-expect/")

    assert User.objects.get(pk=world.users["member"].pk).read_what_to_expect_at is None
    assert User.objects.exclude(read_what_to_expect_at=None).count() == 1
