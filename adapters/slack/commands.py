"""Which command a Slack slash command names: `/who-owns`, `/who-decides`, `/stop`, `/resume`,
and the umbrella `/accountability <word> [args]` (`/accountability console`) that reaches
every command by its word."""

from __future__ import annotations

from bot.events import Command

COMMANDS: tuple[Command, ...] = ("who-owns", "who-decides", "stop", "resume", "help", "review")
UMBRELLA = "accountability"
_WORDS: tuple[Command, ...] = (*COMMANDS, "console")


def command_name(slash: str) -> Command | None:
    """`/who-owns` -> "who-owns". A prefixed name (`/ab-stop`) works too, for workspaces where
    another app already owns `/stop`."""
    name = slash.strip().lstrip("/").lower()
    for command in COMMANDS:
        if name == command or name.endswith(("-" + command, "_" + command)):
            return command
    return None


def slash_command(slash: str, text: str) -> tuple[Command, str] | None:
    """The command and its arguments; None for a slash command the bot does not know. Under
    the umbrella an unknown word gets the help."""
    name = slash.strip().lstrip("/").lower()
    if name == UMBRELLA or name.endswith(("-" + UMBRELLA, "_" + UMBRELLA)):
        word, _, rest = text.strip().partition(" ")
        return next((c for c in _WORDS if c == word.lower()), "help"), rest.strip()
    command = command_name(slash)
    return None if command is None else (command, text.strip())
