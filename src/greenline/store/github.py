"""GitHub webhook deliveries in the store: each recorded once by its delivery id, claimed for
processing with an expiry (so of several server processes one processes it, and one that died
mid-way leaves it to the next), then marked processed with what was done, its body dropped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, and_, func, or_, select, update

from greenline.model.forge import Delivery
from greenline.store.schema import github_deliveries as deliveries
from greenline.store.schema import repositories
from greenline.store.uploads import insert_once
from greenline.store.writes import to_utc


def record_delivery(
    conn: Connection,
    delivery: Delivery,
    payload: str,
) -> bool:
    """Store a delivery received; False when its id was received before (a replay)."""
    row = {
        "delivery_id": delivery.delivery_id,
        "event": delivery.event[:64],
        "action": (delivery.action or "")[:64] or None,
        "repository": (delivery.repository or "")[:255] or None,
        "received_at": to_utc(delivery.received_at),
        "attempts": 0,
        "payload": payload,
    }
    return insert_once(conn, deliveries, row)


def _claimable(now: datetime) -> object:
    c = deliveries.c
    return and_(
        c.processed_at.is_(None),
        or_(c.claimed_until.is_(None), c.claimed_until < to_utc(now)),
    )


def claimable_deliveries(conn: Connection, now: datetime, limit: int = 5) -> list[str]:
    """The oldest deliveries waiting to be claimed (a read: no lock is taken)."""
    c = deliveries.c
    query = (
        select(c.delivery_id)
        .where(_claimable(now))  # type: ignore[arg-type]
        .order_by(c.received_at, c.delivery_id)
        .limit(limit)
    )
    return [str(delivery_id) for (delivery_id,) in conn.execute(query).all()]


def claim_delivery(
    conn: Connection, now: datetime, lease: float, candidates: list[str]
) -> str | None:
    """Claim the first of ``candidates`` still not processed nor claimed by anyone (or whose
    claim lapsed) until ``now + lease``; its id, or None when others took them all."""
    c = deliveries.c
    for delivery_id in candidates:
        claimed = conn.execute(
            update(deliveries)
            .where(c.delivery_id == delivery_id, _claimable(now))  # type: ignore[arg-type]
            .values(claimed_until=to_utc(now + timedelta(seconds=lease)), attempts=c.attempts + 1)
            .returning(c.delivery_id)
        ).first()
        if claimed is not None:  # else another process claimed it first: try the next
            return delivery_id
    return None


def load_delivery(conn: Connection, delivery_id: str) -> tuple[Delivery, str | None] | None:
    """A delivery and its body (None once processed)."""
    row = conn.execute(select(deliveries).where(deliveries.c.delivery_id == delivery_id)).first()
    if row is None:
        return None
    delivery = Delivery(
        row.delivery_id,
        row.event,
        row.action,
        row.repository,
        _utc(row.received_at) or row.received_at,
        _utc(row.processed_at),
        row.outcome,
        int(row.attempts),
    )
    return delivery, row.payload


def finish_delivery(conn: Connection, delivery_id: str, outcome: str, at: datetime) -> None:
    """Mark a delivery processed with what was done; its body is no longer needed."""
    conn.execute(
        update(deliveries)
        .where(deliveries.c.delivery_id == delivery_id)
        .values(processed_at=to_utc(at), outcome=outcome, payload=None, claimed_until=None)
    )


def postpone_delivery(conn: Connection, delivery_id: str, outcome: str, until: datetime) -> None:
    """Leave a delivery to be tried again after ``until`` (processing it failed)."""
    conn.execute(
        update(deliveries)
        .where(deliveries.c.delivery_id == delivery_id)
        .values(outcome=outcome, claimed_until=to_utc(until))
    )


def recent_deliveries(conn: Connection, limit: int = 50) -> list[Delivery]:
    """The newest deliveries first."""
    c = deliveries.c
    query = (
        select(
            c.delivery_id,
            c.event,
            c.action,
            c.repository,
            c.received_at,
            c.processed_at,
            c.outcome,
            c.attempts,
        )
        .order_by(c.received_at.desc(), c.delivery_id)
        .limit(limit)
    )
    return [
        Delivery(r[0], r[1], r[2], r[3], _utc(r[4]) or r[4], _utc(r[5]), r[6], int(r[7]))
        for r in conn.execute(query).all()
    ]


def pending_count(conn: Connection) -> int:
    """Deliveries received and not processed yet."""
    query = select(func.count()).where(deliveries.c.processed_at.is_(None))
    return int(conn.execute(query).scalar() or 0)


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def repository_names(conn: Connection) -> list[str]:
    """The repositories whose runs the store holds."""
    return [str(name) for (name,) in conn.execute(select(repositories.c.name)).all()]
