"""Harmless stop and resume actions: in the sandbox no configured action reaches its real
target. The real `ActionRunner` still runs, so what a real receiver would get is exactly what
the sandbox shows:

- a webhook is signed and POSTed as configured, but to the sandbox's own receiver page
  (`/sandbox/receiver`), which checks the signature and keeps the request;
- a command runs as an argv list with the configured timeout and the same minimal
  environment, but the program is a Python one-liner that echoes what it was given instead
  of the configured program.

A signing secret that is not set in the environment is stood in for by a sandbox secret, so
a newcomer sees a signed request without setting anything up.
"""

from __future__ import annotations

import hmac
import json
import os
import sys
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from adapters.actions import (
    PAYLOAD_ENV,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    ActionRunner,
    command_environment,
    sign,
)
from bot.ports import ActionResult, Clock
from bot.registry import CommandAction, WebhookAction

STAND_IN_SECRET = "sandbox-signing-secret"  # noqa: S105  (public on purpose: a demo secret)
RECEIVER_PATH = "/sandbox/receiver"
KEPT = 50
# What the stand-in program prints: the argv it was given and the payload it found, as JSON.
ECHO = (
    "import json, os, sys; print(json.dumps({'argv': sys.argv[1:], "
    f"'payload': json.loads(os.environ['{PAYLOAD_ENV}'])}}))"
)


@dataclass
class Delivery:
    """One stop or resume action as the sandbox ran it: what was configured, what a real
    receiver would have received, and what the run reported."""

    at: datetime
    system: str
    kind: str  # "stop" | "resume"
    mechanism: str  # "webhook" | "command"
    configured: str  # the real URL or argv
    received: dict[str, Any] = field(default_factory=dict)
    result: str = ""
    ok: bool | None = None


class Deliveries:
    """The latest deliveries, newest first, for the actions page."""

    def __init__(self) -> None:
        self.items: deque[Delivery] = deque(maxlen=KEPT)
        self.version = 0

    def add(self, delivery: Delivery) -> None:
        """Keep one more."""
        self.items.appendleft(delivery)
        self.version += 1


class SandboxActions:
    """Implements `bot.ports.StopRunner` for the sandbox. `receiver_base` is the sandbox's own
    address (set once the server listens)."""

    def __init__(
        self,
        *,
        workdir: Path,
        clock: Clock,
        receiver_base: str = "http://127.0.0.1:3000",
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.workdir = workdir
        self.clock = clock
        self.receiver_base = receiver_base
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        self.deliveries = Deliveries()
        self._pending: dict[str, tuple[Delivery, str | None]] = {}

    def secret(self, name: str | None) -> str | None:
        """The signing secret a webhook is signed with in the sandbox."""
        if not name:
            return None
        return self.environ.get(name) or STAND_IN_SECRET

    async def run(
        self, *, action: WebhookAction | CommandAction, payload: dict[str, object]
    ) -> ActionResult:
        """Run a harmless stand-in of the action and keep what it delivered."""
        system, kind = str(payload.get("system", "")), str(payload.get("action", ""))
        if isinstance(action, WebhookAction):
            return await self._webhook(action, payload, system=system, kind=kind)
        return await self._command(action, payload, system=system, kind=kind)

    async def _webhook(
        self, action: WebhookAction, payload: dict[str, object], *, system: str, kind: str
    ) -> ActionResult:
        delivery = Delivery(self.clock.now(), system, kind, "webhook", action.url)
        token = os.urandom(8).hex()
        self._pending[token] = (delivery, self.secret(action.secret_env))
        stand_in = action.model_copy(
            update={"url": f"{self.receiver_base}{RECEIVER_PATH}/{token}?to={quote(action.url)}"}
        )
        environ = dict(self.environ)
        if action.secret_env:
            environ[action.secret_env] = self.secret(action.secret_env) or ""
        try:
            result = await ActionRunner(workdir=self.workdir, environ=environ).run(
                action=stand_in, payload=payload
            )
        finally:
            self._pending.pop(token, None)
        if action.secret_env and not self.environ.get(action.secret_env):
            delivery.received["secret"] = (
                f"${action.secret_env} is not set: signed with the sandbox stand-in secret"
            )
        delivery.result, delivery.ok = result.summary, result.ok
        self.deliveries.add(delivery)
        return ActionResult(
            result.ok, f"sandbox: {result.summary} (a real run POSTs to {action.url})"
        )

    def receive(self, token: str, *, headers: Mapping[str, str], body: bytes) -> bool:
        """The receiver page hands over a request; False when no action is waiting for it."""
        pending = self._pending.get(token)
        if pending is None:
            return False
        delivery, secret = pending
        try:
            parsed: Any = json.loads(body)
        except ValueError:
            parsed = body.decode(errors="replace")
        delivery.received.update(
            {
                "headers": {
                    k: v
                    for k, v in headers.items()
                    if k in ("Content-Type", SIGNATURE_HEADER, TIMESTAMP_HEADER)
                },
                "body": parsed,
                "signature": _verdict(secret, headers.get(SIGNATURE_HEADER), body),
            }
        )
        return True

    async def _command(
        self, action: CommandAction, payload: dict[str, object], *, system: str, kind: str
    ) -> ActionResult:
        delivery = Delivery(self.clock.now(), system, kind, "command", " ".join(action.command))
        stand_in = CommandAction(
            command=[sys.executable, "-I", "-c", ECHO, *action.command], timeout=action.timeout
        )
        env = command_environment(self.environ, json.dumps(payload, sort_keys=True))
        delivery.received = {
            "argv": action.command,
            "cwd": str(self.workdir),
            "environment": {k: v for k, v in env.items() if k != PAYLOAD_ENV},
            PAYLOAD_ENV: payload,
            "timeout": f"{action.timeout.total_seconds():g}s",
        }
        result = await ActionRunner(workdir=self.workdir, environ=self.environ).run(
            action=stand_in, payload=payload
        )
        delivery.result, delivery.ok = result.summary, result.ok
        self.deliveries.add(delivery)
        shown = " ".join(action.command)
        return ActionResult(
            result.ok,
            f"sandbox: echoed instead of running `{shown}`" if result.ok else result.summary,
        )


def _verdict(secret: str | None, signature: str | None, body: bytes) -> str:
    """What a receiver holding the secret would conclude about the signature."""
    if signature is None:
        return "unsigned (the registry gives this webhook no secret_env)"
    if secret and hmac.compare_digest(sign(secret, body), signature):
        return "valid: HMAC-SHA256 of the exact body"
    return "does not verify"
