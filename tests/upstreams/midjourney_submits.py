"""The fake midjourney-proxy's submit routes: each validates its body as midjourney-proxy (and trueai's plus routes)
do, answering code 4 with their descriptions, then creates the task and answers 1, 21, 22 — or a refusal code on
demand. Mixed into MockMidjourney, whose task store it uses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from tests.upstreams import midjourney_wire as wire

if TYPE_CHECKING:
    from tests.upstreams.midjourney_mock import MockMidjourney

OUTCOME_MARKERS = {"[mock fail]": "failure", "[mock cancel]": "cancel", "[mock stuck]": "stuck",
                   "[mock vanish]": "vanish"}
CODE_MARKERS = {"[mock exists]": 21, "[mock queued]": 22, "[mock queue full]": 23, "[mock invalid]": 4,
                "[mock error]": 9, "[mock no account]": 3}
_REFUSALS = {3: "无可用的账号实例", 4: "参数错误", 9: "提交失败，系统异常", 23: "队列已满，请稍后尝试"}
_BOT_TYPES = ("MID_JOURNEY", "NIJI_JOURNEY")
_DIMENSIONS = ("PORTRAIT", "SQUARE", "LANDSCAPE")


class Refusal(Exception):
    """A submit answer that is not an acceptance: {code, description, result, properties} with its HTTP status."""

    def __init__(self, code: int, description: str, *, status: int = 200,
                 properties: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.answer = {"code": code, "description": description, "result": None, "properties": properties or {}}


class Submits:
    """The submit handlers of a MockMidjourney, whose settings and task store they use; `body` is a JSON object,
    `mode` the path's mode prefix (None under plain /mj)."""

    def __init__(self, server: MockMidjourney) -> None:
        self.server = server

    async def imagine(self, body: dict[str, Any], mode: str | None) -> web.Response:
        prompt, state = wire.text(body, "prompt"), wire.text(body, "state")
        images = wire.text_list(body, "base64Array") or []
        legacy = wire.text(body, "base64")
        bot_type = wire.enum(body, "botType", _BOT_TYPES) or "MID_JOURNEY"
        wire.text(body, "notifyHook")
        if wire.blank(prompt):
            raise Refusal(4, "prompt不能为空")
        assert prompt is not None
        prompt = prompt.strip()
        self._check_banned(prompt)
        if any(not wire.data_url_ok(i) for i in [*images, *([] if wire.blank(legacy) else [legacy])]):
            raise Refusal(4, "base64格式错误")
        task = self._task("IMAGINE", "grid", mode, prompt=prompt, state=state, bot_type=bot_type,
                          description=f"/imagine {prompt}")
        return self._submit(task, prompt)

    async def action(self, body: dict[str, Any], mode: str | None) -> web.Response:
        task_id, custom_id, state = wire.text(body, "taskId"), wire.text(body, "customId"), wire.text(body, "state")
        wire.text(body, "notifyHook")
        if wire.blank(task_id) or wire.blank(custom_id):
            raise Refusal(4, "参数错误")
        assert task_id is not None and custom_id is not None
        target = self._target(task_id)
        if target.status != "SUCCESS":
            raise Refusal(4, "关联任务状态错误")
        pressed = next((b for b in target.buttons if b["customId"] == custom_id), None)
        if pressed is None:  # Discord refuses an interaction with a component the message does not have
            raise Refusal(4, "customId不属于关联任务")
        if custom_id.startswith("MJ::BOOKMARK::"):
            return _answer(1, "成功", target.id)
        action, result, modal = wire.action_of(custom_id)
        prompt = target.prompt_en
        if custom_id.startswith("MJ::Job::PicReader::"):
            prompt = target.prompt_en.split("\n\n")[int(custom_id.rsplit("::", 1)[1]) - 1].split(" ", 1)[1] \
                if target.prompt_en else None
        task = self._task(action, result, mode, prompt=prompt, state=state, bot_type=target.bot_type,
                          description=f"/up {target.id} {pressed['label'] or custom_id}", outcome=self.server.outcome)
        task.custom_id = custom_id
        if result == "describe":
            task.image_name = "input"
        if modal or (self.server.remix and action in ("VARIATION", "REROLL", "PAN")):
            task.modal = True
            with self.server.lock:
                self.server.tasks[task.id] = task
            return _answer(21, "Waiting for window confirm", task.id, {"finalPrompt": prompt, "remix": True})
        return self._submit(task, None)

    async def modal(self, body: dict[str, Any], mode: str | None) -> web.Response:
        task_id, prompt, mask = wire.text(body, "taskId"), wire.text(body, "prompt"), wire.text(body, "maskBase64")
        wire.text(body, "state")
        wire.text(body, "notifyHook")
        if wire.blank(task_id) or wire.blank(prompt):
            raise Refusal(4, "参数错误")
        assert task_id is not None and prompt is not None
        task = self._target(task_id)
        if not task.modal:
            raise Refusal(4, "关联任务状态错误")
        prompt = prompt.strip()
        self._check_banned(prompt)
        if task.action == "INPAINT" and wire.blank(mask):
            raise Refusal(4, "maskBase64不能为空")
        if not wire.blank(mask) and not wire.data_url_ok(mask):
            raise Refusal(4, "base64格式错误")
        code = self._code(prompt)
        with self.server.lock:
            task.restart(prompt)
            task.mode, task.outcome = mode, _outcome(prompt, self.server.outcome)
        return _accepted(task, code)

    async def blend(self, body: dict[str, Any], mode: str | None) -> web.Response:
        images = wire.text_list(body, "base64Array")
        dimensions = wire.enum(body, "dimensions", _DIMENSIONS)
        bot_type = wire.enum(body, "botType", _BOT_TYPES) or "MID_JOURNEY"
        state = wire.text(body, "state")
        wire.text(body, "notifyHook")
        if images is None or not 2 <= len(images) <= 5:
            raise Refusal(4, "base64List参数错误")
        if dimensions is None:
            raise Refusal(4, "dimensions参数错误")
        if not all(wire.data_url_ok(i) for i in images):
            raise Refusal(4, "base64格式错误")
        task = self._task("BLEND", "grid", mode, state=state, bot_type=bot_type)
        task.description = f"/blend {task.id} {len(images)}"
        return self._submit(task, None)

    async def describe(self, body: dict[str, Any], mode: str | None) -> web.Response:
        image, state = wire.text(body, "base64"), wire.text(body, "state")
        bot_type = wire.enum(body, "botType", _BOT_TYPES) or "MID_JOURNEY"
        wire.text(body, "notifyHook")
        if wire.blank(image):
            raise Refusal(4, "base64不能为空")
        if not wire.data_url_ok(image):
            raise Refusal(4, "base64格式错误")
        task = self._task("DESCRIBE", "describe", mode, state=state, bot_type=bot_type)
        task.description, task.image_name = f"/describe {task.id}.png", "input"
        return self._submit(task, None)

    async def shorten(self, body: dict[str, Any], mode: str | None) -> web.Response:
        prompt, state = wire.text(body, "prompt"), wire.text(body, "state")
        bot_type = wire.enum(body, "botType", _BOT_TYPES) or "MID_JOURNEY"
        wire.text(body, "notifyHook")
        if wire.blank(prompt):
            raise Refusal(4, "prompt不能为空")
        assert prompt is not None
        self._check_banned(prompt)
        task = self._task("SHORTEN", "shorten", mode, prompt=prompt, state=state, bot_type=bot_type,
                          description=f"/shorten {prompt}")
        return self._submit(task, prompt)

    async def swap_face(self, body: dict[str, Any], mode: str | None) -> web.Response:
        source, target = wire.text(body, "sourceBase64"), wire.text(body, "targetBase64")
        state = wire.text(body, "state")
        wire.text(body, "notifyHook")
        if wire.blank(source):
            raise Refusal(4, "人脸图片不能为空")
        if wire.blank(target):
            raise Refusal(4, "目标图片不能为空")
        if source == target:
            raise Refusal(4, "人脸图片和目标图片不能相同")
        if not (wire.data_url_ok(source) and wire.data_url_ok(target)):
            raise Refusal(4, "base64格式错误")
        task = self._task("SWAP_FACE", "image", mode, state=state, bot_type="INSIGHT_FACE", description="/swap")
        return self._submit(task, None)

    # ---------------------------------------------------------------- shared steps

    def _task(self, action: str, result: str, mode: str | None, *, prompt: str | None = None,
              state: str | None = None, bot_type: str = "MID_JOURNEY", description: str | None = None,
              outcome: str | None = None) -> wire.MockTask:
        properties: dict[str, Any] = {"discordInstanceId": wire.INSTANCE_ID}
        if prompt is not None:
            properties["finalPrompt"] = prompt
        return wire.MockTask(id=self.server.new_id(), action=action, result=result, mode=mode, prompt=prompt,
                             prompt_en=prompt, description=description, state=state, bot_type=bot_type,
                             outcome=outcome or _outcome(prompt, self.server.outcome), properties=properties)

    def _target(self, task_id: str) -> wire.MockTask:
        with self.server.lock:
            task = self.server.settled_task(task_id)
        if task is None:
            raise Refusal(3, "关联任务不存在或已失效", status=404)
        return task

    def _check_banned(self, prompt: str) -> None:
        word = next((w for w in self.server.banned_words if w.lower() in prompt.lower()), None)
        if word is not None:
            raise Refusal(24, "可能包含敏感词", properties={"promptEn": prompt, "bannedWord": word})

    def _code(self, prompt: str | None) -> int | None:
        """The code asked for (a prompt marker, else refuse_next/submit_code); a refusal one is raised."""
        marked = next((c for m, c in CODE_MARKERS.items() if prompt and m in prompt), None)
        code = marked if marked is not None else self.server.take_code()
        if code == 24:
            raise Refusal(24, "可能包含敏感词", properties={"promptEn": prompt, "bannedWord": "mock"})
        if code in _REFUSALS:
            properties = {"discordInstanceId": wire.INSTANCE_ID} if code == 23 else {}
            raise Refusal(code, _REFUSALS[code], properties=properties)
        return code

    def _submit(self, task: wire.MockTask, prompt: str | None) -> web.Response:
        code = self._code(prompt)
        with self.server.lock:
            self.server.tasks[task.id] = task
        return _accepted(task, code)


def _outcome(prompt: str | None, default: str) -> str:
    return next((o for m, o in OUTCOME_MARKERS.items() if prompt and m in prompt), default)


def _accepted(task: wire.MockTask, code: int | None) -> web.Response:
    if code == 21:
        return _answer(21, "任务已存在", task.id, {"status": task.status, "imageUrl": None})
    if code == 22:
        return _answer(22, "排队中，前面还有1个任务", task.id,
                       {"numberOfQueues": 1, "discordInstanceId": wire.INSTANCE_ID})
    return _answer(1, "提交成功", task.id, {"discordInstanceId": wire.INSTANCE_ID})


def _answer(code: int, description: str, result: str, properties: dict[str, Any] | None = None) -> web.Response:
    body = {"code": code, "description": description, "result": result, "properties": properties or {}}
    return web.Response(body=orjson.dumps(body), content_type="application/json")
