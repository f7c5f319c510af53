"""The live room at 1280x800: the same tests as the phone (test_room_phone.py), on a laptop.

The desktop layout follows from the phone one: the people and the host tools sit beside the
messages instead of in a sheet, and everything else must hold exactly as on the phone.
"""

from __future__ import annotations

import pytest

from tests.browser.roomkit import DESKTOP
from tests.browser.test_room_phone import (  # noqa: F401 - collected here at the desktop size
    crew,
    person,
    speakers,
    test_a_hidden_message_notice_names_the_host_and_why_survives_a_reload_and_only_she_sees_it,
    test_a_mute_shows_when_it_ends_counts_down_clears_itself_and_is_never_shown_by_name,
    test_a_refused_message_stays_in_the_box_with_the_reason_and_no_sending_line_stays,
    test_a_removed_member_is_told_why_and_still_sees_it_after_a_reload,
    test_a_room_growing_in_the_same_frame_as_her_scroll_to_the_bottom_keeps_her_following,
    test_each_moderation_dialog_takes_typing_at_once_and_never_throws_the_host_out,
    test_ending_asks_first_then_everyone_gets_the_end_screen_also_after_a_reload,
    test_here_now_shows_hosts_who_is_muted_until_when_with_unmute_and_mutes_from_a_name,
    test_hosts_see_the_round_order_and_can_skip_and_move_to_next,
    test_in_a_round_she_sees_her_place_her_turn_and_that_she_passed,
    test_n_here_opens_the_list_with_you_by_her_name_and_says_when_no_host_is_here,
    test_new_messages_keep_her_at_the_bottom_and_wait_behind_a_button_when_she_scrolled_up,
    test_one_options_menu_per_message_for_members_and_hosts,
    test_send_is_the_one_primary_button_and_i_need_support_has_its_own_calm_colour,
    test_she_opens_at_the_newest_message_with_the_state_bar_and_box_in_view_and_one_scroll_area,
    test_stepping_out_is_calm_and_catch_up_jumps_to_where_she_left,
    test_the_backlog_is_not_read_out_but_what_comes_after_it_is,
    test_the_host_sees_ten_messages_at_once_on_a_laptop_and_four_on_a_phone,
    test_the_line_above_the_box_says_why_she_cannot_send,
    test_the_message_box_is_at_most_five_tab_presses_away_however_many_messages,
    test_when_the_facilitator_leaves_the_co_host_is_told_and_may_end_the_session,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def size() -> dict[str, int]:
    return DESKTOP
