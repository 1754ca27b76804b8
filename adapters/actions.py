"""Runs stop and resume actions: an HMAC-signed webhook, or an argv command with a timeout.
Never a shell: the registry's command is an argument vector."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import signal
import time
from collections.abc import Mapping
from pathlib import Path

import aiohttp

from bot.ports import ActionResult
from bot.registry import CommandAction, WebhookAction

SIGNATURE_HEADER = "X-Accountability-Signature"
TIMESTAMP_HEADER = "X-Accountability-Timestamp"
PAYLOAD_ENV = "ACCOUNTABILITY_PAYLOAD"
# All a command inherits: the bot's own environment holds its tokens and DATABASE_URL.
PASSED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ")


def sign(secret: str, body: bytes) -> str:
    """`sha256=` + hex HMAC-SHA256 of the exact body, as receivers verify it. The body
    carries `sent_at`, so a replayed request is visibly old to the receiver."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def command_environment(environ: Mapping[str, str], payload: str) -> dict[str, str]:
    """What a stop command sees: PATH, HOME, LANG, LC_ALL and TZ when set, and the request as
    JSON in $ACCOUNTABILITY_PAYLOAD. Nothing else of the bot's environment (its secrets)."""
    env = {name: environ[name] for name in PASSED_ENV if name in environ}
    env[PAYLOAD_ENV] = payload
    return env


def _kill_group(process: asyncio.subprocess.Process) -> None:
    """Kill the command and everything it started (it leads its own process group)."""
    with contextlib.suppress(ProcessLookupError):  # already gone, with all of its group
        os.killpg(process.pid, signal.SIGKILL)


class ActionRunner:
    """Implements bot.ports.StopRunner. Commands run with `workdir` (the registry's folder)
    as their working directory, so a registry can name `scripts/flag` next to itself. A
    command gets a minimal environment (`command_environment`) and runs in a session of its
    own, so a timeout kills whatever it started too."""

    def __init__(self, *, workdir: Path, environ: Mapping[str, str] | None = None) -> None:
        self.workdir = workdir
        self.environ: Mapping[str, str] = os.environ if environ is None else environ

    async def run(
        self, *, action: WebhookAction | CommandAction, payload: dict[str, object]
    ) -> ActionResult:
        """Run the action; report failures instead of raising them."""
        if isinstance(action, WebhookAction):
            return await self._webhook(action, payload)
        return await self._command(action, payload)

    async def _webhook(self, action: WebhookAction, payload: dict[str, object]) -> ActionResult:
        timestamp = str(int(time.time()))
        body = json.dumps({**payload, "sent_at": int(timestamp)}, sort_keys=True).encode()
        headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: timestamp}
        if action.secret_env:
            secret = self.environ.get(action.secret_env)
            if not secret:
                return ActionResult(
                    False, f"the signing secret ${action.secret_env} is not set; nothing was sent"
                )
            headers[SIGNATURE_HEADER] = sign(secret, body)
        timeout = aiohttp.ClientTimeout(total=action.timeout.total_seconds())
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.post(action.url, data=body, headers=headers) as response,
            ):
                text = (await response.text())[:300]
                if 200 <= response.status < 300:
                    return ActionResult(True, f"webhook answered {response.status}")
                return ActionResult(False, f"webhook answered {response.status}: {text}")
        except TimeoutError:
            return ActionResult(
                False, f"webhook timed out after {action.timeout.total_seconds():g}s"
            )
        except aiohttp.ClientError as exc:
            return ActionResult(False, f"webhook failed: {exc.__class__.__name__}: {exc}")

    async def _command(self, action: CommandAction, payload: dict[str, object]) -> ActionResult:
        env = command_environment(self.environ, json.dumps(payload, sort_keys=True))
        try:
            process = await asyncio.create_subprocess_exec(
                *action.command,
                cwd=self.workdir,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            return ActionResult(False, f"could not start {action.command[0]}: {exc.strerror}")
        try:
            output, _ = await asyncio.wait_for(
                process.communicate(), timeout=action.timeout.total_seconds()
            )
        except TimeoutError:
            _kill_group(process)
            await process.wait()
            return ActionResult(
                False, f"{action.command[0]} timed out after {action.timeout.total_seconds():g}s"
            )
        except asyncio.CancelledError:  # shutting down: leave nothing of it running
            _kill_group(process)
            raise
        tail = output.decode(errors="replace").strip()[-300:]
        if process.returncode == 0:
            return ActionResult(
                True, f"{action.command[0]} exited 0" + (f": {tail}" if tail else "")
            )
        return ActionResult(
            False,
            f"{action.command[0]} exited {process.returncode}" + (f": {tail}" if tail else ""),
        )
