"""Incident reviews on demand: the registry as it was when an alert was taken (re-loaded from
its stored text), the review of one alert (bot.review), `/review <alert or system>` and the
Review button on resolved claims."""

from __future__ import annotations

from bot import render
from bot.cards import FORM_OPEN, Button, Card, Reply
from bot.commands import close_matches
from bot.context import Context
from bot.domain import AlertState
from bot.events import ButtonClicked, CommandGiven
from bot.registry import Registry, RegistryError, parse_registry
from bot.review import Review, contract_of, review, short
from bot.review_views import card as review_card

KEPT_VERSIONS = 8  # registries re-loaded from the record, kept parsed


class Incidents:
    """Reviews of alerts, answered from the record."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self._versions: dict[str, Registry | None] = {}

    async def remember_registry(self, registry: Registry | None = None) -> bool:
        """Keep a registry (default: the one in force) on record, its text under its version;
        False when kept before. Called at start-up and before a reloaded registry is used, so
        every version an alert names is on record."""
        registry = registry or self.context.registry
        async with self.context.store.transaction() as tx:
            return await tx.reviews.remember_registry(
                version=registry.version,
                text=registry.source_text,
                source=registry.source,
                at=self.context.clock.now(),
            )

    async def _registry_at(self, version: str | None) -> Registry | None:
        """The registry of a stored version, re-loaded from its text (None when not kept)."""
        current = self.context.registry
        if version is None:
            return None
        if version == current.version:
            return current
        if version not in self._versions:
            async with self.context.store.transaction() as tx:
                text = await tx.reviews.registry_text(version=version)
            try:
                parsed = parse_registry(text, source=f"registry {short(version)}") if text else None
            except RegistryError:  # kept text a later loader refuses: reviewed without it
                parsed = None
            if len(self._versions) >= KEPT_VERSIONS:
                self._versions.pop(next(iter(self._versions)))
            self._versions[version] = parsed
        return self._versions[version]

    async def review(self, *, alert_id: int) -> Review | None:
        """The seven answers for one alert; None when there is no such alert."""
        context = self.context
        async with context.store.transaction() as tx:
            record = await tx.reviews.review_record(alert_id=alert_id, now=context.clock.now())
        if record is None:
            return None
        then_registry = await self._registry_at(record.version)
        then = contract_of(then_registry, record.alert.system) if then_registry else None
        now = contract_of(context.registry, record.alert.system)
        return review(record=record, then=then, now=now)

    async def review_card(self, *, alert_id: int) -> Card | None:
        """The review as a chat card, with the resolve form on offer while it is missing."""
        found = await self.review(alert_id=alert_id)
        if found is None:
            return None
        card = review_card(found)
        missing_form = {5, 6} <= set(found.missing)
        if missing_form and found.alert.state == AlertState.RESOLVED:
            card = Card(
                title=card.title,
                lines=card.lines,
                fields=card.fields,
                buttons=(Button(FORM_OPEN, "Answer the review questions", str(alert_id)),),
                tone=card.tone,
                link=card.link,
            )
        return card

    async def command(self, event: CommandGiven) -> Reply:
        """`review <alert id | system>`: one alert's review, or the system's latest resolved."""
        words = event.args.split()
        if not words:
            return Reply(render.notice("Review what?", "Usage: review <alert id | system>"))
        word = words[0].lstrip("#")
        alert_id: int | None = None
        if word.isascii() and word.isdigit() and len(word) <= 18:
            alert_id = int(word)
        else:
            system = self.context.registry.system(word)
            if system is None:
                near = close_matches(word, sorted(self.context.registry.systems))
                hint = f"Did you mean: {', '.join(near)}?" if near else "No system is like it."
                return Reply(
                    render.notice(f"No alert or system called {word!r}", hint, tone="warning")
                )
            async with self.context.store.transaction() as tx:
                alert_id = await tx.reviews.latest_resolved(system=system.id)
            if alert_id is None:
                return Reply(
                    render.notice(f"No resolved alert of {system.id}", "Nothing to review yet.")
                )
        card = await self.review_card(alert_id=alert_id)
        if card is None:
            return Reply(render.notice("Unknown alert", f"No alert #{alert_id} is on record."))
        return Reply(card)

    async def click(self, event: ButtonClicked) -> Reply | None:
        """The Review button on a resolved claim."""
        alert_id = event.record_id()
        card = await self.review_card(alert_id=alert_id) if alert_id is not None else None
        if card is None:
            return Reply(render.notice("Unknown alert", "This alert is not in the bot's records."))
        return Reply(card)
