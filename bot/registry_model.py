"""The registry file's shape as pydantic models: people, steps, stop actions, channels,
defaults and systems, before the loader's cross-reference rules (`bot.registry`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, model_validator

from bot.registry_base import Duration
from bot.registry_base import Model as _Model
from bot.registry_fields import DecisionSpec, EvidenceSpec, GovernanceSpec


class Person(_Model):
    """A named human; platform ids are optional and resolved from the email when absent."""

    name: str
    email: str
    slack: str | None = None
    teams: str | None = None
    group: bool = False

    @model_validator(mode="after")
    def _named(self) -> Person:
        if not self.name.strip():
            raise ValueError("name is blank")
        if "@" not in self.email:
            raise ValueError(f"email {self.email!r} is not an email address")
        return self


class Step(_Model):
    """One escalation step: whom to notify (a role or a person key) and after how long."""

    notify: str
    after: Duration


class WebhookAction(_Model):
    """POST to a URL; the body is signed with HMAC-SHA256 using the secret in `secret_env`."""

    url: str
    secret_env: str | None = None
    timeout: Duration = timedelta(seconds=10)


class CommandAction(_Model):
    """Run an argv list (never a shell string) with a timeout."""

    command: list[str]
    timeout: Duration = timedelta(seconds=30)

    @model_validator(mode="after")
    def _argv(self) -> CommandAction:
        if not self.command or not all(isinstance(a, str) and a for a in self.command):
            raise ValueError("command must be a non-empty list of strings (argv, no shell)")
        return self


def _argv(value: Any) -> Any:
    if isinstance(value, str):
        raise ValueError(
            "command must be an argv list such as [scripts/flag, set, x, 'off'],"
            " never a shell string"
        )
    return value


class Action(_Model):
    """A stop or resume action: exactly one of webhook or command."""

    webhook: WebhookAction | None = None
    command: Annotated[list[str] | None, BeforeValidator(_argv)] = None
    timeout: Duration | None = None

    @model_validator(mode="after")
    def _one(self) -> Action:
        if (self.webhook is None) == (self.command is None):
            raise ValueError("give exactly one of `webhook` or `command`")
        if self.command is not None:
            CommandAction(command=self.command)
        return self

    def resolved(self) -> WebhookAction | CommandAction:
        """The concrete action, with the shared `timeout` applied."""
        if self.webhook is not None:
            if self.timeout is not None:
                return self.webhook.model_copy(update={"timeout": self.timeout})
            return self.webhook
        assert self.command is not None
        if self.timeout is not None:
            return CommandAction(command=self.command, timeout=self.timeout)
        return CommandAction(command=self.command)


AckPolicy = Literal["chain", "anyone"]


class Defaults(_Model):
    """Registry-wide defaults that systems may override."""

    review_every: Duration = timedelta(days=90)
    ack_by: AckPolicy = "chain"
    escalation: list[Step] = []
    decisions: dict[str, DecisionSpec] = {}
    governance: GovernanceSpec = GovernanceSpec()


@dataclass(frozen=True)
class ChannelId:
    """A chat channel on one platform."""

    platform: str
    id: str

    def __str__(self) -> str:
        return self.id if self.platform == "slack" else f"teams:{self.id}"


def _channel(value: Any) -> ChannelId:
    if isinstance(value, ChannelId):
        return value
    if isinstance(value, str) and value.strip():
        return ChannelId("slack", value.strip())
    if isinstance(value, dict) and len(value) == 1:
        ((platform, cid),) = value.items()
        if platform in ("slack", "teams") and isinstance(cid, str) and cid.strip():
            return ChannelId(platform, cid.strip())
    raise ValueError(f"not a channel: {value!r} (a Slack id, or {{teams: '19:...'}})")


ChannelField = Annotated[ChannelId, BeforeValidator(_channel)]


class WatchedChannel(_Model):
    """A channel the bot watches, with the person who holds alerts no system claims."""

    slack: str | None = None
    teams: str | None = None
    fallback: str | None = None

    @model_validator(mode="after")
    def _one(self) -> WatchedChannel:
        if (self.slack is None) == (self.teams is None):
            raise ValueError("give exactly one of `slack` or `teams`")
        return self

    @property
    def channel(self) -> ChannelId:
        """The platform and id of this channel."""
        if self.slack is not None:
            return ChannelId("slack", self.slack)
        assert self.teams is not None
        return ChannelId("teams", self.teams)


class System(_Model):
    """One production system and the named people who hold it."""

    name: str | None = None
    description: str | None = None
    operator: Any = None
    maintainer: Any = None
    steward: Any = None
    stop_authority: Any = None
    review_every: Duration | None = None
    ack_by: AckPolicy | None = None
    match: list[str] = []
    channels: list[ChannelField] = []
    escalation: list[Step] | None = None
    stop: Action | None = None
    resume: Action | None = None
    decisions: dict[str, DecisionSpec] = {}
    governance: GovernanceSpec | None = None
    # the accountability contract (issue 14)
    purpose: str | None = None
    operator_checks: str | list[str] | None = None
    quality_bar: str | None = None
    evidence: list[EvidenceSpec] = []
    learning_owner: Any = None


class RegistryModel(_Model):
    """The raw shape of the YAML file, before the cross-reference rules."""

    version: Literal[1] = 1
    people: dict[str, Person]
    admins: list[str] = []
    defaults: Defaults = Defaults()
    channels: list[WatchedChannel] = []
    systems: dict[str, System]
