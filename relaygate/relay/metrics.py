"""Prometheus metrics of the relay, in a registry owned by the app (no module-level state)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from relaygate.limits.redis_link import RedisLink


_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class RelayMetrics:
    """Requests by route/model/status, latency, first-chunk latency, tokens, upstream errors."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._requests = Counter(
            "relaygate_requests", "Relayed requests", ["route", "model", "status"], registry=self.registry
        )
        self._latency = Histogram(
            "relaygate_request_duration_seconds", "Time to the last byte", ["route"],
            buckets=_LATENCY_BUCKETS, registry=self.registry,
        )
        self._first_chunk = Histogram(
            "relaygate_first_chunk_seconds", "Time to the first streamed chunk", ["route"],
            buckets=_LATENCY_BUCKETS, registry=self.registry,
        )
        self._tokens = Counter("relaygate_tokens", "Tokens billed", ["model", "kind"], registry=self.registry)
        self._upstream_errors = Counter(
            "relaygate_upstream_errors", "Failed upstream attempts", ["channel", "reason"], registry=self.registry
        )
        self._children: dict[tuple[str, ...], object] = {}

    def watch_redis(self, link: RedisLink) -> None:
        """Export the Redis link's counters (read at scrape time: nothing is added to a request's cost)."""
        self.registry.register(_RedisCollector(link))

    def _child(self, metric: Counter | Histogram, *labels: str) -> object:
        key = (metric._name, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def request(self, route: str, model: str, status: int, seconds: float) -> None:
        self._child(self._requests, route, model, str(status)).inc()  # type: ignore[attr-defined]
        self._child(self._latency, route).observe(seconds)  # type: ignore[attr-defined]

    def first_chunk(self, route: str, seconds: float) -> None:
        self._child(self._first_chunk, route).observe(seconds)  # type: ignore[attr-defined]

    def tokens(self, model: str, prompt: int, completion: int) -> None:
        if prompt:
            self._child(self._tokens, model, "prompt").inc(prompt)  # type: ignore[attr-defined]
        if completion:
            self._child(self._tokens, model, "completion").inc(completion)  # type: ignore[attr-defined]

    def upstream_error(self, channel: str, reason: str) -> None:
        self._child(self._upstream_errors, channel, reason).inc()  # type: ignore[attr-defined]


class _RedisCollector(Collector):
    def __init__(self, link: RedisLink) -> None:
        self._link = link

    def collect(self) -> Iterator[Metric]:
        link = self._link
        yield GaugeMetricFamily("relaygate_redis_up", "1 while Redis answers in time, 0 during an outage",
                                value=1 if link.up else 0)
        yield CounterMetricFamily("relaygate_redis_round_trips", "Pipelines sent to Redis", value=link.round_trips)
        yield CounterMetricFamily("relaygate_redis_calls", "Script calls sent to Redis", value=link.calls)
        yield CounterMetricFamily("relaygate_redis_outages", "Times Redis became unreachable", value=link.outages)
        fallbacks = CounterMetricFamily(
            "relaygate_redis_fallbacks", "Decisions taken without Redis: limiter_local (fail open), "
            "limiter_refused (fail closed), limiter_settle_lost, health_local", labels=["kind"])
        for kind in ("limiter_local", "limiter_refused", "limiter_settle_lost", "health_local"):
            fallbacks.add_metric([kind], link.fallbacks[kind])
        yield fallbacks
