"""The platform-free core of accountability-bot: registry, domain, escalation and commands."""
