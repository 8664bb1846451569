"""Every ``offset`` the API takes is bounded (issue 9 §3.4): one unbounded parameter reached the
database as a 64-bit overflow and answered 500 (``GET /api/v1/inbox?offset=2e19``, found by the
schema fuzzer). Walks the OpenAPI, so a list endpoint written later is covered too."""

from __future__ import annotations

from typing import Any

from civicgrid.kit.pagination import MAX_OFFSET


def test_every_offset_parameter_has_the_shared_bound(app: Any) -> None:
    unbounded = []
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter["name"] != "offset":
                    continue
                schema = parameter.get("schema", {})
                if schema.get("maximum") != MAX_OFFSET or schema.get("minimum") != 0:
                    unbounded.append(f"{method.upper()} {path}: {schema}")
    assert not unbounded, "use kit.pagination.Offset for:\n" + "\n".join(unbounded)
