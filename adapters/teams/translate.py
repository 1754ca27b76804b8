"""Pure converters between Bot Framework activities (plain JSON) and the core's neutral types.

Nothing here imports botbuilder: inbound activities are read from the JSON Teams posted, and
outbound cards are Adaptive Card JSON. A move to another Teams SDK keeps this file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, get_args
from urllib.parse import urlsplit

from bot.domain import MessageRef, UserRef
from bot.events import AlertSeen, ButtonClicked, Command, CommandGiven
from bot.text import clean as clean_text
from bot.text import html_to_text as plain_lines

PLATFORM = "teams"
CARD_ACTION = "adaptiveCard/action"
MAX_FIELDS = 16  # a form's inputs come back beside the action's data
FIELD_CAP = 500
TARGET_INPUT = "target"
TEXT_INPUT = "text_field"  # the id of a card's one-line text box (merged into the click's data)
TEXT_CAP_CLICK = 1_000

_COMMANDS: dict[str, Command] = {
    "who-owns": "who-owns",
    "who-decides": "who-decides",
    "whodecides": "who-decides",
    "who_decides": "who-decides",
    "whoowns": "who-owns",
    "who_owns": "who-owns",
    "owner": "who-owns",
    "stop": "stop",
    "resume": "resume",
    "help": "help",
    "?": "help",
    "review": "review",
    "console": "console",
}
_TEXT_KEYS = frozenset(
    {"title", "subtitle", "text", "activityTitle", "activitySubtitle", "activityText", "summary"}
)
_CHANNEL_SUFFIXES = ("@thread.tacv2", "@thread.skype")


class BadActivity(ValueError):
    """A payload that is not a usable activity; the HTTP answer is 400 with this reason."""


@dataclass(frozen=True)
class Inbound:
    """The parts of an activity the bot acts on, checked once at the door."""

    type: str
    id: str | None
    name: str | None
    service_url: str
    channel_id: str
    conversation_id: str  # as sent: a channel thread is "19:...;messageid=<root>"
    conversation_type: str  # personal | channel | groupChat
    channel: str  # the conversation without its thread part
    thread: str | None  # the root message of a channel thread
    tenant_id: str | None
    team_id: str | None
    user: UserRef | None  # keyed by Azure AD object id when Teams gives one
    user_id: str | None  # the "29:..." id
    user_name: str | None
    from_person: bool  # typed by a person, not posted by a bot, connector or workflow
    bot_id: str
    bot_name: str | None
    text: str  # bot mention removed, markup stripped
    mentions_bot: bool
    value: dict[str, Any] | None
    reply_to_id: str | None
    action: str | None  # installationUpdate: add | remove
    members_added: tuple[str, ...]

    @property
    def personal(self) -> bool:
        """A one-to-one chat with the bot."""
        return self.conversation_type == "personal"

    @property
    def addressed(self) -> bool:
        """Said to the bot: a personal chat, or a message that @mentions it."""
        return self.personal or self.mentions_bot

    @property
    def top_level(self) -> bool:
        """Not a reply inside someone else's thread."""
        return self.thread is None or self.thread == self.id


def _obj(raw: dict[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadActivity(f"`{key}` must be an object")
    return value


def _str(raw: dict[str, Any], key: str, *, where: str = "") -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadActivity(f"`{where}{key}` must be a string")
    return value


def _required(raw: dict[str, Any], key: str, *, where: str = "") -> str:
    value = _str(raw, key, where=where)
    if not value:
        raise BadActivity(f"`{where}{key}` is required")
    return value


def split_conversation(conversation_id: str) -> tuple[str, str | None]:
    """`19:abc@thread.tacv2;messageid=123` -> (`19:abc@thread.tacv2`, `123`)."""
    base, _, rest = conversation_id.partition(";")
    match = re.search(r"(?:^|;)messageid=([^;]+)", rest)
    return base, (match.group(1) if match else None)


def is_channel(conversation_id: str) -> bool:
    """Whether a conversation id names a Teams channel (where replies form threads)."""
    return conversation_id.endswith(_CHANNEL_SUFFIXES)


def thread_conversation(channel: str, thread: str | None) -> str:
    """The conversation id that posts into a channel thread (plain chats have no threads)."""
    if thread and is_channel(channel):
        return f"{channel};messageid={thread}"
    return channel


def is_person(sender: dict[str, Any]) -> bool:
    """Whether an activity's `from` is a person. Teams gives people "29:" ids and bots,
    connectors and workflows (Power Automate posts as a bot) "28:" ids; Bot Framework marks
    bots with role "bot". A sender that is neither clearly is taken for an integration."""
    user_id = sender.get("id")
    if sender.get("role") == "bot" or not isinstance(user_id, str) or user_id.startswith("28:"):
        return False
    return user_id.startswith("29:") or sender.get("role") == "user"


def parse_activity(raw: Any) -> Inbound:
    """Check an activity's shape and pull out what the bot uses; BadActivity when unusable."""
    if not isinstance(raw, dict):
        raise BadActivity("the body must be a JSON object (an activity)")
    kind = _required(raw, "type")
    service_url = _required(raw, "serviceUrl")
    parts = urlsplit(service_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BadActivity("`serviceUrl` must be an http(s) URL")
    conversation = _obj(raw, "conversation")
    conversation_id = _required(conversation, "id", where="conversation.")
    sender = _obj(raw, "from")
    recipient = _obj(raw, "recipient")
    channel_data = _obj(raw, "channelData")
    for key in ("tenant", "team", "channel"):
        _obj(channel_data, key)
    if kind in ("message", "invoke") and not sender.get("id"):
        raise BadActivity("`from.id` is required")
    value = raw.get("value")
    if value is not None and not isinstance(value, dict) and kind in ("message", "invoke"):
        raise BadActivity("`value` must be an object")
    base, thread = split_conversation(conversation_id)
    team = channel_data.get("team") or {}
    channel_info = channel_data.get("channel") or {}
    tenant = channel_data.get("tenant") or {}
    if isinstance(channel_info.get("id"), str) and channel_info["id"] and thread is not None:
        base = channel_info["id"]
    user_id = _str(sender, "id", where="from.")
    aad = _str(sender, "aadObjectId", where="from.")
    user_key = aad or user_id
    bot_id = _str(recipient, "id", where="recipient.") or ""
    conversation_type = _str(conversation, "conversationType", where="conversation.") or (
        "channel" if is_channel(base) else "groupChat" if base.startswith("19:") else "personal"
    )
    entities = raw.get("entities") or []
    for key in ("entities", "attachments", "membersAdded"):
        if not isinstance(raw.get(key) or [], list):
            raise BadActivity(f"`{key}` must be a list")
    text, mentioned = _without_bot_mention(_str(raw, "text") or "", entities, bot_id)
    added = raw.get("membersAdded") or []
    members_added = tuple(
        m["id"] for m in added if isinstance(m, dict) and isinstance(m.get("id"), str)
    )
    inbound = Inbound(
        type=kind,
        id=_str(raw, "id"),
        name=_str(raw, "name"),
        service_url=service_url,
        channel_id=_str(raw, "channelId") or "msteams",
        conversation_id=conversation_id,
        conversation_type=conversation_type,
        channel=base,
        thread=thread,
        tenant_id=_str(conversation, "tenantId", where="conversation.")
        or (tenant.get("id") if isinstance(tenant.get("id"), str) else None),
        team_id=team.get("id") if isinstance(team.get("id"), str) else None,
        user=UserRef(PLATFORM, user_key) if user_key else None,
        user_id=user_id,
        user_name=_str(sender, "name", where="from."),
        from_person=is_person(sender),
        bot_id=bot_id,
        bot_name=_str(recipient, "name", where="recipient."),
        text=text,
        mentions_bot=mentioned,
        value=value if isinstance(value, dict) else None,
        reply_to_id=_str(raw, "replyToId"),
        action=_str(raw, "action"),
        members_added=members_added,
    )
    if kind == "invoke" and inbound.name != CARD_ACTION:
        raise BadActivity(f"unsupported invoke {inbound.name!r}")
    to_click(inbound)  # a malformed click is refused before anything is stored
    return inbound


def _without_bot_mention(text: str, entities: list[Any], bot_id: str) -> tuple[str, bool]:
    """Remove `<at>Bot</at>` for each mention of the bot, then the markup around the words."""
    mentioned = False
    for entity in entities:
        if not isinstance(entity, dict) or str(entity.get("type", "")).lower() != "mention":
            continue
        target = entity.get("mentioned")
        if not isinstance(target, dict) or not bot_id or target.get("id") != bot_id:
            continue
        mentioned = True
        said = entity.get("text")
        if isinstance(said, str) and said:
            text = text.replace(said, " ")
    return html_to_text(text), mentioned


def html_to_text(value: str) -> str:
    """Teams sends HTML (`<p>`, `<at>`, `&nbsp;`); keep the words and the line breaks.
    Capped and linear (`bot.text`): `<[^>]+>` was quadratic on a post of many `<`."""
    return plain_lines(value)


def alert_text(inbound: Inbound, raw: dict[str, Any]) -> str:
    """Everything readable in a channel post: its text and the text of its attachments
    (connectors, workflows and other bots put the alert in cards)."""
    parts = [inbound.text] if inbound.text else []
    for attachment in raw.get("attachments") or []:
        if not isinstance(attachment, dict):
            continue
        content = attachment.get("content")
        if isinstance(content, str) and str(attachment.get("contentType", "")).startswith("text/"):
            parts.append(html_to_text(content))
        elif isinstance(content, dict | list):
            parts.extend(_card_strings(content))
    seen: set[str] = set()
    unique = []
    for part in parts:
        if part and part not in seen:
            seen.add(part)
            unique.append(part)
    return clean_text("\n".join(unique))


def _card_strings(node: Any, depth: int = 0) -> list[str]:
    if depth > 12:
        return []
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _TEXT_KEYS and isinstance(value, str):
                found.append(html_to_text(value))
            elif key == "facts" and isinstance(value, list):
                for fact in value:
                    if isinstance(fact, dict):
                        name = fact.get("title") or fact.get("name") or ""
                        found.append(f"{name}: {fact.get('value', '')}".strip(": "))
            elif isinstance(value, dict | list):
                found.extend(_card_strings(value, depth + 1))
    elif isinstance(node, list):
        for item in node:
            found.extend(_card_strings(item, depth + 1))
    return [f for f in found if f]


def to_alert(inbound: Inbound, raw: dict[str, Any]) -> AlertSeen | None:
    """A channel post as an alert (the caller checks that the channel is watched)."""
    if inbound.type != "message" or inbound.addressed or not inbound.top_level or not inbound.id:
        return None
    if inbound.value is not None:
        return None  # a card's submit button, not a post
    text = alert_text(inbound, raw)
    if not text.strip():
        return None
    event_id = f"{inbound.channel}:{inbound.id}"
    return AlertSeen(
        platform=PLATFORM,
        channel=inbound.channel,
        text=text,
        event_id=event_id[-200:],
        message=MessageRef(PLATFORM, inbound.channel, inbound.id, None),
        author=inbound.user if inbound.from_person else None,
        # the posting bot, connector or workflow as Bot Framework names it (authenticated)
        integration=f"teams:{inbound.user_id}"
        if inbound.user_id and not inbound.from_person
        else None,
    )


def parse_command(text: str) -> tuple[Command, str] | None:
    """`who-owns billing-router` -> ("who-owns", "billing-router"); None for other words."""
    words = text.strip().split(maxsplit=1)
    if not words:
        return ("help", "")
    first = words[0].lower().lstrip("/")
    rest = words[1].strip() if len(words) > 1 else ""
    if first == "who" and rest.lower().startswith(("owns", "decides")):
        word = "owns" if rest.lower().startswith("owns") else "decides"
        first, rest = f"who-{word}", rest[len(word) :].strip()
    command = _COMMANDS.get(first)
    if command is None or command not in get_args(Command):
        return None
    return command, rest


def to_command(inbound: Inbound) -> CommandGiven | None:
    """A message addressed to the bot as a command; None when it names no command."""
    if inbound.user is None:
        return None
    parsed = parse_command(inbound.text)
    if parsed is None:
        return None
    command, args = parsed
    return CommandGiven(
        user=inbound.user,
        command=command,
        args=args,
        channel=None if inbound.personal else inbound.channel,
    )


def to_click(inbound: Inbound) -> ButtonClicked | None:
    """A button click: an `adaptiveCard/action` invoke (Action.Execute) or, from clients without
    Universal Actions, a message carrying the Action.Submit data. None when it is neither."""
    if inbound.user is None:
        return None
    if inbound.type == "invoke":
        if inbound.name != CARD_ACTION:
            return None
        if inbound.value is None:
            raise BadActivity("an adaptiveCard/action invoke needs a `value`")
        action = inbound.value.get("action")
        if not isinstance(action, dict):
            raise BadActivity("`value.action` must be an object")
        if action.get("type") != "Action.Execute":
            raise BadActivity(f"action type {action.get('type')!r} is not Action.Execute")
        data = action.get("data") or {}
        if not isinstance(data, dict):
            raise BadActivity("`value.action.data` must be an object")
        verb = action.get("verb") or data.get("action")
    elif inbound.type == "message" and inbound.value is not None:
        data = inbound.value
        verb = data.get("action")
        if verb is None:
            return None
    else:
        return None
    if not isinstance(verb, str) or not verb:
        raise BadActivity("the action has no verb")
    value = data.get("value", "")
    if not isinstance(value, str | int):
        raise BadActivity("`data.value` must be a string")
    target = data.get(TARGET_INPUT)
    typed = data.get(TEXT_INPUT)
    fields = {
        str(k)[:64]: v[:FIELD_CAP]
        for k, v in list(data.items())[:MAX_FIELDS]
        if isinstance(v, str) and k not in ("action", "value", TARGET_INPUT, TEXT_INPUT)
    }
    message = (
        MessageRef(PLATFORM, inbound.channel, inbound.reply_to_id, inbound.thread)
        if inbound.reply_to_id
        else None
    )
    return ButtonClicked(
        user=inbound.user,
        action=verb,
        value=str(value),
        message=message,
        target=UserRef(PLATFORM, target) if isinstance(target, str) and target else None,
        text=clean_text(typed, cap=TEXT_CAP_CLICK) if isinstance(typed, str) else "",
        fields=fields,
    )
