"""Incident reviews as markdown, JSON (stable keys for scripts) and a neutral card."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from bot.cards import Card, Line
from bot.review import Review, short, timeline_lines, when

JSON_VERSION = 1
REVIEW = "alert.review"  # button on resolved claims; value: the alert id


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _md(text: str) -> str:
    # Record text is free text: one line each, no raw HTML or headings smuggled in.
    return text.replace("\r", " ").replace("\n", " ").replace("<", "&lt;")


def markdown(r: Review) -> str:
    """The review as a markdown document, the seven answers first."""
    a = r.alert
    out = [
        f"# Incident review: alert #{a.id} ({_md(a.system or 'unowned')})",
        "",
        f"{_md(a.title)}. Opened {when(a.opened_at)}"
        + (f", resolved {when(a.resolved_at)}." if a.resolved_at else ", still open."),
        "",
        f"**{r.answered} of 7 answered.**"
        + (f" Missing: {', '.join(str(n) for n in r.missing)}." if r.missing else ""),
        "",
    ]
    for ans in r.answers:
        mark = "" if ans.answered else " (missing)"
        out.append(f"{ans.number}. **{ans.question}**{mark}  ")
        out.append(f"   {_md(ans.text)}  ")
        if ans.sources:
            out.append(f"   Source: {_md('; '.join(ans.sources))}")
        out.append("")
    if r.changed_since:
        out += ["## Changed since", "", *(f"- {_md(c)}" for c in r.changed_since), ""]
    out += ["## Timeline", ""]
    out += [f"- {_md(line)}" for line in timeline_lines(r.timeline)] or ["- nothing recorded"]
    out += ["", f"Registry version then: {short(r.version_then)}; now: {short(r.version_now)}."]
    return "\n".join(out) + "\n"


def review_json(r: Review) -> dict[str, Any]:
    """The review as plain JSON types; keys never change meaning."""
    a = r.alert
    return {
        "version": JSON_VERSION,
        "alert": {
            "id": a.id,
            "system": a.system,
            "title": a.title,
            "state": a.state.value,
            "opened_at": _iso(a.opened_at),
            "resolved_at": _iso(a.resolved_at),
            "resolved_by": a.resolved_by,
        },
        "answered": r.answered,
        "missing": list(r.missing),
        "answers": [
            {
                "number": ans.number,
                "question": ans.question,
                "answer": ans.text,
                "answered": ans.answered,
                "sources": list(ans.sources),
            }
            for ans in r.answers
        ],
        "links": [{"title": t, "url": u} for t, u in r.links],
        "changed_since": list(r.changed_since),
        "registry_version_then": r.version_then,
        "registry_version_now": r.version_now,
        "timeline": [
            {
                "seq": e.seq,
                "at": _iso(e.at),
                "actor": e.actor,
                "action": e.action,
                "detail": dict(e.detail),
            }
            for e in r.timeline
        ],
    }


def to_json(r: Review) -> str:
    """The document `review --format json` prints."""
    return json.dumps(review_json(r), indent=2, sort_keys=True, default=str)


def card(r: Review, *, link: str | None = None) -> Card:
    """The review in chat: the seven answers, what is missing, and a link to the full page."""
    a = r.alert
    lines: list[Line] = [
        (f"{r.answered} of 7 answered" + (f"; missing: {_nums(r)}." if r.missing else "."),)
    ]
    for ans in r.answers:
        text = ans.text if len(ans.text) <= 400 else ans.text[:400] + "..."
        lines.append((f"{ans.number}. {ans.question} {text}",))
    lines += [(c,) for c in r.changed_since]
    return Card(
        title=f"Review of alert #{a.id}: {a.system or 'unowned'}: {a.title}"[:300],
        lines=tuple(lines),
        fields=(("Registry then", short(r.version_then)), ("Registry now", short(r.version_now))),
        tone="ok" if not r.missing else "warning",
        link=link,
    )


def _nums(r: Review) -> str:
    return ", ".join(str(n) for n in r.missing)
