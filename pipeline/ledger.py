"""The release ledger: what was released where, as pure data and pure functions (no I/O).

One ledger per environment, stored as JSON (`<env>/ledger.json` in the ledger container; see
pipeline/azure/storage.py `read_ledger` / `update_ledger`). It has two parts:

- `history`: the append-only list of events, the source of truth:
      {"at": "2025-01-01T10:00:00+00:00", "who": "alice@laptop", "event": "staged",
       "fleet": "hello-0007-green", "image_version": "1.0.7", "color": "green", ...extra keys}
- the current view, derived by replaying the history (`fleets`, `live`, `previous`, `staged`). It is written
  to the JSON for people and other tools to read, but `from_json` always rebuilds it from `history`.

Fleet states:   staged --smoke_passed--> (staged, smoke passed) --promoted--> live --promoted(other)--> warm
                staged --smoke_failed / stage_failed--> failed
                live --rolled_back(to warm)--> rolled_back           warm --rolled_back--> live
                any other fleet of the color a new fleet is staged on --> superseded
                any non-live, non-staged fleet --retired--> retired
`previous` is the rollback target: the warm fleet that was live before the current one.

Recording an event that already took effect (promoting the live fleet, retiring a retired fleet,
staging the same fleet again) is a no-op on the view, so a killed release can be re-run.
Recording one whose precondition is unmet raises NotReady with a one-line message.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

from pipeline.errors import NotReady

__all__ = [
    "COLORS",
    "EVENTS",
    "Event",
    "Fleet",
    "Ledger",
    "ROLLOUT_EVENTS",
    "RolloutBatch",
    "RolloutState",
    "empty_ledger",
    "fleets_to_retire",
    "from_json",
    "image_versions_to_delete",
    "live_fleet",
    "new_event",
    "next_color",
    "other",
    "previous_fleet",
    "record",
    "rollback_target",
    "rollout_state",
    "running_image_version",
    "staged_fleet",
    "to_json",
]

LEDGER_VERSION = 1
COLORS = ("blue", "green")
EVENTS = frozenset(
    {
        "staged",  # a new fleet exists in its color's pool, behind the staging rule
        "stage_failed",  # it never became healthy
        "smoke_passed",
        "smoke_failed",
        "promoted",  # the production rule now points at its pool
        "promote_failed",  # verification failed and traffic was swapped back (history only)
        "rolled_back",  # `fleet` is live again; the fleet it replaced is marked rolled_back
        "retired",  # its scale set was deleted
        "note",  # free text for operators (history only)
    }
)
# In-place rollouts: history only (see the module docstring); folded by rollout_state().
ROLLOUT_EVENTS = frozenset(
    {
        "rollout_started",
        "rollout_resumed",
        "rollout_batch_started",
        "rollout_batch_done",
        "rollout_halted",
        "rollout_finished",
        "rollout_rollback_started",
        "rollout_rolled_back",
    }
)
EVENTS = EVENTS | ROLLOUT_EVENTS
# State of fleets that are gone or going: retire at once (superseded) or after keep_warm.
_RETIRE_AT_ONCE = frozenset({"superseded"})
_RETIRE_AFTER_KEEP_WARM = frozenset({"warm", "failed", "rolled_back"})


@dataclass(frozen=True)
class Event:
    at: datetime  # timezone-aware
    who: str
    event: str
    fleet: str
    image_version: str | None = None
    color: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)  # extra JSON keys, e.g. {"force": True}

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"at": _iso(self.at), "who": self.who, "event": self.event, "fleet": self.fleet}
        if self.image_version is not None:
            data["image_version"] = self.image_version
        if self.color is not None:
            data["color"] = self.color
        data.update({k: v for k, v in self.details.items() if k not in data})
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Event:
        known = {"at", "who", "event", "fleet", "image_version", "color"}
        return cls(
            at=_parse_time(data["at"]),
            who=data["who"],
            event=data["event"],
            fleet=data["fleet"],
            image_version=data.get("image_version"),
            color=data.get("color"),
            details={k: v for k, v in data.items() if k not in known},
        )


@dataclass(frozen=True)
class Fleet:
    name: str
    color: str
    image_version: str
    state: str  # staged | live | warm | failed | rolled_back | superseded | retired
    smoke: str  # pending | passed | failed
    created_at: datetime
    updated_at: datetime  # when `state` last changed
    retired_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for key in ("created_at", "updated_at", "retired_at"):
            if data[key] is not None:
                data[key] = _iso(data[key])
        return data


@dataclass(frozen=True)
class Ledger:
    environment: str
    history: tuple[Event, ...] = ()
    fleets: Mapping[str, Fleet] = field(default_factory=lambda: MappingProxyType({}))
    live: str | None = None
    previous: str | None = None  # the rollback target (a warm fleet)
    staged: str | None = None


# ---------------------------------------------------------------------------------------------- building


def empty_ledger(environment: str) -> Ledger:
    return Ledger(environment=environment)


def new_event(
    event: str,
    *,
    fleet: str,
    who: str,
    at: datetime,
    image_version: str | None = None,
    color: str | None = None,
    **details: Any,
) -> Event:
    """Build an Event; extra keyword arguments become extra JSON keys."""
    return Event(at=at, who=who, event=event, fleet=fleet, image_version=image_version, color=color, details=details)


def record(ledger: Ledger, event: Event) -> Ledger:
    """Append `event` to the history and apply it to the view. Raises NotReady if it cannot happen now."""
    applied = _apply(ledger, event)
    return dataclasses.replace(applied, history=(*ledger.history, event))


def replay(environment: str, events: Iterable[Event]) -> Ledger:
    ledger = empty_ledger(environment)
    for event in events:
        ledger = record(ledger, event)
    return ledger


def to_json(ledger: Ledger) -> dict[str, Any]:
    return {
        "version": LEDGER_VERSION,
        "environment": ledger.environment,
        "live": ledger.live,
        "previous": ledger.previous,
        "staged": ledger.staged,
        "fleets": {name: f.to_json() for name, f in ledger.fleets.items()},
        "history": [e.to_json() for e in ledger.history],
    }


def from_json(data: Mapping[str, Any]) -> Ledger:
    """Rebuild a ledger from its JSON; the view is recomputed from `history`. Raises ValueError."""
    if data.get("version") != LEDGER_VERSION:
        raise ValueError(f"ledger version {data.get('version')!r} is not {LEDGER_VERSION}")
    try:
        events = [Event.from_json(e) for e in data["history"]]
        return replay(data["environment"], events)
    except (KeyError, TypeError) as err:
        raise ValueError(f"ledger JSON is malformed ({err!r})") from err


# ---------------------------------------------------------------------------------------------- queries


def live_fleet(ledger: Ledger) -> Fleet | None:
    return ledger.fleets[ledger.live] if ledger.live else None


def staged_fleet(ledger: Ledger) -> Fleet | None:
    return ledger.fleets[ledger.staged] if ledger.staged else None


def previous_fleet(ledger: Ledger) -> Fleet | None:
    return ledger.fleets[ledger.previous] if ledger.previous else None


def rollback_target(ledger: Ledger) -> Fleet:
    """The warm fleet to roll back to. Raises NotReady when there is none."""
    fleet = previous_fleet(ledger)
    if fleet is None:
        raise NotReady(
            f"nothing to roll back to in {ledger.environment}: no warm previous fleet "
            "(it was retired or never existed); release a known-good version instead"
        )
    return fleet


def next_color(ledger: Ledger) -> str:
    """The color to stage on: the one the live fleet does not use (blue when nothing is live)."""
    live = live_fleet(ledger)
    return COLORS[0] if live is None else other(live.color)


def other(color: str) -> str:
    """The other color of the two."""
    return COLORS[1] if color == COLORS[0] else COLORS[0]


def fleets_to_retire(ledger: Ledger, *, now: datetime, keep_warm: timedelta) -> tuple[Fleet, ...]:
    """Fleets whose scale sets can be deleted now, oldest first.

    Superseded fleets (their color was taken by a newer staged fleet) go at once; warm, failed and
    rolled-back fleets once they have been in that state for `keep_warm`. Never the live or staged fleet.
    """
    due = [
        f
        for f in ledger.fleets.values()
        if f.name not in (ledger.live, ledger.staged)
        and (f.state in _RETIRE_AT_ONCE or (f.state in _RETIRE_AFTER_KEEP_WARM and f.updated_at + keep_warm <= now))
    ]
    return tuple(sorted(due, key=lambda f: (f.updated_at, f.name)))


def image_versions_to_delete(ledger: Ledger, *, keep: int) -> tuple[str, ...]:
    """Image versions the ledger knows that can be deleted: not used by any fleet that is not retired,
    and not among the `keep` newest (by first appearance in the history). Oldest first."""
    order: list[str] = []
    for event in ledger.history:
        if event.image_version and event.image_version not in order:
            order.append(event.image_version)
    in_use = {f.image_version for f in ledger.fleets.values() if f.state != "retired"}
    for f in ledger.fleets.values():  # an in-place rollout changes what a fleet runs: keep both ends
        rollout = rollout_state(ledger, f.name) if f.state != "retired" else None
        if rollout is not None:
            in_use |= {rollout.image_version, rollout.previous_version}
    newest = set(order[-keep:]) if keep > 0 else set()
    return tuple(v for v in order if v not in in_use and v not in newest)


# ---------------------------------------------------------------------------------------------- rollouts


@dataclass(frozen=True)
class RolloutBatch:
    label: str  # "update domain 2" | "batch 3"
    domain: int | None  # the update domain (None for percentage batches spanning domains)
    instances: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "domain": self.domain, "instances": list(self.instances)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RolloutBatch:
        return cls(str(data["label"]), data.get("domain"), tuple(str(i) for i in data.get("instances") or ()))


@dataclass(frozen=True)
class RolloutState:
    """Where the latest in-place rollout of one fleet stands, folded from the history."""

    fleet: str
    image_version: str  # the version the rollout moves the fleet to
    previous_version: str  # what the fleet ran before it
    direction: str  # forward | rollback
    status: str  # running | halted | finished | rolled_back
    strategy: str  # "ud" | "percent:N"
    max_unhealthy: float
    batches: tuple[RolloutBatch, ...]  # planned when the current direction started
    done: tuple[str, ...]  # labels of the batches of the current direction that passed their gate
    upgraded: tuple[str, ...]  # instance ids that passed the forward gate (what a rollback must undo)
    current: RolloutBatch | None  # started and not done (in flight when killed, or where it halted)
    reason: str | None  # why it halted
    started_at: datetime
    updated_at: datetime
    resumes: int = 0

    @property
    def unfinished(self) -> bool:
        return self.status in ("running", "halted")

    @property
    def moving_to(self) -> str:
        """The image version the current direction moves instances to."""
        return self.previous_version if self.direction == "rollback" else self.image_version

    def describe(self) -> str:
        verb = "rollback" if self.direction == "rollback" else "rollout"
        where = f" at {self.current.label}" if self.current else ""
        extra = f" ({self.reason})" if self.status == "halted" and self.reason else ""
        return (f"{verb} of {self.fleet} from {self.previous_version} to {self.image_version}: {self.status}{where}, "
                f"{len(self.done)}/{len(self.batches)} batches done{extra}")

    def to_json(self) -> dict[str, Any]:
        return {"fleet": self.fleet, "image_version": self.image_version, "previous_version": self.previous_version,
                "direction": self.direction, "status": self.status, "strategy": self.strategy,
                "max_unhealthy": self.max_unhealthy, "batches": [b.to_json() for b in self.batches],
                "done": list(self.done), "upgraded": list(self.upgraded),
                "current": self.current.to_json() if self.current else None, "reason": self.reason,
                "started_at": _iso(self.started_at), "updated_at": _iso(self.updated_at), "resumes": self.resumes}


def rollout_state(ledger: Ledger, fleet: str | None = None) -> RolloutState | None:
    """Fold the rollout events of `fleet` (of any fleet when None) into the state of its latest rollout."""
    state: RolloutState | None = None
    for e in ledger.history:
        if e.event not in ROLLOUT_EVENTS or (fleet is not None and e.fleet != fleet):
            continue
        state = _fold_rollout(state, e)
    return state


def running_image_version(ledger: Ledger, fleet: str) -> str | None:
    """The image version a fleet's instances run: the staged one, unless an in-place rollout changed it.
    During an unfinished rollout the fleet is mixed; this answers the version its model points at."""
    known = ledger.fleets.get(fleet)
    rollout = rollout_state(ledger, fleet)
    if rollout is None or rollout.started_at < (known.created_at if known else rollout.started_at):
        return known.image_version if known else None
    return rollout.moving_to if rollout.status != "rolled_back" else rollout.previous_version


def _batches(e: Event) -> tuple[RolloutBatch, ...]:
    return tuple(RolloutBatch.from_json(b) for b in e.details.get("batches") or ())


def _event_batch(e: Event) -> RolloutBatch:
    return RolloutBatch(str(e.details.get("batch", "")), e.details.get("domain"),
                        tuple(str(i) for i in e.details.get("instances") or ()))


def _fold_rollout(state: RolloutState | None, e: Event) -> RolloutState | None:
    d, kind = e.details, e.event
    if kind == "rollout_started":
        return RolloutState(
            fleet=e.fleet, image_version=e.image_version or "", previous_version=str(d.get("previous_version", "")),
            direction="forward", status="running", strategy=str(d.get("strategy", "ud")),
            max_unhealthy=float(d.get("max_unhealthy", 0.0)), batches=_batches(e), done=(), upgraded=(),
            current=None, reason=None, started_at=e.at, updated_at=e.at,
        )  # fmt: skip
    if state is None:
        return None  # progress of a rollout whose start is not in the history: nothing to fold onto
    at = {"updated_at": e.at}
    if kind == "rollout_resumed":
        return dataclasses.replace(state, status="running", reason=None, resumes=state.resumes + 1, **at)
    if kind == "rollout_batch_started":
        return dataclasses.replace(state, status="running", current=_event_batch(e), **at)
    if kind == "rollout_batch_done":
        batch = _event_batch(e)
        done = state.done if batch.label in state.done else (*state.done, batch.label)
        upgraded = state.upgraded
        if state.direction == "forward":
            upgraded = tuple(dict.fromkeys((*upgraded, *batch.instances)))
        else:
            upgraded = tuple(i for i in upgraded if i not in batch.instances)
        return dataclasses.replace(state, done=done, upgraded=upgraded, current=None, **at)
    if kind == "rollout_halted":
        current = _event_batch(e) if d.get("batch") else state.current
        return dataclasses.replace(state, status="halted", current=current, reason=str(d.get("reason", "")), **at)
    if kind == "rollout_finished":
        return dataclasses.replace(state, status="finished", current=None, reason=None, **at)
    if kind == "rollout_rollback_started":
        return dataclasses.replace(state, direction="rollback", status="running", batches=_batches(e), done=(),
                                   current=None, reason=None, **at)
    if kind == "rollout_rolled_back":
        return dataclasses.replace(state, status="rolled_back", current=None, upgraded=(), reason=None, **at)
    return state


def _rollout_event(ledger: Ledger, e: Event) -> Ledger:
    """History only: check the shape, never change the fleet view."""
    if e.event == "rollout_started" and (not e.image_version or not e.details.get("previous_version")):
        raise ValueError("a 'rollout_started' event needs image_version and previous_version")
    if e.event in ("rollout_batch_started", "rollout_batch_done") and not e.details.get("batch"):
        raise ValueError(f"a {e.event!r} event needs batch (its label)")
    return ledger


# ---------------------------------------------------------------------------------------------- applying


def _apply(ledger: Ledger, event: Event) -> Ledger:
    if event.event not in EVENTS:
        raise ValueError(f"unknown ledger event {event.event!r}; known: {', '.join(sorted(EVENTS))}")
    if event.at.tzinfo is None:
        raise ValueError("ledger event times must be timezone-aware")
    handler = _HANDLERS.get(event.event)
    return handler(ledger, event) if handler else ledger


def _with(ledger: Ledger, *fleets: Fleet, **view: str | None) -> Ledger:
    merged = dict(ledger.fleets)
    merged.update({f.name: f for f in fleets})
    return dataclasses.replace(ledger, fleets=MappingProxyType(merged), **view)


def _moved(fleet: Fleet, state: str, at: datetime, **changes: Any) -> Fleet:
    return dataclasses.replace(fleet, state=state, updated_at=at, **changes)


def _known(ledger: Ledger, event: Event) -> Fleet:
    try:
        return ledger.fleets[event.fleet]
    except KeyError:
        raise NotReady(f"fleet {event.fleet} is not in the {ledger.environment} ledger; stage it first") from None


def _staged(ledger: Ledger, e: Event) -> Ledger:
    if e.color not in COLORS or not e.image_version:
        raise ValueError("a 'staged' event needs color (blue|green) and image_version")
    existing = ledger.fleets.get(e.fleet)
    if existing is not None:
        if existing.state == "staged" and (existing.color, existing.image_version) == (e.color, e.image_version):
            return ledger  # re-run of a stage that already took effect
        if existing.state not in ("failed", "superseded", "retired"):
            raise NotReady(f"fleet {e.fleet} already exists in {ledger.environment} ({existing.state}); stage under a new name")
    live = live_fleet(ledger)
    if live is not None and live.color == e.color:
        raise NotReady(f"cannot stage {e.fleet} on {e.color}: the live fleet {live.name} uses that color; stage on {next_color(ledger)}")
    replaced = [
        _moved(f, "superseded", e.at)
        for f in ledger.fleets.values()
        if (f.color == e.color or f.name == ledger.staged) and f.state not in ("retired", "superseded")
    ]
    previous = None if ledger.previous in {f.name for f in replaced} else ledger.previous
    fleet = Fleet(
        name=e.fleet, color=e.color, image_version=e.image_version, state="staged", smoke="pending",
        created_at=e.at, updated_at=e.at,
    )  # fmt: skip
    return _with(ledger, *replaced, fleet, staged=e.fleet, previous=previous)


def _require_staged(ledger: Ledger, e: Event) -> Fleet:
    fleet = _known(ledger, e)
    if ledger.staged != fleet.name:
        raise NotReady(f"fleet {fleet.name} is not the staged fleet of {ledger.environment} (it is {fleet.state}); stage it again")
    return fleet


def _smoke_passed(ledger: Ledger, e: Event) -> Ledger:
    fleet = _require_staged(ledger, e)
    return _with(ledger, dataclasses.replace(fleet, smoke="passed"))


def _failed(ledger: Ledger, e: Event) -> Ledger:
    fleet = _known(ledger, e)
    if fleet.state == "failed":
        return ledger
    fleet = _require_staged(ledger, e)
    smoke = "failed" if e.event == "smoke_failed" else fleet.smoke
    return _with(ledger, _moved(fleet, "failed", e.at, smoke=smoke), staged=None)


def _promoted(ledger: Ledger, e: Event) -> Ledger:
    if ledger.live == e.fleet:
        return ledger  # already live: re-run of a promote that took effect
    fleet = _require_staged(ledger, e)
    if fleet.smoke != "passed" and not e.details.get("force"):
        raise NotReady(f"fleet {fleet.name} has not passed its smoke checks ({fleet.smoke}); run them, or promote with --force")
    old = live_fleet(ledger)
    changed = [_moved(fleet, "live", e.at)]
    if old is not None:
        changed.append(_moved(old, "warm", e.at))
    return _with(ledger, *changed, live=fleet.name, previous=old.name if old else None, staged=None)


def _rolled_back(ledger: Ledger, e: Event) -> Ledger:
    if ledger.live == e.fleet:
        return ledger  # already rolled back
    target = _known(ledger, e)
    if ledger.previous != target.name:
        raise NotReady(f"fleet {target.name} is not the rollback target of {ledger.environment} (it is {target.state}); see `invoke status`")
    changed = [_moved(target, "live", e.at)]
    bad = live_fleet(ledger)
    if bad is not None:
        changed.append(_moved(bad, "rolled_back", e.at))
    return _with(ledger, *changed, live=target.name, previous=None)


def _retired(ledger: Ledger, e: Event) -> Ledger:
    fleet = _known(ledger, e)
    if fleet.state == "retired":
        return ledger
    if fleet.name in (ledger.live, ledger.staged):
        raise NotReady(f"fleet {fleet.name} is {'live' if fleet.name == ledger.live else 'staged'} in {ledger.environment}; it cannot be retired")
    previous = None if ledger.previous == fleet.name else ledger.previous
    return _with(ledger, _moved(fleet, "retired", e.at, retired_at=e.at), previous=previous)


_HANDLERS = {
    "staged": _staged,
    "stage_failed": _failed,
    "smoke_passed": _smoke_passed,
    "smoke_failed": _failed,
    "promoted": _promoted,
    "rolled_back": _rolled_back,
    "retired": _retired,
    **{name: _rollout_event for name in ROLLOUT_EVENTS},
}


def _iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat()


def _parse_time(text: str) -> datetime:
    at = datetime.fromisoformat(text)
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)
