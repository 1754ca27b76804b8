"""The neutral card: what the core says, before an adapter turns it into Block Kit or an
Adaptive Card. Action ids are stable because platforms send them back on every click."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.domain import UserRef

ACK = "alert.ack"
RESOLVE = "alert.resolve"
HAND_OFF = "alert.handoff"
ACK_BOARD = "board.ack"
STOP_CONFIRM = "stop.confirm"
STOP_CANCEL = "stop.cancel"
ROLE_CONFIRM = "role.confirm"
ROLE_HAND_OFF = "role.handoff"
REVIEW = "alert.review"  # on resolved claims: the incident review
FORM_OPEN = "review.form"  # offer the resolve form again
FORM_SUBMIT = "review.submit"
FORM_SKIP = "review.skip"
FOLLOW_UP_DONE = "followup.done"


@dataclass(frozen=True)
class Mention:
    """A person named in a card; `user` is None when the platform does not know them."""

    name: str
    user: UserRef | None = None


Inline = str | Mention
Line = tuple[Inline, ...]


@dataclass(frozen=True)
class Button:
    """A clickable action. `picks_user` asks the platform for a user picker (hand-off)."""

    action: str
    label: str
    value: str
    style: Literal["primary", "danger", "default"] = "default"
    picks_user: bool = False


@dataclass(frozen=True)
class TextField:
    """A one-line text box on a card whose content comes back with any click on the card's
    buttons (a decision's optional reason): a Slack input block, an Adaptive Card Input.Text."""

    label: str
    placeholder: str = ""
    max_length: int = 200


@dataclass(frozen=True)
class Card:
    """A platform-neutral message: a title, lines of text with mentions, fields and buttons."""

    title: str
    lines: tuple[Line, ...] = ()
    fields: tuple[tuple[str, str], ...] = ()
    buttons: tuple[Button, ...] = ()
    tone: Literal["alert", "ok", "info", "warning"] = "info"
    link: str | None = None
    text_field: TextField | None = None

    def plain_text(self) -> str:
        """The card as plain text, mentions as names (notifications, logs, tests)."""
        parts = [self.title]
        parts += ["".join(p if isinstance(p, str) else p.name for p in line) for line in self.lines]
        parts += [f"{k}: {v}" for k, v in self.fields]
        return "\n".join(parts)

    def mentioned(self) -> tuple[UserRef, ...]:
        """Every platform user this card mentions, in order."""
        return tuple(
            p.user for line in self.lines for p in line if isinstance(p, Mention) and p.user
        )

    def action_ids(self) -> tuple[str, ...]:
        """The stable ids of this card's buttons."""
        return tuple(b.action for b in self.buttons)


@dataclass(frozen=True)
class FormField:
    """One input of a form: a choice (`choices` as (value, label)), a line of text, or a date
    (YYYY-MM-DD). `initial` is filled in."""

    name: str
    label: str
    kind: Literal["choice", "text", "date"]
    choices: tuple[tuple[str, str], ...] = ()
    initial: str = ""
    max_length: int = 200


@dataclass(frozen=True)
class Form:
    """A short form: a Slack modal, an Adaptive Card with inputs. Submitting sends `submit`
    with `value` and the fields; skipping sends `skip` with `value`."""

    title: str
    intro: str
    fields: tuple[FormField, ...]
    submit: str
    skip: str
    value: str


@dataclass(frozen=True)
class Reply:
    """The answer to a command or click: shown to the asker only unless `public`. A `form`
    is offered to the asker (a modal where the platform has them); `card` then says what it
    is for, with buttons to open or skip it where the form cannot be shown at once."""

    card: Card
    public: bool = False
    replace_original: bool = False
    form: Form | None = None
