"""The environment contract of DESIGN.md §4, read once at start-up."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.registry import parse_duration

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class Settings(BaseSettings):
    """Every variable is optional; a platform is on when its credentials are present."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    ownership_file: str = "ownership.yaml"
    database_url: str = "sqlite:///accountability.db"
    port: int = 3000
    host: str = "0.0.0.0"  # noqa: S104  (a server in a container listens on every interface)
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str | None = None
    teams_app_id: str | None = None
    teams_app_password: SecretStr | None = None
    teams_app_tenant_id: str | None = None
    teams_app_type: str = "MultiTenant"
    # Where Bot Framework publishes the keys that sign Teams requests (sovereign clouds, tests).
    teams_openid_metadata_url: str | None = None
    # Tenants whose users may act (comma-separated), besides TEAMS_APP_TENANT_ID.
    teams_allowed_tenants: str | None = None
    # Local development without credentials (Bot Framework Emulator): loopback only, and
    # nobody is ever identified, so no stop authority and no acknowledgement.
    teams_dev_anonymous: bool = False
    alert_ingest_token: SecretStr | None = None
    escalation_tick: Duration = timedelta(seconds=1)
    stale_scan_cron: str = "0 9 * * mon"
    governance_cron: str = "0 8 * * mon"
    tz: str = "UTC"
    log_level: str = "INFO"
    # The browser sandbox: None (unset) means on exactly when no chat platform is configured.
    sandbox: Annotated[bool | None, BeforeValidator(lambda v: None if v == "" else v)] = None
    # Where people reach the bot (links in direct messages); http://localhost:$PORT when unset.
    public_url: str | None = None
    # How long a console sign-in lasts in a browser.
    console_session: Duration = timedelta(hours=12)

    @property
    def base_url(self) -> str:
        """PUBLIC_URL, or this machine's address when it is not set."""
        return (self.public_url or f"http://localhost:{self.port}").rstrip("/")

    @property
    def chat_configured(self) -> bool:
        """Whether Slack or Teams credentials are present (else the console opens on
        loopback without sign-in)."""
        return bool(self.slack_bot_token or self.teams_app_id)

    def teams_tenants(self) -> frozenset[str]:
        """The Azure AD tenants pinned for Teams: TEAMS_APP_TENANT_ID and TEAMS_ALLOWED_TENANTS."""
        given = [self.teams_app_tenant_id or "", *(self.teams_allowed_tenants or "").split(",")]
        return frozenset(t.strip().lower() for t in given if t.strip())
