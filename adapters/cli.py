"""The `accountability-bot` command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from adapters import logs
from adapters.settings import Settings
from bot.commands import close_matches
from bot.diagnostics import check_report, escalation_map
from bot.evidence import canonical_time, verify_chain
from bot.registry import Registry, RegistryError, load_registry

if TYPE_CHECKING:
    from adapters.runtime import Runtime

T = TypeVar("T")


def _on_runtime(
    settings: Settings, work: Callable[[Runtime], Awaitable[T]], *, registry: Registry | None = None
) -> T:
    """Run one command's work on a runtime built from the settings, closing its store after.
    The runtime is imported here, not at the top: `check` and `map` never load the chat SDKs."""
    from adapters.runtime import build_runtime

    async def run() -> T:
        runtime = await build_runtime(settings, registry=registry)
        try:
            return await work(runtime)
        finally:
            await runtime.store.close()

    return asyncio.run(run())


def _registry(settings: Settings) -> Registry:
    try:
        return load_registry(settings.ownership_file)
    except RegistryError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(2) from exc


def _unknown(registry: Registry, system: str) -> int:
    near = close_matches(system, sorted(registry.systems))
    hint = f" Did you mean: {', '.join(near)}?" if near else ""
    print(f"No system called {system!r}.{hint}", file=sys.stderr)
    return 1


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Run the bot."""
    # The registry is read before the chat SDKs are imported: the YAML parser's peak is freed
    # memory by the time they load, so a large registry does not add to the peak.
    try:
        registry = load_registry(settings.ownership_file)
    except RegistryError as exc:
        print(f"cannot start: the ownership registry is broken\n{exc}", file=sys.stderr)
        return 2
    from adapters.scheduling import ScheduleError
    from adapters.server import serve
    from store.lock import DatabaseInUse

    try:
        asyncio.run(serve(settings, registry=registry))
    except RegistryError as exc:
        print(f"cannot start: the ownership registry is broken\n{exc}", file=sys.stderr)
        return 2
    except (DatabaseInUse, ScheduleError) as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    """Apply database migrations."""
    from store.database import open_store, redacted

    async def run() -> None:
        store = await open_store(settings.database_url)
        await store.close()

    asyncio.run(run())
    print(f"migrated {redacted(settings.database_url)}")
    return 0


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    """Validate the registry and print the ownership-gap report."""
    report, errors = check_report(args.file or settings.ownership_file)
    print(report)
    return 1 if errors else 0


def cmd_map(args: argparse.Namespace, settings: Settings) -> int:
    """Print the published escalation map."""
    registry = _registry(settings)
    if args.system:
        system = registry.system(args.system)
        if system is None:
            return _unknown(registry, args.system)
        systems = [system]
    else:
        systems = list(registry.systems.values())
    print(escalation_map(registry, systems, fmt=args.format))
    return 0


def cmd_who_owns(args: argparse.Namespace, settings: Settings) -> int:
    """Print who holds a system, with its live state from the database."""

    registry = _registry(settings)
    system = registry.system(args.system)
    if system is None:
        return _unknown(registry, args.system)

    async def work(runtime: Runtime) -> str:
        card = await runtime.service.who_owns(system, platform="cli")
        return card.plain_text()

    print(_on_runtime(settings, work))
    return 0


def cmd_review(args: argparse.Namespace, settings: Settings) -> int:
    """Print the incident review of one alert: the seven answers with their sources."""
    from bot.review_views import markdown, to_json

    alert_id = args.alert_id.lstrip("#")
    if not (alert_id.isascii() and alert_id.isdigit() and len(alert_id) <= 18):
        print(f"review: {args.alert_id!r} is not an alert id (a number)", file=sys.stderr)
        return 2

    async def work(runtime: Runtime) -> str | None:
        found = await runtime.service.review(alert_id=int(alert_id))
        if found is None:
            return None
        return to_json(found) if args.format == "json" else markdown(found)

    text = _on_runtime(settings, work)
    if text is None:
        print(f"review: no alert #{alert_id} is on record", file=sys.stderr)
        return 1
    print(text, end="" if text.endswith("\n") else "\n")
    return 0


def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    """Verify or export the evidence log."""
    from store.database import open_store

    async def entries() -> list:  # type: ignore[type-arg]
        store = await open_store(settings.database_url)
        try:
            async with store.transaction() as tx:
                return await tx.evidence.entries(
                    system=getattr(args, "system", None) if args.audit == "export" else None
                )
        finally:
            await store.close()

    found = asyncio.run(entries())
    if args.audit == "verify":
        broken = verify_chain(found)
        if broken is not None:
            print(f"audit log BROKEN at entry {broken.seq}: {broken.reason}")
            return 1
        print(f"audit log intact: {len(found)} entries")
        return 0
    if args.format == "json":
        print(
            json.dumps(
                [
                    {
                        "seq": e.seq,
                        "at": canonical_time(e.at),
                        "actor": e.actor,
                        "action": e.action,
                        "system": e.system,
                        "alert_id": e.alert_id,
                        "detail": e.detail,
                        "hash": e.hash,
                    }
                    for e in found
                ],
                indent=2,
            )
        )
    else:
        print("| # | time (UTC) | actor | action | system | alert | detail |")
        print("|---|---|---|---|---|---|---|")
        for e in found:
            detail = json.dumps(e.detail, sort_keys=True).replace("|", "\\|")
            print(
                f"| {e.seq} | {canonical_time(e.at)} | {e.actor} | {e.action} | "
                f"{e.system or ''} | {e.alert_id or ''} | {detail} |"
            )
    return 0


def cmd_stale_scan(args: argparse.Namespace, settings: Settings) -> int:
    """Print the digests the stale-ownership scan would send now (nothing is sent)."""
    if not args.dry_run:
        print(
            "stale-scan sends only from `serve`, on STALE_SCAN_CRON; "
            "use `stale-scan --dry-run` to preview",
            file=sys.stderr,
        )
        return 2
    from adapters.scheduling import ScheduleError, period_of, stale_trigger

    async def work(runtime: Runtime) -> str:
        period = period_of(stale_trigger(settings), runtime.clock.now())
        report = await runtime.service.stale_scan(period=period, dry_run=True)
        return report.text(runtime.registry)

    try:
        print(_on_runtime(settings, work))
    except RegistryError as exc:
        print(f"the ownership registry is broken\n{exc}", file=sys.stderr)
        return 2
    except ScheduleError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


def cmd_scorecard(args: argparse.Namespace, settings: Settings) -> int:
    """Print the scorecard of one system or of every system, from the record."""
    from bot import scorecard_views as views
    from bot.registry import parse_duration

    try:
        length = parse_duration(args.period)
    except ValueError as exc:
        print(f"--period: {exc}", file=sys.stderr)
        return 2
    if length.total_seconds() <= 0:
        print("--period must be longer than 0s", file=sys.stderr)
        return 2
    registry = _registry(settings)
    if args.system:
        system = registry.system(args.system)
        if system is None:
            return _unknown(registry, args.system)
        systems = [system]
    else:
        systems = list(registry.systems.values())

    async def work(runtime: Runtime) -> str:
        now = runtime.clock.now()
        cards = await runtime.service.scorecards(systems=systems, now=now, length=length)
        if args.format == "json":
            return views.to_json(cards, generated_at=now)
        if args.format == "csv":
            return views.to_csv(cards).rstrip("\n")
        return views.markdown(cards).rstrip("\n")

    print(_on_runtime(settings, work, registry=registry))
    return 0


def cmd_governance(args: argparse.Namespace, settings: Settings) -> int:
    """Print which steward would get which digest now (nothing is sent)."""
    if not args.dry_run:
        print(
            "governance digests are sent only from `serve`, on GOVERNANCE_CRON; "
            "use `governance --dry-run` to preview",
            file=sys.stderr,
        )
        return 2
    from adapters.scheduling import ScheduleError, governance_trigger, period_of

    async def work(runtime: Runtime) -> str:
        period = period_of(governance_trigger(settings), runtime.clock.now())
        report = await runtime.service.governance(period=period, dry_run=True)
        return report.text(runtime.registry)

    try:
        print(_on_runtime(settings, work))
    except RegistryError as exc:
        print(f"the ownership registry is broken\n{exc}", file=sys.stderr)
        return 2
    except ScheduleError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


def cmd_teams_package(args: argparse.Namespace, settings: Settings) -> int:
    """Write the Teams app package (zip) with the app id taken from TEAMS_APP_ID."""
    from pathlib import Path

    from adapters.teams.package import PackageError, build_package

    if not settings.teams_app_id:
        print("TEAMS_APP_ID is not set: export the bot's Microsoft App ID first", file=sys.stderr)
        return 2
    try:
        build_package(app_id=settings.teams_app_id, output=Path(args.output))
    except PackageError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"wrote {args.output}; upload it in Teams: Apps > Manage your apps > Upload an app")
    return 0


def parser() -> argparse.ArgumentParser:
    """The argument parser (every command is listed by --help)."""
    p = argparse.ArgumentParser(
        prog="accountability-bot",
        description="Named owners for every production system; alerts claimed and escalated.",
    )
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the bot (HTTP server, scheduler)").set_defaults(run=cmd_serve)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(run=cmd_migrate)
    check = sub.add_parser("check", help="validate the registry and list ownership gaps")
    check.add_argument("file", nargs="?", help="registry file (default: $OWNERSHIP_FILE)")
    check.set_defaults(run=cmd_check)
    who = sub.add_parser("who-owns", help="who holds a system")
    who.add_argument("system")
    who.set_defaults(run=cmd_who_owns)
    mp = sub.add_parser("map", help="print the published escalation map")
    mp.add_argument("system", nargs="?")
    mp.add_argument("--format", choices=("md", "json"), default="md")
    mp.set_defaults(run=cmd_map)
    audit = sub.add_parser("audit", help="the evidence log")
    audit_sub = audit.add_subparsers(dest="audit", required=True)
    audit_sub.add_parser("verify", help="check the hash chain").set_defaults(run=cmd_audit)
    export = audit_sub.add_parser("export", help="print the timeline")
    export.add_argument("--system")
    export.add_argument("--format", choices=("json", "md"), default="md")
    export.set_defaults(run=cmd_audit)
    scan = sub.add_parser("stale-scan", help="preview the stale-ownership digests")
    scan.add_argument(
        "--dry-run", action="store_true", help="print what would be sent; send nothing"
    )
    scan.set_defaults(run=cmd_stale_scan)
    card = sub.add_parser("scorecard", help="the steward's scorecard, from the record")
    card.add_argument("system", nargs="?", help="one system (default: every system)")
    card.add_argument("--period", default="7d", help="period length, e.g. 7d, 30d (default 7d)")
    card.add_argument("--format", choices=("md", "json", "csv"), default="md")
    card.set_defaults(run=cmd_scorecard)
    gov = sub.add_parser("governance", help="preview the stewards' weekly digests")
    gov.add_argument(
        "--dry-run", action="store_true", help="print who would get which digest; send nothing"
    )
    gov.set_defaults(run=cmd_governance)
    rv = sub.add_parser("review", help="the incident review of one alert (the seven questions)")
    rv.add_argument("alert_id")
    rv.add_argument("--format", choices=("md", "json"), default="md")
    rv.set_defaults(run=cmd_review)
    package = sub.add_parser("teams-package", help="write the Teams app zip (uses TEAMS_APP_ID)")
    package.add_argument("--output", "-o", default="accountability-bot-teams.zip")
    package.set_defaults(run=cmd_teams_package)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = parser().parse_args(argv)
    settings = Settings()
    logs.configure(settings.log_level)
    result: int = args.run(args, settings)
    return result


if __name__ == "__main__":
    sys.exit(main())
