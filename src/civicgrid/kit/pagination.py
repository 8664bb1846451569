"""The paging parameters every list endpoint takes, with one bound for all of them.

An unbounded ``offset`` reached the database as a 64-bit overflow (``offset=2**63`` answered
500 on SQLite and PostgreSQL; issue 9 §3.4): it is refused as a malformed request (422) before
any query runs. Nobody pages a billion rows deep; exports and figures exist for that.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

MAX_OFFSET = 1_000_000_000
"""Far below both databases' 64-bit limit, far above any real page."""

Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip (0 to 1,000,000,000)")]

