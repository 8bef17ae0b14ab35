"""Immich's DTOs that endpoints of several apps share (their own DTOs stay beside their routes)."""

from typing import Literal
from uuid import UUID

from ninja import Schema


class BulkIdsDto(Schema):
    ids: list[UUID]


# error and errorMessage are optional, never null (Immich leaves them out): routes answering this declare
# exclude_none=True.
class BulkIdResponseDto(Schema):
    id: str
    success: bool
    error: Literal["duplicate", "no_permission", "not_found", "unknown", "validation"] = None
    errorMessage: str = None
