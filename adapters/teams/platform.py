"""TeamsPlatform: bot.ports.ChatPlatform over botbuilder's CloudAdapter and connector client.

Every outbound call runs in a proactive turn built from a stored conversation reference, so
it needs no inbound activity: claims and escalations post from the scheduler. Connector
errors become PlatformError; HTTP 429 waits for Retry-After within the call's budget
(adapters.ratelimit, the policy Slack follows too).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from botbuilder.core import TurnContext
from botbuilder.core.teams import TeamsInfo
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    ChannelAccount,
    ConversationAccount,
    ConversationParameters,
)
from msrest.exceptions import HttpOperationError

from adapters.ratelimit import RateLimits
from adapters.teams import adaptive, translate
from adapters.teams.connector import (
    channel_data,
    connector_call,
    record_update,
    status_of,
    warm_token,
)
from adapters.teams.references import References
from bot.cards import Card
from bot.domain import MessageRef, UserRef
from bot.ports import Clock, PlatformError
from store.conversations import TeamsConversation, TeamsMember

log = logging.getLogger(__name__)
T = TypeVar("T")

ROSTER_PAGES = 40

class TeamsPlatform:
    """Implements bot.ports.ChatPlatform for Microsoft Teams.

    UserRef ids are Azure AD object ids (what the registry's `teams` field holds). Channels
    are Teams conversation ids (`19:...@thread.tacv2`); a thread is its root message id.
    """

    name = "teams"

    def __init__(
        self,
        *,
        adapter: CloudAdapter,
        app_id: str,
        references: References,
        clock: Clock,
        tenant_id: str | None = None,
        warm: Callable[[], Awaitable[None]] | None = None,
        call_budget: float | None = 10.0,
        on_rate_limited: Callable[[], None] | None = None,
        trusted_tenants: frozenset[str] | None = frozenset(),
    ) -> None:
        self.adapter = adapter
        self.trusted_tenants = trusted_tenants  # whose emails identify people (see _trusted)
        self.limits = RateLimits(platform=self.name, budget=call_budget, on_limited=on_rate_limited)
        self.app_id = app_id
        self.references = references
        self.clock = clock
        self.tenant_id = tenant_id
        self._warm = warm
        self._remembered: set[tuple[str, ...]] = set()

    async def call(self, call: Callable[[], Awaitable[T]], *, what: str) -> T:
        """One connector call under this platform's rate-limit policy."""
        return await connector_call(call, what=what, limits=self.limits)

    # ---- references -------------------------------------------------------------------------

    async def remember(self, inbound: translate.Inbound) -> None:
        """Store where this activity came from and who sent it (once per process and place)."""
        now = self.clock.now()
        conversation_key = (inbound.channel, inbound.service_url, inbound.user_id or "")
        member_key = (inbound.user.id if inbound.user else "", inbound.channel)
        conversation = None
        if conversation_key not in self._remembered and inbound.bot_id:
            personal = inbound.personal
            conversation = TeamsConversation(
                conversation_id=inbound.channel,
                kind=inbound.conversation_type,
                service_url=inbound.service_url,
                channel_id=inbound.channel_id,
                tenant_id=inbound.tenant_id,
                team_id=inbound.team_id,
                bot_id=inbound.bot_id,
                bot_name=inbound.bot_name,
                user_id=inbound.user_id if personal else None,
                user_aad_id=inbound.user.id if personal and inbound.user else None,
                user_name=inbound.user_name if personal else None,
                updated_at=now,
            )
        member = None
        if inbound.user is not None and member_key not in self._remembered:
            member = TeamsMember(
                aad_object_id=inbound.user.id,
                user_id=inbound.user_id,
                name=inbound.user_name,
                tenant_id=inbound.tenant_id,
                conversation_id=inbound.channel,
                updated_at=now,
            )
        if conversation is None and member is None:
            return
        await self.references.save(
            conversation=conversation, members=[member] if member is not None else []
        )
        if conversation is not None:
            self._remembered.add(conversation_key)
        if member is not None:
            self._remembered.add(member_key)

    async def _reference(self, conversation_id: str) -> TeamsConversation:
        ref = await self.references.conversation(conversation_id=conversation_id)
        if ref is None and translate.is_channel(conversation_id):
            # A channel of a team the bot is in, never heard from: the team's service URL
            # and bot account reach it too.
            other = await self.references.latest(kind="channel")
            if other is not None:
                ref = TeamsConversation(
                    **{**other.model_dump(), "conversation_id": conversation_id, "team_id": None}
                )
        if ref is None:
            raise PlatformError(
                f"the bot has no conversation reference for {conversation_id}; "
                "install the app in that team or chat first"
            )
        return ref

    def _claims(self) -> Any:
        return self.adapter.create_claims_identity(self.app_id)

    async def _turn(
        self,
        ref: TeamsConversation,
        logic: Callable[[TurnContext], Awaitable[T]],
        *,
        conversation_id: str | None = None,
    ) -> T:
        """Run `logic` in a proactive turn addressed to a stored conversation."""
        activity = Activity(
            type=ActivityTypes.event,
            name="ContinueConversation",
            channel_id=ref.channel_id,
            service_url=ref.service_url,
            conversation=ConversationAccount(
                id=conversation_id or ref.conversation_id,
                conversation_type=ref.kind,
                is_group=ref.kind != "personal",
                tenant_id=ref.tenant_id,
            ),
            recipient=ChannelAccount(id=ref.bot_id, name=ref.bot_name),
            from_property=ChannelAccount(
                id=ref.user_id, name=ref.user_name, aad_object_id=ref.user_aad_id
            )
            if ref.user_id
            else None,
            channel_data=channel_data(ref),
        )
        results: list[T] = []

        async def run(turn_context: TurnContext) -> None:
            await warm_token(turn_context)
            results.append(await logic(turn_context))

        await self.adapter.process_proactive(self._claims(), activity, None, run)
        return results[0]

    # ---- ChatPlatform -------------------------------------------------------------------------

    async def post(self, *, channel: str, card: Card, thread: str | None = None) -> MessageRef:
        """Reply in a channel thread, or start a new channel message or chat message."""
        ref = await self._reference(channel)
        conversation_id = translate.thread_conversation(channel, thread)
        activity = Activity().deserialize(adaptive.message_activity(card))

        async def send(turn_context: TurnContext) -> str:
            response = await turn_context.send_activity(activity)
            return str(response.id) if response is not None and response.id else ""

        message_id = await self.call(
            lambda: self._turn(ref, send, conversation_id=conversation_id), what="a post"
        )
        if not message_id:
            raise PlatformError("Teams accepted the post but returned no message id")
        kept_thread = thread if translate.is_channel(channel) else None
        return MessageRef(self.name, channel, message_id, kept_thread)

    async def update(self, *, message: MessageRef, card: Card) -> None:
        """Replace a message the bot posted (update_activity)."""
        ref = await self._reference(message.channel)
        conversation_id = translate.thread_conversation(message.channel, message.thread)
        activity = Activity().deserialize(adaptive.message_activity(card, message_id=message.id))

        async def replace(turn_context: TurnContext) -> None:
            await turn_context.update_activity(activity)

        await self.call(
            lambda: self._turn(ref, replace, conversation_id=conversation_id), what="an update"
        )
        record_update(card)

    async def direct(self, *, user: UserRef, card: Card) -> MessageRef:
        """Message a person in their personal chat with the bot, creating that chat in the
        tenant when there is none yet. PlatformError when Teams will not let the bot reach them."""
        ref = await self.references.personal(user_aad_id=user.id)
        member = await self.references.member(aad_object_id=user.id)
        anchor = ref or await self.references.latest(tenant_id=self.tenant_id)
        if anchor is None and self.tenant_id:
            anchor = await self.references.latest()
        if ref is None:
            if anchor is None:
                raise PlatformError(
                    "the bot knows no Teams service URL yet: install it in a team or chat first"
                )
            ref = await self._create_personal(user=user, member=member, anchor=anchor)
        return await self.post(channel=ref.conversation_id, card=card)

    async def _create_personal(
        self, *, user: UserRef, member: TeamsMember | None, anchor: TeamsConversation
    ) -> TeamsConversation:
        tenant = self.tenant_id or anchor.tenant_id
        member_id = await self._teams_id(user=user, member=member)
        parameters = ConversationParameters(
            is_group=False,
            bot=ChannelAccount(id=anchor.bot_id, name=anchor.bot_name),
            members=[ChannelAccount(id=member_id)],
            tenant_id=tenant,
            channel_data={"tenant": {"id": tenant}} if tenant else None,
        )
        created: list[str] = []

        async def on_created(turn_context: TurnContext) -> None:
            created.append(turn_context.activity.conversation.id)

        if self._warm is not None:
            await self._warm()
        await self.call(
            lambda: self.adapter.create_conversation(
                self.app_id,
                on_created,
                parameters,
                anchor.channel_id,
                anchor.service_url,
                None,
            ),
            what=f"a personal chat with {user.id}",
        )
        if not created or not created[0]:
            raise PlatformError(f"Teams created no personal chat with {user.id}")
        ref = TeamsConversation(
            conversation_id=created[0],
            kind="personal",
            service_url=anchor.service_url,
            channel_id=anchor.channel_id,
            tenant_id=tenant,
            bot_id=anchor.bot_id,
            bot_name=anchor.bot_name,
            user_id=member_id,
            user_aad_id=user.id,
            user_name=member.name if member else None,
            updated_at=self.clock.now(),
        )
        await self.references.save(conversation=ref)
        return ref

    async def _teams_id(self, *, user: UserRef, member: TeamsMember | None) -> str:
        """The "29:..." id Teams prefers when creating a chat; the member API of a team the
        bot is in translates an AAD object id into it. Falls back to the AAD object id."""
        if member is not None and member.user_id:
            return member.user_id
        for ref in await self.references.of_teams():
            try:
                found = await self._get_member(ref, user.id)
            except PlatformError:
                continue
            await self._save_members(
                [found], tenant=ref.tenant_id, conversation=ref.conversation_id
            )
            if getattr(found, "id", None):
                return str(found.id)
        return user.id

    async def find_user(self, *, email: str) -> UserRef | None:
        """A Teams user by email: members already seen, else the rosters of the bot's teams."""
        known = await self.references.member_by_email(email=email)
        if known is not None:
            return UserRef(self.name, known.aad_object_id)
        for ref in await self.references.of_teams():
            await self._load_roster(ref)
            known = await self.references.member_by_email(email=email)
            if known is not None:
                return UserRef(self.name, known.aad_object_id)
        return None

    async def _load_roster(self, ref: TeamsConversation) -> None:
        team_id = ref.team_id or ref.conversation_id

        async def roster(turn_context: TurnContext) -> list[Any]:
            members: list[Any] = []
            token = None
            for _ in range(ROSTER_PAGES):
                page = await TeamsInfo.get_paged_team_members(turn_context, team_id, token, 500)
                members.extend(page.members or [])
                token = page.continuation_token
                if not token:
                    break
            return members

        members = await self.call(lambda: self._turn(ref, roster), what="a team roster")
        await self._save_members(members, tenant=ref.tenant_id, conversation=ref.conversation_id)

    async def _save_members(
        self, members: list[Any], *, tenant: str | None, conversation: str
    ) -> None:
        now = self.clock.now()
        await self.references.save(
            members=[
                TeamsMember(
                    aad_object_id=aad,
                    user_id=getattr(m, "id", None),
                    name=getattr(m, "name", None),
                    email=getattr(m, "email", None),
                    upn=getattr(m, "user_principal_name", None),
                    tenant_id=getattr(m, "tenant_id", None) or tenant,
                    conversation_id=conversation,
                    updated_at=now,
                )
                for m in members
                if (aad := getattr(m, "aad_object_id", None))
            ]
        )

    def _trusted(self, tenant: str | None) -> bool:
        """May this tenant vouch for an email? Pinned ones (empty: all); None: none (dev)."""
        pinned = self.trusted_tenants
        return pinned is not None and (not pinned or (tenant or "").lower() in pinned)

    async def user_email(self, *, user: UserRef) -> str | None:
        """The email Teams reports for a user (TeamsInfo.get_member), remembered once known;
        None for a tenant that is not pinned, or in development mode: an email is what makes a
        Teams user a registry person."""
        member = await self.references.member(aad_object_id=user.id)
        if self.trusted_tenants is None or (
            member and member.tenant_id and not self._trusted(member.tenant_id)
        ):
            return None
        ref = await self.references.personal(user_aad_id=user.id)
        if ref is None and member is not None and member.conversation_id:
            ref = await self.references.conversation(conversation_id=member.conversation_id)
        places = [ref] if ref is not None else []
        places += [t for t in await self.references.of_teams() if t not in places]
        places = [p for p in places if self._trusted(p.tenant_id)]
        if member is not None and (member.email or member.upn):
            return member.email or member.upn
        member_id = member.user_id if member is not None and member.user_id else user.id
        for place in places:
            try:
                found = await self._get_member(place, member_id)
            except PlatformError as exc:
                if (
                    isinstance(exc.__cause__, HttpOperationError)
                    and status_of(exc.__cause__) == 404
                ):
                    continue  # not a member there
                raise
            await self._save_members(
                [found], tenant=place.tenant_id, conversation=place.conversation_id
            )
            if not self._trusted(getattr(found, "tenant_id", None) or place.tenant_id):
                return None
            email = getattr(found, "email", None) or getattr(found, "user_principal_name", None)
            return str(email) if email else None
        return None

    async def _get_member(self, ref: TeamsConversation, member_id: str) -> Any:
        """TeamsInfo.get_member in a stored conversation (a team's, or a personal chat)."""

        async def lookup(turn_context: TurnContext) -> Any:
            return await TeamsInfo.get_member(turn_context, member_id)

        return await self.call(lambda: self._turn(ref, lookup), what="a member lookup")

    async def user_active(self, *, user: UserRef) -> bool | None:
        """Teams does not tell a bot whether an account is disabled."""
        return None
