"""A MidJourney submission as the relay carries it: the typed body, the mode, and — filled in by the preparation
step (relay/steps/midjourney.py) — who submits it and the task it acts on."""

from __future__ import annotations

from dataclasses import dataclass

from relaygate.core.types import MIDJOURNEY
from relaygate.protocols.midjourney import Mode, TaskAction
from relaygate.protocols.midjourney_submit import ActionRequest, ModalRequest, SubmitRequest
from relaygate.relay.operation import Pin
from relaygate.store.task_sql import TaskRow


@dataclass(frozen=True, slots=True)
class Owner:
    """Whose task a submission makes, and the request whose log row will hold its charge."""

    key_id: int
    user_id: int
    request_id: str


def price_name(action: TaskAction, mode: Mode) -> str:
    """The price-table name of an action in a mode: `mj-imagine-fast`, `mj-high-variation-relax`, …"""
    return f"mj-{action.value.lower().replace('_', '-')}-{mode.value}"


@dataclass(slots=True)
class MidjourneySubmit:
    request: SubmitRequest
    route: str
    """The route after /mj/: "submit/imagine", …, "insight-face/swap"."""
    mode: Mode | None
    """From the path prefix; the preparation step fills in the key's default (else fast)."""
    owner: Owner | None = None
    target: TaskRow | None = None
    """The task an action or a modal acts on (the caller's own)."""
    pin: Pin | None = None
    """To the channel that holds `target`."""
    model: str = MIDJOURNEY
    stream: bool = False

    @property
    def run_mode(self) -> Mode:
        return self.mode or Mode.FAST

    @property
    def priced_as(self) -> str:
        return price_name(self.request.action, self.run_mode)

    @property
    def target_id(self) -> str | None:
        """The id (relaygate's) of the task the request acts on, if it acts on one."""
        request = self.request
        return request.task_id if isinstance(request, ActionRequest | ModalRequest) else None
