"""who-owns, stop and resume through the core, with the real action runner: a signed webhook
to a loopback stand-in and real argv commands."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web

from adapters.actions import SIGNATURE_HEADER, TIMESTAMP_HEADER, ActionRunner
from adapters.fake import InMemoryPlatform, ManualClock
from bot import cards
from bot.domain import UserRef
from bot.events import ButtonClicked, CommandGiven
from bot.registry import parse_registry
from bot.service import AccountabilityService
from store.database import SqlStore
from tests.conftest import EXAMPLE

ALICE, BOB, CAROL, MALLORY = (
    UserRef("slack", u) for u in ("U0ALICE01", "U0BOB0002", "U0CAROL03", "U0MALLORY")
)
SECRET = "s3cret-for-tests"


@dataclass
class Webhook:
    """A stop/resume endpoint on 127.0.0.1 that records what it receives."""

    url: str = ""
    status: int = 200
    received: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)


@pytest.fixture
async def webhook() -> AsyncIterator[Webhook]:
    hook = Webhook()

    async def receive(request: web.Request) -> web.Response:
        hook.received.append((request.path, await request.read(), dict(request.headers)))
        return web.Response(status=hook.status, text="ok" if hook.status < 300 else "broken")

    app = web.Application()
    app.router.add_post("/{tail:.*}", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    hook.url = f"http://127.0.0.1:{port}"
    yield hook
    await runner.cleanup()


@pytest.fixture
def commands(
    make_service: Callable[..., AccountabilityService], webhook: Webhook, tmp_path: Path
) -> AccountabilityService:
    """The example registry with its webhooks pointed at the stand-in and a real flag script."""
    script = tmp_path / "scripts" / "flag"
    script.parent.mkdir()
    script.write_text(
        f"#!{sys.executable}\nimport sys, pathlib\n"
        "pathlib.Path('flag-' + sys.argv[2]).write_text(sys.argv[3])\nprint('flag set')\n"
    )
    script.chmod(0o755)
    text = EXAMPLE.read_text().replace("http://127.0.0.1:9099", webhook.url)
    registry = parse_registry(text, source="ownership.yaml")
    return make_service(
        registry=registry,
        stop_runner=ActionRunner(
            workdir=tmp_path,
            environ={"BILLING_ROUTER_STOP_SECRET": SECRET, "PATH": "/usr/bin:/bin"},
        ),
    )


def command(user: UserRef, name: str, args: str, channel: str = "C0ALERTS1") -> CommandGiven:
    return CommandGiven(user=user, command=name, args=args, channel=channel)  # type: ignore[arg-type]


async def actions(store: SqlStore) -> list[str]:
    async with store.transaction() as tx:
        return [e.action for e in await tx.evidence.entries()]


async def test_who_owns_answers_everything(
    service: AccountabilityService,
) -> None:
    reply = await service.command(command(MALLORY, "who-owns", "billing-router"))
    text = reply.card.plain_text()
    for expected in (
        "Operator: Alice Ng",
        "Maintainer: Bob Ruiz",
        "Steward: Carol Diaz",
        "Stop authority: Carol Diaz",
        "Escalation map: Bob Ruiz (maintainer) after 10m, then Carol Diaz (steward) after 30m, "
        "then Dana Wu (step 3) after 2d.",
        "Ownership never confirmed.",
        "Open alerts: 0",
        "Status: running",
    ):
        assert expected in text
    assert reply.card.mentioned()[0] == ALICE


async def test_who_owns_unknown_system_lists_close_matches(service: AccountabilityService) -> None:
    reply = await service.command(command(ALICE, "who-owns", "biling-router"))
    assert reply.card.title == "No system called 'biling-router'"
    assert "Did you mean: billing-router?" in reply.card.plain_text()


async def test_who_owns_alone_lists_the_systems_of_this_channel(
    service: AccountabilityService,
) -> None:
    reply = await service.command(command(ALICE, "who-owns", ""))
    text = reply.card.plain_text()
    assert "billing-router: operator Alice Ng, steward Carol Diaz" in text
    assert "support-drafter: operator Bob Ruiz" in text


async def test_confirmed_roles_show_in_who_owns(
    service: AccountabilityService, clock: ManualClock
) -> None:
    reply = await service.click(
        ButtonClicked(user=ALICE, action=cards.ROLE_CONFIRM, value="billing-router:operator")
    )
    assert reply is not None and reply.card.title == "Confirmed"
    text = (await service.command(command(ALICE, "who-owns", "billing-router"))).card.plain_text()
    assert "Ownership last confirmed 2026-11-02 09:00 UTC" in text
    assert "operator never confirmed" not in text and "steward never confirmed" in text
    clock.advance(timedelta(days=31))  # billing-router reviews every 30d
    text = (await service.command(command(ALICE, "who-owns", "billing-router"))).card.plain_text()
    assert "operator last confirmed 2026-11-02 09:00 UTC, review every 30d" in text


async def test_someone_else_cannot_confirm_a_role(service: AccountabilityService) -> None:
    reply = await service.click(
        ButtonClicked(user=BOB, action=cards.ROLE_CONFIRM, value="billing-router:operator")
    )
    assert reply is not None and reply.card.title == "Not your role"


async def test_stop_by_the_holder_confirms_then_calls_the_signed_webhook(
    commands: AccountabilityService, webhook: Webhook, slack: InMemoryPlatform, store: SqlStore
) -> None:
    reply = await commands.command(command(CAROL, "stop", "billing-router drift in scores"))
    assert reply.card.title == "Confirm: stop billing-router?"
    assert reply.card.action_ids() == (cards.STOP_CONFIRM, cards.STOP_CANCEL)
    assert webhook.received == []  # nothing runs before the confirmation
    request_id = reply.card.buttons[0].value

    done = await commands.click(
        ButtonClicked(user=CAROL, action=cards.STOP_CONFIRM, value=request_id)
    )
    assert done is not None and done.card.title == "billing-router stopped"

    ((path, body, headers),) = webhook.received
    assert path == "/billing-router/stop"
    payload = json.loads(body)
    assert payload["system"] == "billing-router" and payload["requested_by"] == "carol"
    assert payload["reason"] == "drift in scores"
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert payload["sent_at"] == int(headers[TIMESTAMP_HEADER])
    assert headers[SIGNATURE_HEADER] == f"sha256={expected}"

    posted = [s for s in slack.posts("post") if s.channel == "C0ALERTS1"]
    assert posted[-1].card.title == "billing-router stopped"
    who = await commands.command(command(ALICE, "who-owns", "billing-router"))
    assert "Status: STOPPED" in who.card.plain_text()
    assert await actions(store) == ["stop.requested", "stop.succeeded"]


async def test_stop_by_anyone_else_is_refused_and_the_holder_told(
    commands: AccountabilityService, webhook: Webhook, slack: InMemoryPlatform, store: SqlStore
) -> None:
    reply = await commands.command(command(BOB, "stop", "billing-router I think it is broken"))
    assert reply.card.title == "Refused: you do not hold stop authority for billing-router"
    assert reply.card.mentioned() == (CAROL,)
    assert webhook.received == []
    (told,) = slack.directs_to("U0CAROL03")
    assert "asked to stop billing-router" in told.card.plain_text()
    assert "I think it is broken" in told.card.plain_text()
    async with store.transaction() as tx:
        (entry,) = await tx.evidence.entries()
    assert (entry.action, entry.actor, entry.detail["user"]) == ("stop.refused", "bob", "U0BOB0002")


async def test_a_typed_name_is_not_authority(
    commands: AccountabilityService, webhook: Webhook
) -> None:
    # Someone unknown to the registry cannot become Carol by saying so.
    reply = await commands.command(command(MALLORY, "stop", "billing-router carol says so"))
    assert reply.card.title.startswith("Refused")
    assert webhook.received == []


async def test_only_the_holder_may_confirm_and_only_once(
    commands: AccountabilityService, webhook: Webhook, store: SqlStore
) -> None:
    reply = await commands.command(command(CAROL, "stop", "billing-router"))
    request_id = reply.card.buttons[0].value
    refused = await commands.click(
        ButtonClicked(user=BOB, action=cards.STOP_CONFIRM, value=request_id)
    )
    assert refused is not None and refused.card.title == "Refused"
    results = await asyncio.gather(
        *(
            commands.click(ButtonClicked(user=CAROL, action=cards.STOP_CONFIRM, value=request_id))
            for _ in range(3)
        )
    )
    titles = sorted(r.card.title for r in results if r is not None)
    assert titles == ["Already handled", "Already handled", "billing-router stopped"]
    assert len(webhook.received) == 1


async def test_cancel_runs_nothing(
    commands: AccountabilityService, webhook: Webhook, store: SqlStore
) -> None:
    reply = await commands.command(command(CAROL, "stop", "billing-router"))
    done = await commands.click(
        ButtonClicked(user=CAROL, action=cards.STOP_CANCEL, value=reply.card.buttons[0].value)
    )
    assert done is not None and done.card.title == "Cancelled: stop billing-router"
    assert webhook.received == []
    assert await actions(store) == ["stop.requested", "stop.cancelled"]


async def test_a_failing_webhook_is_reported_and_recorded(
    commands: AccountabilityService, webhook: Webhook, slack: InMemoryPlatform, store: SqlStore
) -> None:
    webhook.status = 500
    reply = await commands.command(command(CAROL, "stop", "billing-router"))
    done = await commands.click(
        ButtonClicked(user=CAROL, action=cards.STOP_CONFIRM, value=reply.card.buttons[0].value)
    )
    assert done is not None and done.card.title == "Stop of billing-router FAILED"
    assert "webhook answered 500" in done.card.plain_text()
    assert slack.posts("post")[-1].card.title == "Stop of billing-router FAILED"
    who = await commands.command(command(ALICE, "who-owns", "billing-router"))
    assert "Status: running" in who.card.plain_text()
    async with store.transaction() as tx:
        last = (await tx.evidence.entries())[-1]
    assert last.action == "stop.failed" and "500" in str(last.detail["result"])


async def test_resume_after_stop(
    commands: AccountabilityService, webhook: Webhook, store: SqlStore
) -> None:
    for verb in ("stop", "resume"):
        reply = await commands.command(command(CAROL, verb, "billing-router"))
        await commands.click(
            ButtonClicked(user=CAROL, action=cards.STOP_CONFIRM, value=reply.card.buttons[0].value)
        )
    assert [p for p, _, _ in webhook.received] == ["/billing-router/stop", "/billing-router/resume"]
    who = await commands.command(command(ALICE, "who-owns", "billing-router"))
    assert "Status: running" in who.card.plain_text()


async def test_argv_stop_command_runs_without_a_shell(
    commands: AccountabilityService, tmp_path: Path, store: SqlStore
) -> None:
    reply = await commands.command(command(CAROL, "stop", "support-drafter"))
    done = await commands.click(
        ButtonClicked(user=CAROL, action=cards.STOP_CONFIRM, value=reply.card.buttons[0].value)
    )
    assert done is not None and done.card.title == "support-drafter stopped"
    assert (tmp_path / "flag-support-drafter").read_text() == "off"
    assert "scripts/flag exited 0: flag set" in done.card.plain_text()


async def test_no_resume_action_is_said_and_recorded(
    commands: AccountabilityService, store: SqlStore
) -> None:
    reply = await commands.command(command(CAROL, "resume", "support-drafter"))
    assert reply.card.title == "No resume action for support-drafter"
    assert await actions(store) == ["resume.unavailable"]


async def test_stop_unknown_system_lists_close_matches(commands: AccountabilityService) -> None:
    reply = await commands.command(command(CAROL, "stop", "support"))
    assert "Did you mean: support-drafter?" in reply.card.plain_text()


async def test_command_runner_timeout_and_missing_program(tmp_path: Path) -> None:
    from bot.registry import CommandAction

    runner = ActionRunner(workdir=tmp_path, environ={})
    slow = await runner.run(
        action=CommandAction(
            command=[sys.executable, "-c", "import time; time.sleep(30)"],
            timeout=timedelta(seconds=0.3),
        ),
        payload={},
    )
    assert not slow.ok and "timed out after 0.3s" in slow.summary
    missing = await runner.run(action=CommandAction(command=["./no-such-program"]), payload={})
    assert not missing.ok and "could not start ./no-such-program" in missing.summary
    failing = await runner.run(
        action=CommandAction(
            command=[sys.executable, "-c", "import sys; print('no'); sys.exit(3)"]
        ),
        payload={},
    )
    assert not failing.ok and failing.summary.endswith("exited 3: no")


async def test_shell_metacharacters_are_plain_arguments(tmp_path: Path) -> None:
    from bot.registry import CommandAction

    runner = ActionRunner(workdir=tmp_path, environ={})
    result = await runner.run(
        action=CommandAction(
            command=[sys.executable, "-c", "import sys; print(sys.argv[1])", "x; touch pwned"]
        ),
        payload={},
    )
    assert result.ok and "x; touch pwned" in result.summary
    assert not (tmp_path / "pwned").exists()


async def test_webhook_without_its_secret_sends_nothing(webhook: Webhook, tmp_path: Path) -> None:
    from bot.registry import WebhookAction

    runner = ActionRunner(workdir=tmp_path, environ={})
    result = await runner.run(
        action=WebhookAction(url=webhook.url + "/x", secret_env="MISSING_SECRET"), payload={}
    )
    assert not result.ok and "MISSING_SECRET is not set" in result.summary
    assert webhook.received == []


def _gone(pid: int) -> bool:
    """True when `pid` no longer runs (exited, or a zombie nobody reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


async def test_a_stop_command_sees_none_of_the_bots_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.registry import CommandAction

    secrets = {
        "SLACK_BOT_TOKEN": "xoxb-not-for-scripts",
        "TEAMS_APP_PASSWORD": "teams-password",
        "ALERT_INGEST_TOKEN": "ingest-token",
        "DATABASE_URL": "postgresql://bot:pw@db/bot",
    }
    for name, value in {**secrets, "TZ": "Europe/Paris", "HOME": str(tmp_path)}.items():
        monkeypatch.setenv(name, value)
    seen = tmp_path / "env.json"
    runner = ActionRunner(workdir=tmp_path)  # the bot's own environment, as in production
    result = await runner.run(
        action=CommandAction(
            command=[
                sys.executable,
                "-c",
                "import json, os, sys; open(sys.argv[1], 'w').write(json.dumps(dict(os.environ)))",
                str(seen),
            ]
        ),
        payload={"system": "support-drafter", "action": "stop"},
    )
    assert result.ok
    env = json.loads(seen.read_text())
    assert not set(secrets) & set(env)
    assert not any(v in " ".join(env.values()) for v in secrets.values())
    # Python itself may add LC_CTYPE (PEP 538) when no locale is set.
    assert set(env) - {"LC_CTYPE"} <= {
        "PATH",
        "HOME",
        "LANG",
        "LC_ALL",
        "TZ",
        "ACCOUNTABILITY_PAYLOAD",
    }
    assert env["TZ"] == "Europe/Paris" and env["HOME"] == str(tmp_path)
    assert json.loads(env["ACCOUNTABILITY_PAYLOAD"]) == {
        "action": "stop",
        "system": "support-drafter",
    }


@pytest.mark.parametrize("output", ["detached", "shared"])
async def test_a_timed_out_stop_command_leaves_no_process_behind(
    tmp_path: Path, output: str
) -> None:
    """The command starts a child of its own, either detached from its output (a daemon) or
    holding it (then the old runner also hung until the child ended), then hangs."""
    from bot.registry import CommandAction

    pid_file = tmp_path / "grandchild.pid"
    quiet = "stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL"
    spawner = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']"
        + (f", {quiet})\n" if output == "detached" else ")\n")
        + "open(sys.argv[1], 'w').write(str(child.pid))\n"
        "time.sleep(600)\n"
    )
    runner = ActionRunner(workdir=tmp_path, environ={})
    grandchild: int | None = None
    try:
        # A bound on a hang, far above the 1 s timeout: the runner must come back on its own.
        result = await asyncio.wait_for(
            runner.run(
                action=CommandAction(
                    command=[sys.executable, "-c", spawner, str(pid_file)],
                    timeout=timedelta(seconds=1),
                ),
                payload={},
            ),
            timeout=30,
        )
        assert not result.ok and "timed out after 1s" in result.summary
        grandchild = int(pid_file.read_text())
        for _ in range(100):  # the kernel takes a moment to tear a killed process down
            if _gone(grandchild):
                break
            await asyncio.sleep(0.05)
        assert _gone(grandchild), "the command's own child survived the timeout"
    finally:
        if grandchild is None and pid_file.exists():
            grandchild = int(pid_file.read_text())
        if grandchild is not None and not _gone(grandchild):
            os.kill(grandchild, signal.SIGKILL)
