"""The release ledger as pure data: events in, view and decisions out."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from pipeline import ledger as L
from pipeline.errors import NotReady

T0 = datetime(2025, 1, 1, 10, 0, tzinfo=timezone.utc)


def ev(event: str, fleet: str, minutes: int = 0, **kw):
    return L.new_event(event, fleet=fleet, who="alice@laptop", at=T0 + timedelta(minutes=minutes), **kw)


def release(ledger: L.Ledger, fleet: str, version: str, minutes: int) -> L.Ledger:
    color = L.next_color(ledger)
    ledger = L.record(ledger, ev("staged", fleet, minutes, image_version=version, color=color))
    ledger = L.record(ledger, ev("smoke_passed", fleet, minutes + 1))
    return L.record(ledger, ev("promoted", fleet, minutes + 2))


def test_first_release_goes_live_on_blue_with_nothing_to_roll_back_to():
    ledger = release(L.empty_ledger("local"), "hello-1", "1.0.1", 0)
    live = L.live_fleet(ledger)
    assert (live.name, live.color, live.state, live.smoke) == ("hello-1", "blue", "live", "passed")
    assert ledger.staged is None and ledger.previous is None
    with pytest.raises(NotReady, match="nothing to roll back to"):
        L.rollback_target(ledger)
    assert L.next_color(ledger) == "green"


def test_second_release_keeps_the_first_warm_as_rollback_target():
    ledger = release(release(L.empty_ledger("local"), "hello-1", "1.0.1", 0), "hello-2", "1.0.2", 10)
    assert L.live_fleet(ledger).name == "hello-2"
    assert L.live_fleet(ledger).color == "green"
    target = L.rollback_target(ledger)
    assert (target.name, target.state) == ("hello-1", "warm")


def test_rollback_swaps_live_and_marks_the_bad_fleet():
    ledger = release(release(L.empty_ledger("local"), "hello-1", "1.0.1", 0), "hello-2", "1.0.2", 10)
    ledger = L.record(ledger, ev("rolled_back", "hello-1", 20))
    assert ledger.live == "hello-1"
    assert ledger.fleets["hello-2"].state == "rolled_back"
    assert ledger.previous is None
    again = L.record(ledger, ev("rolled_back", "hello-1", 21))  # re-run after a kill: a no-op on the view
    assert again.fleets == ledger.fleets and again.live == "hello-1"
    assert len(again.history) == len(ledger.history) + 1


def test_promote_needs_passed_smoke_unless_forced():
    ledger = L.record(L.empty_ledger("local"), ev("staged", "hello-1", image_version="1", color="blue"))
    with pytest.raises(NotReady, match="smoke"):
        L.record(ledger, ev("promoted", "hello-1", 1))
    forced = L.record(ledger, ev("promoted", "hello-1", 1, force=True))
    assert forced.live == "hello-1"
    assert forced.history[-1].details == {"force": True}


def test_smoke_failure_clears_staged_and_promote_then_refuses():
    ledger = L.record(L.empty_ledger("local"), ev("staged", "hello-1", image_version="1", color="blue"))
    ledger = L.record(ledger, ev("smoke_failed", "hello-1", 1))
    assert ledger.staged is None
    assert (ledger.fleets["hello-1"].state, ledger.fleets["hello-1"].smoke) == ("failed", "failed")
    with pytest.raises(NotReady, match="not the staged fleet"):
        L.record(ledger, ev("promoted", "hello-1", 2))


def test_cannot_stage_on_the_live_color_or_retire_the_live_fleet():
    ledger = release(L.empty_ledger("local"), "hello-1", "1.0.1", 0)
    with pytest.raises(NotReady, match="live fleet hello-1 uses that color"):
        L.record(ledger, ev("staged", "hello-2", 5, image_version="2", color="blue"))
    with pytest.raises(NotReady, match="cannot be retired"):
        L.record(ledger, ev("retired", "hello-1", 5))


def test_staging_over_the_warm_color_supersedes_it_and_drops_the_rollback_target():
    ledger = release(release(L.empty_ledger("local"), "hello-1", "1", 0), "hello-2", "2", 10)
    assert L.next_color(ledger) == "blue"  # hello-1's color
    ledger = L.record(ledger, ev("staged", "hello-3", 20, image_version="3", color="blue"))
    assert ledger.fleets["hello-1"].state == "superseded"
    assert ledger.previous is None
    assert [f.name for f in L.fleets_to_retire(ledger, now=T0 + timedelta(minutes=20), keep_warm=timedelta(hours=2))] == ["hello-1"]


def test_fleets_to_retire_waits_for_keep_warm():
    ledger = release(release(L.empty_ledger("local"), "hello-1", "1", 0), "hello-2", "2", 10)
    warm_since = ledger.fleets["hello-1"].updated_at
    keep = timedelta(hours=2)
    assert L.fleets_to_retire(ledger, now=warm_since + keep - timedelta(seconds=1), keep_warm=keep) == ()
    assert [f.name for f in L.fleets_to_retire(ledger, now=warm_since + keep, keep_warm=keep)] == ["hello-1"]
    retired = L.record(ledger, ev("retired", "hello-1", 200))
    assert retired.previous is None
    assert retired.fleets["hello-1"].retired_at == T0 + timedelta(minutes=200)
    assert L.fleets_to_retire(retired, now=T0 + timedelta(days=9), keep_warm=keep) == ()


def test_image_versions_to_delete_keeps_newest_and_in_use():
    ledger = L.empty_ledger("local")
    for i in range(1, 5):
        ledger = release(ledger, f"hello-{i}", f"1.0.{i}", i * 10)
    for i in (1, 2):
        ledger = L.record(ledger, ev("retired", f"hello-{i}", 100 + i))
    # 1.0.3 is warm (in use), 1.0.4 live; keep=1 keeps the newest only.
    assert L.image_versions_to_delete(ledger, keep=1) == ("1.0.1", "1.0.2")
    assert L.image_versions_to_delete(ledger, keep=3) == ("1.0.1",)


def test_json_round_trip_rebuilds_the_view_from_history():
    ledger = release(release(L.empty_ledger("local"), "hello-1", "1", 0), "hello-2", "2", 10)
    ledger = L.record(ledger, ev("note", "hello-2", 30, text="hotfix window"))
    data = L.to_json(ledger)
    assert data["live"] == "hello-2" and data["fleets"]["hello-1"]["state"] == "warm"
    assert data["history"][-1] == {"at": "2025-01-01T10:30:00+00:00", "who": "alice@laptop", "event": "note", "fleet": "hello-2", "text": "hotfix window"}
    data["live"] = "tampered"  # the stored view is informative; history is the truth
    back = L.from_json(data)
    assert back == ledger


def test_unknown_events_and_naive_times_are_rejected():
    with pytest.raises(ValueError, match="unknown ledger event"):
        L.record(L.empty_ledger("local"), ev("promotted", "x"))
    with pytest.raises(ValueError, match="timezone"):
        L.record(L.empty_ledger("local"), L.new_event("note", fleet="x", who="a", at=datetime(2025, 1, 1)))


def test_restaging_the_same_fleet_is_a_no_op():
    ledger = L.record(L.empty_ledger("local"), ev("staged", "hello-1", image_version="1", color="blue"))
    again = L.record(ledger, ev("staged", "hello-1", 1, image_version="1", color="blue"))
    assert again.fleets == ledger.fleets and again.staged == "hello-1"


def test_a_failed_fleet_can_be_staged_again_under_its_name():
    ledger = L.record(L.empty_ledger("local"), ev("staged", "hello-1", image_version="1.0.1", color="green"))
    ledger = L.record(ledger, ev("stage_failed", "hello-1", 1))
    assert ledger.fleets["hello-1"].state == "failed" and ledger.staged is None
    again = L.record(ledger, ev("staged", "hello-1", 2, image_version="1.0.1", color="green"))
    assert again.staged == "hello-1" and again.fleets["hello-1"].state == "staged"
    assert again.fleets["hello-1"].smoke == "pending"
