"""kit.personal: the encrypted column type and the masked response types."""

from __future__ import annotations

import pytest
from pydantic import BaseModel
from sqlalchemy import Column, MetaData, String, Table, bindparam, insert, select, text
from sqlalchemy.orm import Session

from civicgrid.config import get_settings
from civicgrid.kit.ids import new_id
from civicgrid.kit.personal import (
    MaskedAddress,
    MaskedIdNumber,
    MaskedName,
    MaskedPhone,
    Personal,
    is_personal,
    lookup_hash,
)
from civicgrid.kit.pii import derive_key, sm3_keyed_hash
from civicgrid.kit.statements import DriverStatement

_META = MetaData()
PEOPLE = Table("test_personal_people", _META, Column("id", String(32), primary_key=True),
               Column("phone", Personal("test_people.phone", "phone")),
               Column("name", Personal("test_people.name", "name", 255)), prefixes=["TEMPORARY"])
DRIVER_INSERT = DriverStatement(lambda _d: insert(PEOPLE), keys=["id", "phone", "name"])
DRIVER_SELECT = DriverStatement(lambda _d: select(PEOPLE.c.phone, PEOPLE.c.name).where(PEOPLE.c.id == bindparam("id")))


def test_the_column_encrypts_on_bind_and_decrypts_on_result_through_core_and_the_driver(db: Session) -> None:
    conn = db.connection()
    PEOPLE.create(conn)
    by_core, by_driver = new_id(), new_id()
    conn.execute(insert(PEOPLE), {"id": by_core, "phone": "13812345678", "name": "李秀英"})
    DRIVER_INSERT.executemany(conn, [{"id": by_driver, "phone": "13912345678", "name": None}])  # the intake's path
    stored = dict(conn.execute(text("SELECT id, phone FROM test_personal_people")).all())
    assert all(value.startswith("aes-gcm.") for value in stored.values())
    assert "5678" not in stored[by_core] and "5678" not in stored[by_driver]
    assert conn.execute(select(PEOPLE.c.phone, PEOPLE.c.name).where(PEOPLE.c.id == by_core)).one() == (
        "13812345678", "李秀英")
    assert DRIVER_SELECT.execute(conn, {"id": by_driver}) == [("13912345678", None)]
    assert DRIVER_SELECT.execute(conn, {"id": by_core}) == [("13812345678", "李秀英")]
    # The context is the associated data: a ciphertext moved to another personal column fails.
    conn.execute(text("UPDATE test_personal_people SET name = phone WHERE id = :i"), {"i": by_core})
    with pytest.raises(ValueError, match="context"):
        conn.execute(select(PEOPLE.c.name).where(PEOPLE.c.id == by_core)).one()
    assert is_personal(PEOPLE.c.phone.type) and not is_personal(PEOPLE.c.id.type)


class Party(BaseModel):
    phone: MaskedPhone
    id_number: MaskedIdNumber
    name: MaskedName
    address: MaskedAddress


def test_masked_types_always_serialise_masked() -> None:
    party = Party(phone="13812345678", id_number="43110219900517123X", name="欧阳娜娜",
                  address="湖南省永州市零陵区南津中路12号")
    expected = {"phone": "138****5678", "id_number": "431102********123X", "name": "欧***",
                "address": "湖南省永州市" + "*" * 10}
    assert party.model_dump() == expected
    assert party.model_dump(mode="json") == expected
    assert "13812345678" not in party.model_dump_json() and "娜娜" not in party.model_dump_json()
    assert Party(**party.model_dump()).model_dump() == expected  # masking twice changes nothing
    assert Party(phone=None, id_number=None, name=None, address=None).model_dump() == dict.fromkeys(expected)


def test_the_setting_switches_new_values_to_sm4_gcm_and_old_ones_still_read(db: Session,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    conn = db.connection()
    PEOPLE.create(conn)
    before, after = new_id(), new_id()
    conn.execute(insert(PEOPLE), {"id": before, "phone": "13812345678", "name": "李秀英"})  # aes-gcm (default)
    monkeypatch.setenv("CIVICGRID_PII_CIPHER", "sm4-gcm")
    get_settings.cache_clear()
    try:
        conn.execute(insert(PEOPLE), {"id": after, "phone": "13912345678", "name": "周桂兰"})
        stored = dict(conn.execute(text("SELECT id, phone FROM test_personal_people")).all())
        assert stored[before].startswith("aes-gcm.") and stored[after].startswith("sm4-gcm.")
        rows = dict(conn.execute(select(PEOPLE.c.id, PEOPLE.c.phone)).all())
        assert rows == {before: "13812345678", after: "13912345678"}
        assert lookup_hash("13812345678", "users.phone") == sm3_keyed_hash(
            "users.phone:13812345678", derive_key("pii-lookup-hmac-sm3", get_settings().secret_key, sm3=True))
    finally:
        monkeypatch.delenv("CIVICGRID_PII_CIPHER")
        get_settings.cache_clear()
    assert dict(conn.execute(select(PEOPLE.c.id, PEOPLE.c.phone)).all())[after] == "13912345678"
