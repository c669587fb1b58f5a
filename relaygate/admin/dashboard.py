"""The dashboards' figures: today, usage over time by hour or day, per model and per channel, in quota units
and USD, from the hourly usage rollup; days begin at midnight in the operator's time zone (UTC by default)."""

from __future__ import annotations

import time
from bisect import bisect_right
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from relaygate.admin import console_schemas as cs
from relaygate.admin.changes import OperatorBase
from relaygate.core.errors import NotFound
from relaygate.store import usage_sql
from relaygate.store.ledger_sql import ROLLUP_HOUR
from relaygate.store.usage_sql import Sums

_DAYS = {"24h": 1, "7d": 7, "30d": 30, "90d": 90}


def _figures(sums: Sums) -> dict[str, int | float]:
    return {"requests": sums.requests, "failures": sums.failures, "prompt_tokens": sums.prompt_tokens,
            "completion_tokens": sums.completion_tokens, "tokens": sums.prompt_tokens + sums.completion_tokens,
            "cost": sums.cost, "cost_usd": cs.usd(sums.cost)}


def _add(a: Sums, b: Sums) -> Sums:
    return Sums(a.requests + b.requests, a.failures + b.failures, a.prompt_tokens + b.prompt_tokens,
                a.completion_tokens + b.completion_tokens, a.cost + b.cost)


def _sum(items: Iterable[Sums]) -> Sums:
    total = Sums()
    for item in items:
        total = _add(total, item)
    return total


def _grouped(pairs: dict[tuple[str, int], Sums], by: int) -> dict[Any, Sums]:
    out: dict[Any, Sums] = {}
    for key, sums in pairs.items():
        out[key[by]] = _add(out.get(key[by], Sums()), sums)
    return out


def _hour(ts: float) -> int:
    """The rollup bucket holding `ts` (hours are whole in every zone but a few, whose days start at the hour)."""
    return int(ts) // ROLLUP_HOUR * ROLLUP_HOUR


def _starts(query: cs.DashboardQuery, zone: ZoneInfo, now: float) -> tuple[str, list[float], float]:
    """(granularity, the start of each point, today's start) for the range ending now."""
    granularity = query.granularity or ("hour" if query.range == "24h" else "day")
    local = datetime.fromtimestamp(now, zone)
    today = local.replace(hour=0, minute=0, second=0, microsecond=0)
    days = _DAYS[query.range]
    if granularity == "hour":
        first = _hour(now) - (days * 24 - 1) * ROLLUP_HOUR
        return granularity, [float(first + i * ROLLUP_HOUR) for i in range(days * 24)], today.timestamp()
    # by calendar day in the zone (a day with a clock change has 23 or 25 hours)
    day_starts = [(today - timedelta(days=n)).replace(tzinfo=None) for n in range(days - 1, -1, -1)]
    return granularity, [datetime(d.year, d.month, d.day, tzinfo=zone).timestamp() for d in day_starts], \
        today.timestamp()


class DashboardVerbs(OperatorBase):
    async def dashboard(self, query: cs.DashboardQuery, time_zone: str, user_id: int | None = None,
                        now: float | None = None) -> cs.DashboardOut:
        """Everyone's usage (the admin's dashboard), or one user's with their balance."""
        now = time.time() if now is None else now
        zone = ZoneInfo(time_zone)
        granularity, starts, today = _starts(query, zone, now)
        start, end = _hour(starts[0]), _hour(now) + ROLLUP_HOUR

        def run(c: Connection) -> tuple[dict[int, Sums], dict[tuple[str, int], Sums], dict[str, Sums],
                                        dict[int, str], tuple[int, int] | None]:
            return (usage_sql.by_hour(c, start, end, user_id), usage_sql.by_model_and_channel(c, start, end, user_id),
                    usage_sql.by_model(c, _hour(today), end, user_id),
                    usage_sql.channel_names(c) if user_id is None else {},
                    usage_sql.balance(c, user_id) if user_id is not None else None)
        hours, pairs, today_models, names, balance = await self._read(run)
        if user_id is not None and balance is None:
            raise NotFound(f"No user with id {user_id}.")
        total = _sum(v for bucket, v in hours.items() if bucket >= _hour(today))
        models = _grouped(pairs, 0)
        channels = _grouped(pairs, 1) if user_id is None else {}
        points = [Sums() for _ in starts]
        edges = [_hour(s) for s in starts]
        for bucket, sums in hours.items():
            i = max(0, bisect_right(edges, bucket) - 1)  # the last point starting at or before the hour
            points[i] = _add(points[i], sums)
        return cs.DashboardOut(
            time_zone=time_zone, today_start=today, today=cs.Figures(**_figures(total)),
            models_today=_ranked_models(today_models), range=query.range, granularity=granularity,
            series=[cs.Point(start=s, **_figures(p)) for s, p in zip(starts, points, strict=True)],
            models=_ranked_models(models),
            channels=sorted((cs.ChannelUsage(channel_id=cid or None, name=_channel_name(cid, names), **_figures(v))
                             for cid, v in channels.items()),
                            key=lambda u: (-u.cost, -u.requests)),
            balance=balance[0] if balance else None, balance_usd=cs.usd(balance[0]) if balance else None,
            used_quota=balance[1] if balance else None)


def _channel_name(channel_id: int, names: dict[int, str]) -> str:
    if not channel_id:
        return "none (refused before a channel)"
    return names.get(channel_id, f"channel {channel_id} (deleted)")


def _ranked_models(models: dict[str, Sums]) -> list[cs.ModelUsage]:
    return sorted((cs.ModelUsage(model=m, **_figures(v)) for m, v in models.items()),
                  key=lambda u: (-u.cost, -u.requests, u.model))
