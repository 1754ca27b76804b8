"""The Teams app package: manifest.json with the app id filled in, plus its two icons, zipped
flat as Teams wants it for "Upload a custom app". No botbuilder here: the CLI imports it."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from typing import Any

MANIFEST_DIR = Path(__file__).resolve().parents[2] / "manifest" / "teams"
PLACEHOLDER = "{{TEAMS_APP_ID}}"
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)


class PackageError(ValueError):
    """The package cannot be built; the message says what to fix."""


def build_package(
    *, app_id: str, output: Path, manifest_dir: Path = MANIFEST_DIR
) -> dict[str, Any]:
    """Write the upload zip and return the manifest it contains."""
    app_id = app_id.strip()
    if not _GUID.match(app_id):
        raise PackageError(
            f"TEAMS_APP_ID {app_id!r} is not a GUID: use the Microsoft App ID of the Azure Bot "
            "registration (Azure portal > your Azure Bot > Configuration)"
        )
    source = manifest_dir / "manifest.json"
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise PackageError(f"cannot read {source}: {exc.strerror}") from exc
    try:
        manifest: dict[str, Any] = json.loads(text.replace(PLACEHOLDER, app_id))
    except json.JSONDecodeError as exc:
        raise PackageError(f"{source} is not valid JSON: {exc}") from exc
    icons = manifest.get("icons") or {}
    files = {"manifest.json": (json.dumps(manifest, indent=2) + "\n").encode()}
    for role in ("color", "outline"):
        name = icons.get(role)
        if not isinstance(name, str) or not (manifest_dir / name).is_file():
            raise PackageError(f"the manifest's {role} icon {name!r} is missing in {manifest_dir}")
        files[name] = (manifest_dir / name).read_bytes()
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return manifest
