"""The order book under contention (``DbOrderBook.place``): two threads racing for a battery's last
round never both fire it, on SQLite and PostgreSQL; a replayed order is answered without taking
a second round; a second order for an already ordered (track, shot) is refused."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from argus.db.models import InterceptOrder, Weapon
from argus.db.session import make_engine, make_sessionmaker, session_scope
from argus.defense.service.store import DbOrderBook, load_config
from argus.pipeline.stages import Battery, Order
from tests.defense._support import seed_defense

AT = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
ROUNDS = 20


@pytest.fixture
def book(db_url: str) -> Iterator[tuple[DbOrderBook, Battery, sessionmaker[Session]]]:
    sid = seed_defense(db_url, users=False)
    engine = make_engine(db_url)
    factory = make_sessionmaker(engine)
    with factory() as s:
        battery = load_config(s, sid, "race").battery("BAT_SD")
    yield DbOrderBook(factory, sid), battery, factory
    engine.dispose()


def _order(book: DbOrderBook, battery: Battery, track_id: str, shot: int = 1) -> Order:
    return Order(uuid.uuid4(), book.scenario_id, battery, track_id, shot, 0.7, AT)


def _set_rounds(factory: sessionmaker[Session], battery: Battery, rounds: int) -> None:
    with session_scope(factory) as s:
        s.execute(delete(InterceptOrder))
        s.execute(update(Weapon).where(Weapon.id == battery.weapon_id).values(rounds=rounds))


def _state(factory: sessionmaker[Session], battery: Battery) -> tuple[int, int]:
    with factory() as s:
        rounds = s.scalar(select(Weapon.rounds).where(Weapon.id == battery.weapon_id))
        orders = s.scalar(select(func.count()).select_from(InterceptOrder))
        return int(rounds or 0), int(orders or 0)


def _race(ob: DbOrderBook, orders: list[Order]) -> list[bool | BaseException]:
    """Place ``orders`` at once, one thread each, released together by a barrier."""
    barrier = threading.Barrier(len(orders))
    results: list[bool | BaseException] = [False] * len(orders)

    def run(i: int, o: Order) -> None:
        barrier.wait()
        try:
            results[i] = ob.place(o)
        except BaseException as exc:  # reported by the caller, not swallowed by the thread
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, o)) for i, o in enumerate(orders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_two_orders_racing_for_the_last_round_fire_it_once(
    book: tuple[DbOrderBook, Battery, sessionmaker[Session]],
) -> None:
    ob, battery, factory = book
    for k in range(ROUNDS):
        _set_rounds(factory, battery, 1)
        results = _race(ob, [_order(ob, battery, f"R{k}-A"), _order(ob, battery, f"R{k}-B")])
        assert all(isinstance(r, bool) for r in results), f"round {k}: {results}"
        assert sorted(results) == [False, True], f"round {k}: {results}"  # type: ignore[type-var]
        assert _state(factory, battery) == (0, 1), f"round {k}"
        # the battery is empty now: a third order is refused and changes nothing
        assert ob.place(_order(ob, battery, f"R{k}-C")) is False
        assert _state(factory, battery) == (0, 1)


def test_the_same_order_placed_twice_at_once_takes_one_round(
    book: tuple[DbOrderBook, Battery, sessionmaker[Session]],
) -> None:
    """A redelivered decision handled by two workers at once: both are told it is placed."""
    ob, battery, factory = book
    for k in range(5):
        _set_rounds(factory, battery, 3)
        o = _order(ob, battery, f"D{k}")
        assert _race(ob, [o, o]) == [True, True], f"round {k}"
        assert _state(factory, battery) == (2, 1), f"round {k}"


def test_replay_and_duplicate_track_shot(
    book: tuple[DbOrderBook, Battery, sessionmaker[Session]],
) -> None:
    ob, battery, factory = book
    _set_rounds(factory, battery, 5)
    first = _order(ob, battery, "T1")
    assert ob.place(first) is True
    assert _state(factory, battery) == (4, 1)
    assert ob.place(first) is True  # a replay: same order id, no second round
    assert _state(factory, battery) == (4, 1)
    assert ob.place(_order(ob, battery, "T1")) is False  # same (track, shot), new id
    assert _state(factory, battery) == (4, 1)
    assert ob.place(_order(ob, battery, "T1", shot=2)) is True  # the next shot is a new order
    assert _state(factory, battery) == (3, 2)
    assert ob.rounds()["BAT_SD"] == 3
