"""Prometheus metrics of the MidJourney background work, in the app's registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class TaskMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = registry or CollectorRegistry(auto_describe=True)
        self.rounds = Counter("relaygate_mj_poll_rounds", "Poll rounds run (on the replica holding the lease)",
                              registry=registry)
        self.upstream_calls = Counter("relaygate_mj_poll_upstream_calls", "list-by-condition calls made, by outcome",
                                      ["outcome"], registry=registry)
        self.polled = Counter("relaygate_mj_polled_tasks", "Task ids asked of upstreams", registry=registry)
        self.rows_written = Counter("relaygate_mj_poll_rows_written",
                                    "Task rows, notifications and refunds the poller wrote", registry=registry)
        self.unfinished = Gauge("relaygate_mj_unfinished_tasks", "Unfinished tasks at the last round",
                                registry=registry)
        self.refunds = Counter("relaygate_mj_refunds", "Tasks refunded, by reason", ["reason"], registry=registry)
        self.notifications = Counter("relaygate_mj_notifications", "notifyHook calls, by outcome", ["outcome"],
                                     registry=registry)
