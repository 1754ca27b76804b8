"""Bot Framework authentication for Teams: inbound JWT checks and outbound tokens, from our
Settings (used by the composition root to build the Teams platform before any route exists)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from botbuilder.integration.aiohttp import (
    CloudAdapter,
    ConfigurationBotFrameworkAuthentication,
    ConfigurationServiceClientCredentialFactory,
)
from botbuilder.schema import CallerIdConstants
from botframework.connector.auth import (
    AuthenticationConstants,
    EmulatorValidation,
    MicrosoftAppCredentials,
    ServiceClientCredentialsFactory,
    SkillValidation,
)

from adapters.settings import Settings
from adapters.teams.platform import TeamsPlatform
from adapters.teams.references import References
from bot.ports import Clock

log = logging.getLogger(__name__)


class _Configuration:
    """The attributes ConfigurationBotFrameworkAuthentication reads, from our Settings. The
    public-cloud endpoints are spelled out so the OpenID metadata URL can be overridden."""

    def __init__(self, settings: Settings) -> None:
        app_type = (settings.teams_app_type or "MultiTenant").strip()
        tenant = settings.teams_app_tenant_id
        self.APP_ID = settings.teams_app_id or None
        self.APP_PASSWORD = (
            settings.teams_app_password.get_secret_value() if settings.teams_app_password else None
        )
        self.APP_TYPE = app_type
        self.APP_TENANTID = tenant
        self.VALIDATE_AUTHORITY = True
        self.TO_CHANNEL_FROM_BOT_LOGIN_URL = (
            f"{AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX}{tenant}"
            if app_type.lower() == "singletenant" and tenant
            else AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL
        )
        self.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE = (
            AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE
        )
        self.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER = (
            AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER
        )
        self.OAUTH_URL = AuthenticationConstants.OAUTH_URL
        self.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL = (
            settings.teams_openid_metadata_url
            or AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL
        )
        self.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL = (
            AuthenticationConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL
        )
        self.CALLER_ID = CallerIdConstants.public_azure_channel.value


class _ReusedCredentials(ServiceClientCredentialsFactory):  # type: ignore[misc]
    """Hands out one credentials object per app and scope. botbuilder makes a new one per
    request, and each new one asks Azure AD for a fresh token; a reused one keeps its token
    in MSAL's cache until it expires."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._made: dict[tuple[Any, ...], Any] = {}
        # Tests against a loopback connector, which asks for no token, set this: outbound
        # calls then carry none (a real connector would refuse them). Never set in production.
        self.untokened_outbound = False

    async def is_valid_app_id(self, app_id: str) -> bool:
        """Whether a token's audience is this bot."""
        return bool(await self._inner.is_valid_app_id(app_id))

    async def is_authentication_disabled(self) -> bool:
        """True without an app id (local development)."""
        return bool(await self._inner.is_authentication_disabled())

    async def create_credentials(
        self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool
    ) -> Any:
        """The (shared) credentials for outbound calls."""
        if self.untokened_outbound:
            return MicrosoftAppCredentials.empty()
        key = (app_id, oauth_scope, login_endpoint, validate_authority)
        if key not in self._made:
            self._made[key] = await self._inner.create_credentials(
                app_id, oauth_scope, login_endpoint, validate_authority
            )
        return self._made[key]

    async def warm(self, app_id: str, oauth_scope: str, login_endpoint: str) -> None:
        """Get the outbound token in a worker thread (msrest would block the loop for it)."""
        if not app_id or self.untokened_outbound:
            return
        credentials = await self.create_credentials(app_id, oauth_scope, login_endpoint, True)
        try:
            await asyncio.to_thread(credentials.get_access_token)
        except Exception as exc:  # the call itself will fail and report it
            log.warning("could not get a Bot Framework token: %s", exc.__class__.__name__)


def build_authentication(
    settings: Settings,
) -> tuple[Any, _ReusedCredentials, Callable[[], Awaitable[None]]]:
    """Bot Framework authentication for these settings (inbound JWT checks, outbound tokens),
    its credentials factory, and a function that fetches the outbound token ahead of a call."""
    config = _Configuration(settings)
    try:
        credentials = _ReusedCredentials(ConfigurationServiceClientCredentialFactory(config))
    except Exception as exc:  # botbuilder raises bare Exception for a missing setting
        raise ValueError(f"Teams settings are incomplete: {exc}") from exc

    async def warm() -> None:
        await credentials.warm(
            config.APP_ID or "",
            config.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE,
            config.TO_CHANNEL_FROM_BOT_LOGIN_URL,
        )

    auth = ConfigurationBotFrameworkAuthentication(config, credentials_factory=credentials)
    return auth, credentials, warm


@dataclass
class TeamsConnection:
    """What the Teams routes need besides the platform: the Bot Framework adapter and auth."""

    adapter: CloudAdapter
    auth: Any
    app_id: str
    platform: TeamsPlatform
    credentials: _ReusedCredentials
    # Lower-cased Azure AD tenant ids whose activities are taken (empty only in dev mode).
    tenants: frozenset[str] = frozenset()
    dev_anonymous: bool = False


def connect(
    settings: Settings,
    *,
    references: References,
    clock: Clock,
    call_budget: float | None,
    on_rate_limited: Callable[[], None] | None = None,
) -> TeamsConnection:
    """The Teams platform for these settings, with the Bot Framework adapter its routes use."""
    app_id = (settings.teams_app_id or "").strip()
    dev_anonymous = not app_id
    auth, credentials, warm = build_authentication(settings)
    adapter = CloudAdapter(auth)
    tenants = settings.teams_tenants()
    platform = TeamsPlatform(
        adapter=adapter,
        app_id=app_id,
        references=references,
        clock=clock,
        tenant_id=settings.teams_app_tenant_id,
        warm=warm,
        call_budget=call_budget,
        on_rate_limited=on_rate_limited,
        # Without authentication no conversation is trusted to say who anyone is.
        trusted_tenants=None if dev_anonymous else tenants,
    )
    return TeamsConnection(
        adapter=adapter,
        auth=auth,
        app_id=app_id,
        platform=platform,
        credentials=credentials,
        tenants=tenants,
        dev_anonymous=dev_anonymous,
    )


async def channel_identity(auth: Any, header: str) -> Any:
    """The claims of a Bot Framework channel token, checked (signature by a published key,
    issuer, audience = this app, expiry) from the header alone, before the body is read.
    Emulator and skill tokens are refused: only the Bot Framework channel talks to us."""
    if not header.startswith("Bearer ") or len(header) > MAX_TOKEN:
        raise PermissionError("not a bearer token")
    if EmulatorValidation.is_token_from_emulator(header) or SkillValidation.is_skill_token(
        header
    ):
        raise PermissionError("only Bot Framework channel tokens are accepted")
    # botbuilder fetches signing keys with blocking `requests`: keep that off the event loop.
    # (The "streaming" entry point is botbuilder's public check of a header without a body;
    # the channel id is what the signing key must be endorsed for.)
    checked = await asyncio.to_thread(
        asyncio.run, auth.authenticate_streaming_request(header, TEAMS_CHANNEL)
    )
    return checked.claims_identity


TEAMS_CHANNEL = "msteams"


MAX_TOKEN = 16 * 1024
