"""Console log-ins: sessions (by the SHA-256 of their token), password hashes and the wrong-password record.

None of these bump the configuration version: a log-in is not configuration, and the relay's caches stay warm.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, delete, func, select, update

from relaygate.store.tables import login_failures, sessions, users


@dataclass(frozen=True, slots=True)
class SessionUser:
    """The user behind a live session, as the admin API needs them."""

    user_id: int
    name: str
    role: str
    csrf_token: str
    expires_at: float


def password_of(conn: Connection, username: str) -> tuple[int, str | None, bool] | None:
    """(user id, password hash, enabled) of the user with this name, None for no such user."""
    row = conn.execute(select(users.c.id, users.c.password_hash, users.c.enabled)
                       .where(users.c.name == username)).first()
    return None if row is None else (int(row[0]), row[1], bool(row[2]))


def password_hash(conn: Connection, user_id: int) -> str | None:
    return conn.execute(select(users.c.password_hash).where(users.c.id == user_id)).scalar()


def set_password(conn: Connection, user_id: int, hashed: str | None, keep: str | None = None) -> bool:
    """Store a new password hash (None: no password); every session of the user but `keep` ends with it."""
    done = conn.execute(update(users).where(users.c.id == user_id).values(password_hash=hashed)).rowcount > 0
    ending = delete(sessions).where(sessions.c.user_id == user_id)
    conn.execute(ending.where(sessions.c.token_hash != keep) if keep is not None else ending)
    return done


def open_session(conn: Connection, token_hash: str, user_id: int, csrf_token: str, now: float,
                 expires_at: float) -> None:
    conn.execute(sessions.insert().values(token_hash=token_hash, user_id=user_id, csrf_token=csrf_token,
                                          created_at=now, expires_at=expires_at))
    conn.execute(delete(sessions).where(sessions.c.user_id == user_id, sessions.c.expires_at <= now))


def session_user(conn: Connection, token_hash: str, now: float) -> SessionUser | None:
    """The enabled user of an unexpired session, None otherwise."""
    row = conn.execute(
        select(users.c.id, users.c.name, users.c.role, sessions.c.csrf_token, sessions.c.expires_at)
        .join(users, users.c.id == sessions.c.user_id)
        .where(sessions.c.token_hash == token_hash, sessions.c.expires_at > now, users.c.enabled.is_(True))
    ).first()
    return None if row is None else SessionUser(int(row[0]), str(row[1]), str(row[2]), str(row[3]), float(row[4]))


def close_session(conn: Connection, token_hash: str) -> bool:
    return conn.execute(delete(sessions).where(sessions.c.token_hash == token_hash)).rowcount > 0


def end_sessions(conn: Connection, user_id: int) -> None:
    conn.execute(delete(sessions).where(sessions.c.user_id == user_id))


def recent_failures(conn: Connection, username: str, address: str, since: float) -> list[float]:
    """When this username failed from this address since `since`, oldest first."""
    return [float(t) for t in conn.execute(
        select(login_failures.c.created_at).where(login_failures.c.username == username,
                                                  login_failures.c.address == address,
                                                  login_failures.c.created_at >= since)
        .order_by(login_failures.c.created_at)).scalars()]


def record_failure(conn: Connection, username: str, address: str, now: float, forget_before: float) -> None:
    conn.execute(login_failures.insert().values(username=username, address=address, created_at=now))
    conn.execute(delete(login_failures).where(login_failures.c.created_at < forget_before))


def clear_failures(conn: Connection, username: str, address: str) -> None:
    conn.execute(delete(login_failures).where(login_failures.c.username == username,
                                              login_failures.c.address == address))


def session_count(conn: Connection, user_id: int) -> int:
    return int(conn.execute(select(func.count()).select_from(sessions).where(sessions.c.user_id == user_id))
               .scalar() or 0)
