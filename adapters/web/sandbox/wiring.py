"""How the composition root builds the sandbox: whether it is on, and its parts.

On by default only when no chat platform is configured (no Slack token, no Teams app), so a
workspace never sees it; `SANDBOX=1` or `SANDBOX=0` forces it. When it is on, the service's
clock is the sandbox clock and its stop runner the harmless one, for every platform: that is
what makes a forced sandbox safe next to a real workspace too (and why start-up warns)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from adapters.settings import Settings
from adapters.web.sandbox.actions import SandboxActions
from adapters.web.sandbox.clock import SandboxClock
from adapters.web.sandbox.core import Core, Sandbox
from adapters.web.sandbox.platform import WebPlatform
from bot.ports import Clock
from bot.registry import Registry

log = logging.getLogger(__name__)


def enabled(settings: Settings) -> bool:
    """SANDBOX when set, else on exactly when no chat platform is configured."""
    if settings.sandbox is not None:
        return settings.sandbox
    return not settings.chat_configured


@dataclass
class Parts:
    """What the service is built over when the sandbox is on."""

    clock: SandboxClock
    platform: WebPlatform
    actions: SandboxActions

    def assemble(self, core: Core) -> Sandbox:
        """The sandbox over the service built from these parts."""
        return Sandbox(core=core, platform=self.platform, clock=self.clock, actions=self.actions)


def parts(
    settings: Settings,
    *,
    registry: Callable[[], Registry],
    workdir: Path,
    clock: Clock | None = None,
) -> Parts | None:
    """The sandbox's clock, platform and stop actions, or None when it is off."""
    if not enabled(settings):
        return None
    if settings.chat_configured:
        log.warning(
            "SANDBOX=1 next to a chat platform: stop actions are harmless stand-ins and the "
            "sandbox clock can move time for everyone; never do this in production"
        )
    sandbox_clock = SandboxClock(clock)
    return Parts(
        clock=sandbox_clock,
        platform=WebPlatform(people=lambda: registry().people, clock=sandbox_clock),
        actions=SandboxActions(
            workdir=workdir,
            clock=sandbox_clock,
            receiver_base=f"http://127.0.0.1:{settings.port}",
        ),
    )
