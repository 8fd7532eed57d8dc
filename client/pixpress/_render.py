"""How the CLI prints routes, assets and actions: one-line and block text, and JSON."""

from __future__ import annotations

import dataclasses
import enum
import json
from datetime import datetime
from typing import Any

from pixpress._models import Action, Asset, RouteFields

__all__ = ["action_block", "action_line", "asset_line", "jsonable", "route_block", "to_json"]


def jsonable(value: Any) -> Any:
    """Dataclasses as dicts (fields hidden from repr, like a route's client, left out),
    datetimes as ISO 8601, enums as their value, tuples as lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value) if f.repr
        }
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value


def to_json(value: Any, **extra: Any) -> str:
    """One line of JSON; `extra` keys (such as "path") are added to a dict."""
    data = jsonable(value)
    if extra and isinstance(data, dict):
        data = {**extra, **data}
    return json.dumps(data, sort_keys=False, separators=(",", ":"))


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")


def asset_line(asset: Asset) -> str:
    """ID<TAB>SIZE<TAB>FORMAT<TAB>SHA256."""
    return f"{asset.id}\t{asset.size}\t{asset.format}\t{asset.sha256}"


def _outcome(action: Action) -> str:
    if action.response is not None:
        response = action.response
        text = f"{response.format} {action.request.input_size:,} -> {response.output_size:,} bytes"
        if response.kept_original:
            text += f" (kept original: {response.kept_original_reason})"
        if response.output_asset_id:
            text += f", output asset {response.output_asset_id}"
        return text
    if action.error is not None:
        return f"{action.error.code}: {action.error.message}"
    return ""


def action_line(action: Action) -> str:
    """ID  STATUS  CREATED  OUTCOME (the outcome once finished)."""
    line = f"{action.id}  {action.status.value:<9}  {_when(action.created)}"
    outcome = _outcome(action)
    return f"{line}  {outcome}" if outcome else line


def _asked(action: Action) -> list[tuple[str, str]]:
    """quality or target score, then effort and max bytes: what the request set."""
    request = action.request
    if request.target_score is not None:
        rows = [("target score", f"{request.target_score:g}")]
    else:
        rows = [("quality", str(request.quality))]
    if request.effort:
        rows.append(("effort", str(request.effort)))
    if request.max_bytes is not None:
        rows.append(("max bytes", f"{request.max_bytes:,}"))
    return rows


def _applied(action: Action) -> list[tuple[str, str]]:
    """What a search chose: the quality, the score reached, whether the budget was met."""
    response = action.response
    if response is None:
        return []
    request = action.request
    rows = []
    if response.quality and (request.target_score is not None or request.max_bytes is not None):
        rows.append(("quality chosen", str(response.quality)))
    if response.score is not None:
        rows.append(("score", f"{response.score:.2f}"))
    if response.budget_met is not None:
        rows.append(("budget met", str(response.budget_met).lower()))
    return rows


def action_block(action: Action) -> str:
    """Every field of an action, one per line."""
    request = action.request
    rows = [
        ("id", action.id),
        ("status", action.status.value),
        ("route", action.route_id),
        ("owner", action.owner),
        ("created", _when(action.created)),
        ("started", _when(action.started)),
        ("finished", _when(action.finished)),
        *_asked(action),
        ("keep metadata", str(request.keep_metadata).lower()),
        ("input", f"{request.input_format} {request.input_size:,} bytes"),
        ("input asset", request.input_asset_id or "-"),
        ("store output", str(request.store_output).lower()),
    ]
    if action.response is not None:
        response = action.response
        rows += [
            ("output", f"{response.format} {response.output_size:,} bytes"),
            ("size", f"{response.width}x{response.height}, {response.frames} frame(s)"),
            ("output asset", response.output_asset_id or "-"),
            *_applied(action),
        ]
        if response.kept_original:
            rows.append(("kept original", response.kept_original_reason))
        rows += [
            (f"stage {s.name}", f"{s.output_bytes:,} bytes, {s.milliseconds:.1f} ms")
            for s in response.stages
        ]
    if action.error is not None:
        rows.append(("error", f"{action.error.code}: {action.error.message}"))
    return _rows(rows)


def _rows(rows: list[tuple[str, str]], indent: str = "") -> str:
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{indent}{name:<{width}}  {value}" for name, value in rows)


def _parameter(schema: dict[str, Any]) -> str:
    text = str(schema.get("type", "?"))
    if "minimum" in schema or "maximum" in schema:
        text += f" {schema.get('minimum', '')}-{schema.get('maximum', '')}"
    if "default" in schema:
        text += f", default {json.dumps(schema['default'])}"
    description = schema.get("description")
    return f"{text}: {description}" if description else text


def route_block(route: RouteFields) -> str:
    """IDENTIFIER (visibility), then its fields and parameters."""
    metadata = route.metadata
    limits = metadata.get("limits", {})
    rows = [
        ("id", route.id),
        ("owner", route.owner),
        ("description", route.description),
        ("formats", ", ".join(metadata.get("formats", []))),
        ("limits", " ".join(f"{k}={v}" for k, v in limits.items())),
        ("rpcs", ", ".join(metadata.get("rpcs", []))),
    ]
    parameters = [(name, _parameter(schema)) for name, schema in route.parameters.items()]
    text = f"{route.identifier} ({route.visibility.value})\n{_rows(rows, '  ')}"
    if parameters:
        text += f"\n  parameters\n{_rows(parameters, '    ')}"
    return text
