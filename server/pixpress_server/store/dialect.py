"""What the SQLite and PostgreSQL stores write and read alike: statements built from optional
parts, and rows turned into records; a `Dialect` holds how the two stores differ."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pixpress_server.store.records import (
    UNFINISHED,
    ActionCursor,
    ActionErrorData,
    ActionRecord,
    ActionRequestData,
    ActionResponseData,
    ActionStatus,
    ApiKeyRecord,
    AssetOrigin,
    AssetRecord,
)

UNFINISHED_SQL = "status IN ('queued', 'running')"
FINISHED_SQL = "status NOT IN ('queued', 'running')"  # as in actions_finished, to use it


class Row(Protocol):
    """A row read by column name (sqlite3.Row, psycopg's dict rows)."""

    def __getitem__(self, key: str, /) -> Any: ...


@dataclass(frozen=True, slots=True)
class Dialect:
    """One store's placeholder, how it stores times and JSON, and how it adds the input's
    size and format to a stored request."""

    placeholder: str
    write_time: Callable[[datetime], Any]
    read_time: Callable[[Any], datetime]  # given a stored time, never NULL
    write_json: Callable[[dict[str, Any]], Any]
    read_json: Callable[[Any], dict[str, Any]]
    set_request_size: str  # an assignment to `request`, input_size then input_format

    def update_action(
        self,
        action_id: str,
        status: ActionStatus,
        when: datetime,
        request_size: tuple[int, str] | None,
        response: ActionResponseData | None,
        error: ActionErrorData | None,
        holder: str,
    ) -> tuple[str, tuple[Any, ...]]:
        """The UPDATE moving an unfinished action to `status` (only while `holder` holds
        it, if given), and its values."""
        p = self.placeholder
        assignments = [f"status = {p}"]
        values: list[Any] = [status.value]
        if status is ActionStatus.RUNNING:
            assignments.append(f"started = {p}")
            values.append(self.write_time(when))
        if status.is_terminal:
            assignments.append(f"finished = {p}")
            values.append(self.write_time(when))
        if request_size is not None:
            assignments.append(self.set_request_size)
            values.extend(request_size)
        if response is not None:
            assignments.append(f"response = {p}")
            values.append(self.write_json(response.to_dict()))
        if error is not None:
            assignments.extend([f"error_code = {p}", f"error_message = {p}"])
            values.extend([error.code, error.message])
        held = f" AND lease_owner = {p}" if holder else ""
        return (
            f"UPDATE actions SET {', '.join(assignments)} WHERE id = {p} AND status IN ({p}, {p})"
            + held,
            (*values, action_id, *(s.value for s in UNFINISHED), *([holder] if holder else [])),
        )

    def list_actions(
        self,
        owner: str,
        limit: int,
        after: ActionCursor | None,
        status: ActionStatus | None,
        route_id: str | None,
    ) -> tuple[str, tuple[Any, ...]]:
        """The SELECT of one page of an owner's actions, newest first, and its values."""
        p = self.placeholder
        conditions = [f"owner = {p}"]
        values: list[Any] = [owner]
        if after is not None:
            conditions.append(f"(created, id) < ({p}, {p})")
            values.extend([self.write_time(after.created), after.id])
        if status is not None:
            conditions.append(f"status = {p}")
            values.append(status.value)
        if route_id:
            conditions.append(f"route_id = {p}")
            values.append(route_id)
        return (
            f"SELECT * FROM actions WHERE {' AND '.join(conditions)} "
            f"ORDER BY created DESC, id DESC LIMIT {p}",
            (*values, limit),
        )

    def _time(self, value: Any) -> datetime | None:
        return None if value is None else self.read_time(value)

    def key(self, row: Row) -> ApiKeyRecord:
        return ApiKeyRecord(
            id=row["id"],
            owner=row["owner"],
            created=self.read_time(row["created"]),
            last_used=self._time(row["last_used"]),
            revoked=self._time(row["revoked"]),
        )

    def asset(self, row: Row) -> AssetRecord:
        return AssetRecord(
            id=row["id"],
            owner=row["owner"],
            size=row["size"],
            format=row["format"],
            sha256=row["sha256"],
            created=self.read_time(row["created"]),
            origin=AssetOrigin(row["origin"]),
        )

    def action(self, row: Row) -> ActionRecord:
        response = row["response"]
        error_code = row["error_code"]
        return ActionRecord(
            id=row["id"],
            route_id=row["route_id"],
            owner=row["owner"],
            status=ActionStatus(row["status"]),
            request=ActionRequestData(**self.read_json(row["request"])),
            created=self.read_time(row["created"]),
            response=None
            if response is None
            else ActionResponseData.from_dict(self.read_json(response)),
            error=None if error_code is None else ActionErrorData(error_code, row["error_message"]),
            started=self._time(row["started"]),
            finished=self._time(row["finished"]),
        )


def stored_as_is(value: Any) -> Any:
    """A value the driver converts both ways itself (PostgreSQL's times)."""
    return value
