"""The ownership-gap report of `accountability-bot check`, and the published escalation map."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from bot.registry import (
    Problem,
    Registry,
    RegistryError,
    SystemView,
    format_duration,
    load_registry,
)
from bot.registry_base import Lines
from bot.registry_fields import KNOWN_CATEGORIES

ROLE_LABELS = (
    ("operator", "operator"),
    ("maintainer", "maintainer"),
    ("steward", "steward"),
    ("stop_authority", "stop authority"),
)


def check_report(path: str | Path) -> tuple[str, bool]:
    """The `check` report for a registry file and whether it has errors."""
    try:
        registry = load_registry(path)
    except RegistryError as exc:
        return _report(path, _raw_systems(path), exc.problems), True
    problems = [*registry.warnings, *governance_gaps(registry)]
    return _report(path, _views(registry), problems, version=registry.version), False


def governance_gaps(registry: Registry) -> list[Problem]:
    """Warnings, never errors, for what a valid registry leaves open for governance and
    incident review: contract fields not filled in, decision categories nobody holds, a
    category name that looks like a misspelt known one, nobody to take an undecided digest."""
    lines = Lines(registry.source_text)
    found: list[Problem] = []

    def warn(system: str, field: str | None, message: str) -> None:
        path = ("systems", system, *((field,) if field else ()))
        found.append(
            Problem(
                registry.source,
                message,
                system=system,
                field=field,
                line=lines.line(path),
                severity="warning",
            )
        )

    for sid, s in registry.systems.items():
        if missing := s.contract.missing():
            warn(
                sid,
                None,
                "the accountability contract leaves out "
                + ", ".join(f"`{m}`" for m in missing)
                + ": an incident review will say so",
            )
        if undecided := [c for c in KNOWN_CATEGORIES if c not in s.decisions]:
            warn(sid, "decisions", "nobody holds the decisions on " + ", ".join(undecided))
        for category in s.decisions:
            close = difflib.get_close_matches(category, KNOWN_CATEGORIES, n=1, cutoff=0.8)
            if category not in KNOWN_CATEGORIES and close:
                warn(sid, f"decisions.{category}", f"{category!r}: did you mean {close[0]!r}?")
        if not s.governance.decision_escalation:
            warn(
                sid,
                "governance",
                "nobody takes a decision the steward leaves open: no `admins`"
                " and no `decision_escalation`",
            )
    return found


def _views(registry: Registry) -> dict[str, dict[str, str]]:
    out = {}
    for sid, s in registry.systems.items():
        out[sid] = {role: f"{registry.people[p].name} ({p})" for role, p in s.roles().items()}
        out[sid]["decisions"] = ", ".join(s.decisions)
    return out


def _raw_systems(path: str | Path) -> dict[str, dict[str, str]]:
    """Best-effort role table of a file that did not validate."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    systems = data.get("systems") if isinstance(data, dict) else None
    people = data.get("people") if isinstance(data, dict) else None
    people = people if isinstance(people, dict) else {}
    out: dict[str, dict[str, str]] = {}
    for sid, spec in (systems or {}).items() if isinstance(systems, dict) else ():
        spec = spec if isinstance(spec, dict) else {}
        roles: dict[str, str] = {}
        for role, _ in ROLE_LABELS:
            value: Any = spec.get(role)
            if role == "stop_authority" and value is None:
                value = spec.get("steward")
            if value is None or value == "":
                roles[role] = "MISSING"
            elif isinstance(value, str) and isinstance(people.get(value), dict):
                roles[role] = f"{people[value].get('name', value)} ({value})"
            else:
                roles[role] = f"{value!r} (not a person)"
        out[str(sid)] = roles
    return out


def _report(
    path: str | Path,
    systems: dict[str, dict[str, str]],
    problems: Iterable[Problem],
    *,
    version: str | None = None,
) -> str:
    problems = list(problems)
    # The version is what the store keeps and a review names: a reader can tell which it is.
    shown = f" (version {version[:12]})" if version else ""
    lines = [f"Ownership registry {path}{shown}", ""]
    # Grouped once: looking each system's problems up in the whole list is quadratic, minutes
    # at ten thousand systems.
    by_system: dict[str | None, list[Problem]] = {}
    for p in problems:
        by_system.setdefault(p.system, []).append(p)
    for sid, roles in systems.items():
        lines.append(sid)
        for role, label in ROLE_LABELS:
            lines.append(f"  {label:<15} {roles.get(role, 'MISSING')}")
        if roles.get("decisions"):
            lines.append(f"  {'decisions':<15} {roles['decisions']}")
        gaps = by_system.get(sid, [])
        if gaps:
            lines += [f"  {p.severity}: {_short(p)}" for p in gaps]
        else:
            lines.append("  no gaps")
        lines.append("")
    general = [p for p in problems if p.system is None or p.system not in systems]
    for p in general:
        lines.append(str(p))
    errors = sum(p.severity == "error" for p in problems)
    warnings = sum(p.severity == "warning" for p in problems)
    lines.append(f"{len(systems)} systems, {errors} errors, {warnings} warnings")
    if errors:
        lines += ["", "Errors:"] + [f"  {p}" for p in problems if p.severity == "error"]
    return "\n".join(lines)


def _short(p: Problem) -> str:
    where = f"line {p.line}: " if p.line else ""
    field = f"{p.field}: " if p.field else ""
    return f"{where}{field}{p.message}"


def escalation_rows(system: SystemView, registry: Registry) -> list[dict[str, str]]:
    """The map of one system as rows: first the claim, then each step."""
    rows = [
        {
            "after": "0s",
            "notify": "operator",
            "person": registry.people[system.operator].name,
            "email": registry.people[system.operator].email,
        }
    ]
    for e in system.escalation:
        rows.append(
            {
                "after": format_duration(e.after),
                "notify": e.label,
                "person": registry.people[e.person].name,
                "email": registry.people[e.person].email,
            }
        )
    return rows


def escalation_map(registry: Registry, systems: Iterable[SystemView], *, fmt: str) -> str:
    """The published escalation map, as Markdown for a wiki or as JSON."""
    systems = list(systems)
    if fmt == "json":
        return json.dumps(
            {
                s.id: {
                    "name": s.name,
                    "stop_authority": registry.people[s.stop_authority].name,
                    "acknowledge": s.ack_by,
                    "steps": escalation_rows(s, registry),
                }
                for s in systems
            },
            indent=2,
        )
    out = ["# Escalation map", ""]
    for s in systems:
        out += [
            f"## {s.id}: {s.name}",
            "",
            f"Stop authority: {registry.people[s.stop_authority].name}. "
            f"Acknowledge: {'people named on the system' if s.ack_by == 'chain' else 'anyone'}.",
            "",
            "| after | notify | person | email |",
            "|---|---|---|---|",
        ]
        out += [
            f"| {r['after']} | {r['notify']} | {r['person']} | {r['email']} |"
            for r in escalation_rows(s, registry)
        ]
        out.append("")
    return "\n".join(out)
