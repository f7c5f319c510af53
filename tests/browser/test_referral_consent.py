"""Issue 17, referral with consent, on a 360x740 phone (and each new page at 1280x800 too): the
facilitator suggests help from a directory service on Rose's record, choosing what would be
shared; before Rose agrees there is no pack (404); Rose sees the suggestion from her group page,
reads exactly what would be shared, puts it in her own words and agrees; the facilitator then
downloads the pack (a neutral file name) and prints it (the pack alone). Jade (another member)
and Mari (the group's peer mentor) get 404 for Rose's referral. Finally Rose withdraws her
consent and the pack is gone.

Each page is checked with axe-core (no violation of any impact) at both sizes and saved as a
screenshot in var/screenshots/referral-*.png.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import GROUP_NAME, HavenServer, manage, submit
from tests.browser.roomkit import (
    DESKTOP,
    FACILITATOR,
    JADE,
    MENTOR,
    PHONE,
    ROSE,
    Crew,
    assert_no_axe,
    expect_in_view,
)

pytestmark = pytest.mark.browser

SERVICE = "Night Line (Safe Streets Trust)"
HIS_WORDS = "Advice about staying safe with a client who will not take no."
HER_CONTACT = "Text 07700 900123 after six. Say it is the dentist."
HER_WORDS = "I want to talk to someone about a client who frightened me, and what I can do."


@pytest.fixture(scope="module")
def crew(browser: Browser, haven: HavenServer, credentials: dict[str, str]) -> Iterator[Crew]:
    # A service of this module's own in the help directory (the seed may hold others).
    manage(
        "shell",
        "-c",
        "from safeguarding.models import HelpOrganization, HelpService; "
        "org = HelpOrganization.objects.create(name='Safe Streets Trust'); "
        "HelpService.objects.create(organization=org, name='Night Line', sort_order=-1)",
        env=haven.env,
    )
    found = Crew(browser=browser, haven=haven, credentials=credentials)
    yield found
    found.close()


@pytest.fixture
def person(crew: Crew, new_context: Callable[..., BrowserContext]) -> Callable[[str], Page]:
    """A page in the browser of one of the seeded people, on a phone. Bypassing the CSP only
    lets axe's script in."""

    def open_as(username: str) -> Page:
        context = new_context(
            storage_state=crew.state(username),
            viewport=PHONE,
            bypass_csp=True,
            accept_downloads=True,
        )
        return context.new_page()

    return open_as


def both_sizes(page: Page, name: str) -> None:
    assert_no_axe(page, f"referral-{name}-phone")
    page.set_viewport_size(DESKTOP)
    assert_no_axe(page, f"referral-{name}-desktop")
    page.set_viewport_size(PHONE)


def status_of(page: Page, path: str) -> int:
    response = page.goto(path)
    assert response is not None
    return response.status


def test_a_referral_goes_from_proposal_to_her_consent_to_the_pack(
    crew: Crew, person: Callable[[str], Page]
) -> None:
    group_id = crew.group_id()
    rose_id = crew.member_ids()["Rose"]

    # The facilitator suggests help from Rose's record.
    staff = person(FACILITATOR)
    staff.goto(f"/groups/{group_id}/members/{rose_id}/")
    suggest = staff.get_by_role("link", name="Suggest help from another service")
    suggest.scroll_into_view_if_needed()
    suggest.click()
    expect(staff).to_have_title("Suggest help from another service \N{EN DASH} Haven")
    staff.get_by_label("Which service").select_option(label=SERVICE)
    staff.get_by_role("checkbox", name="How to contact her").check()
    staff.get_by_role("checkbox", name="What she would like help with").check()
    staff.get_by_label("What she would like help with (optional").fill(HIS_WORDS)
    both_sizes(staff, "propose")
    submit(staff, staff.get_by_role("button", name="Send the suggestion to her"))
    panel = staff.locator(".panel-ok")
    expect(panel).to_contain_text("Suggestion sent")
    expect_in_view(panel, "the confirmation panel")
    expect(staff.locator(".referral-status")).to_have_text("Waiting for her answer")
    expect(staff.locator("main")).not_to_contain_text(HIS_WORDS)
    both_sizes(staff, "staff-proposed")
    referral_id = int(re.search(r"/referrals/(\d+)/", staff.url).group(1))  # type: ignore[union-attr]
    assert "Rose" not in staff.url and "Night" not in staff.url

    # Before she agrees there is no pack.
    assert status_of(staff, f"/referrals/{referral_id}/pack/") == 404
    assert status_of(staff, f"/referrals/{referral_id}/pack/file/") == 404

    # Rose sees a discreet notice on her group page and reads exactly what would be shared.
    rose = person(ROSE)
    rose.goto(f"/groups/{group_id}/")
    expect(rose.get_by_role("heading", level=1)).to_have_text(GROUP_NAME)
    notice = rose.get_by_role("link", name="A suggestion is waiting for your answer")
    expect_in_view(rose.locator("#referral-waiting"), "the notice on her group page")
    notice.click()
    expect(rose).to_have_title("Help from other services \N{EN DASH} Haven")
    both_sizes(rose, "mine-list")
    rose.get_by_role("link", name="Night Line").click()
    expect(rose).to_have_title("Help from another service \N{EN DASH} Haven")
    shared = rose.locator("#shared")
    expect(shared).to_contain_text("To: Night Line (Safe Streets Trust)")
    expect(shared.locator(".shared-need")).to_have_text(HIS_WORDS)
    expect(shared).to_contain_text("in the facilitator\N{RIGHT SINGLE QUOTATION MARK}s words")
    expect(shared).to_contain_text("Not written yet")
    both_sizes(rose, "mine-proposed")

    # She puts it in her own words and adds how to reach her.
    rose.get_by_role("link", name="Change what is shared").click()
    expect(rose).to_have_title("Change what is shared \N{EN DASH} Haven")
    rose.get_by_label("How they can contact you").fill(HER_CONTACT)
    rose.get_by_label("What you would like help with, in your words").fill(HER_WORDS)
    both_sizes(rose, "change")
    submit(rose, rose.get_by_role("button", name="Save my changes"))
    expect(shared.locator(".shared-contact")).to_have_text(HER_CONTACT)
    expect(shared.locator(".shared-need")).to_have_text(HER_WORDS)
    expect(shared).to_contain_text("(in your words)")
    expect(shared).not_to_contain_text(HIS_WORDS)

    # She agrees: a confirmation panel, in view.
    agree = rose.get_by_role("button", name="Yes, share this")
    agree.scroll_into_view_if_needed()
    submit(rose, agree)
    done = rose.locator(".panel-ok")
    expect(done).to_contain_text("You agreed to share this")
    expect_in_view(done.get_by_role("heading", name="You agreed to share this"))
    both_sizes(rose, "done-accepted")

    # Another member and the group's peer mentor find nothing.
    for username in (JADE, MENTOR):
        other = person(username)
        for path in ("", "change/", "withdraw/", "pack/"):
            assert status_of(other, f"/referrals/{referral_id}/{path}") == 404, (username, path)

    # The facilitator sees she agreed, downloads the pack and prints it.
    staff.goto(f"/groups/{group_id}/referrals/{referral_id}/")
    expect(staff.locator(".referral-status")).to_contain_text("She agreed on")
    both_sizes(staff, "staff-agreed")
    download_link = staff.get_by_role("link", name="Download the pack")
    download_link.scroll_into_view_if_needed()
    with staff.expect_download() as fetched:
        download_link.click()
    download = fetched.value
    assert download.suggested_filename == f"referral-{referral_id}.txt"
    text = open(download.path(), encoding="utf-8").read()  # noqa: SIM115
    assert HER_CONTACT in text and HER_WORDS in text and HIS_WORDS not in text
    assert "Rose" not in text and GROUP_NAME not in text

    staff.get_by_role("link", name="Open the pack to print").click()
    expect(staff).to_have_title("Referral pack \N{EN DASH} Haven")
    pack = staff.locator(".referral-pack")
    expect(pack).to_contain_text(HER_WORDS)
    expect(staff.get_by_role("button", name="Print")).to_be_visible()
    both_sizes(staff, "pack")
    staff.emulate_media(media="print")
    expect(staff.locator(".site-header")).to_be_hidden()
    expect(staff.get_by_role("button", name="Print")).to_be_hidden()
    expect(pack).to_be_visible()
    staff.emulate_media(media="screen")

    # She withdraws her consent (asked first); the pack is gone.
    rose.goto(f"/referrals/{referral_id}/")
    rose.get_by_role("link", name="Withdraw my consent").click()
    expect(rose.get_by_role("heading", level=1)).to_have_text("Withdraw your consent?")
    both_sizes(rose, "withdraw")
    submit(rose, rose.get_by_role("button", name="Withdraw my consent"))
    expect_in_view(rose.get_by_role("heading", name="You withdrew your consent"))
    both_sizes(rose, "done-withdrawn")
    assert status_of(staff, f"/referrals/{referral_id}/pack/") == 404
