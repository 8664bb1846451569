"""``civicgrid figures rebuild`` recomputes the rollups from the matters table."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine, delete, select
from typer.testing import CliRunner

from civicgrid.cli import app
from civicgrid.db import transaction
from civicgrid.matters.figures import service
from civicgrid.matters.figures.models import CountyFigures
from civicgrid.matters.models import Matter
from tests.matters.figures.factories import local, make_matter, matter_type

DAY = date(2019, 7, 1)


def test_rebuild_restores_a_damaged_rollup(engine: Engine) -> None:
    with transaction(engine) as s:
        m = make_matter(s, matter_type(s), grid_code="439903001001001", reported_at=local("2019-07-01 10:00"))
        matter_id = m.id
    try:
        with transaction(engine) as s:  # damage: someone wiped the county rows with raw SQL
            s.execute(delete(CountyFigures).where(CountyFigures.code == "439903"))
        with transaction(engine, write=False) as s:
            assert service.figures_for_prefix(s, "439903", DAY, DAY)["received"] == 0
        result = CliRunner().invoke(app, ["figures", "rebuild"])
        assert result.exit_code == 0, result.output
        assert "matter_figures_county" in result.output
        with transaction(engine, write=False) as s:
            assert service.figures_for_prefix(s, "439903", DAY, DAY)["received"] == 1
    finally:
        with transaction(engine) as s:
            s.delete(s.scalars(select(Matter).where(Matter.id == matter_id)).one())
