"""Write src/civicgrid/data/yongzhou/places.generated.csv: invented named places for the demo.

Every row is marked ``generated=true``: the names follow the patterns of real places (a county's
人民医院 and 第一中学, a township's 中心小学, 农贸市场 and 卫生院, an urban community's 花园小区)
and sit a few hundred metres from the division's published point, but none is a surveyed place.
Deterministic: the same divisions file gives the same output. Run from the repository root:

    .venv/bin/python tools/generate_demo_places.py
"""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

from civicgrid.gazetteer.names import core

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "src/civicgrid/data/yongzhou"
TEMPLATES = {
    "county": [("{c}人民医院", "{c}医院", "hospital"), ("{c}第一中学", "{c}一中", "school"),
               ("{c}汽车站", "{c}客运站", "station")],
    "township": [("{c}中心小学", "{c}小学", "school"), ("{c}农贸市场", "{c}菜市场", "market"),
                 ("{c}卫生院", "", "hospital")],
    "village": [("{c}花园小区", "{c}花园", "compound")],
}


def offset(name: str) -> tuple[float, float]:
    """A deterministic offset of up to about 600 m."""
    digest = hashlib.sha256(name.encode()).digest()
    return ((digest[0] - 128) / 128 * 0.006, (digest[1] - 128) / 128 * 0.005)


def main() -> None:
    with (DATA / "divisions.csv").open(encoding="utf-8") as fh:
        divisions = list(csv.DictReader(fh))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "aliases", "kind", "lng", "lat", "crs", "division_code", "generated"])
    for row in divisions:
        level = row["level"]
        if not row["lng"] or level not in TEMPLATES:
            continue
        if level == "village" and row["urban_rural_code"] != "111":
            continue  # compounds only in the main urban communities
        short = core(row["name"], level)
        for name_t, aliases_t, kind in TEMPLATES[level]:
            name = name_t.format(c=short)
            aliases = aliases_t.format(c=short)
            dx, dy = offset(row["code"] + name)
            writer.writerow([name, aliases, kind, f"{float(row['lng']) + dx:.6f}", f"{float(row['lat']) + dy:.6f}",
                             "gcj02", row["code"], "true"])
    (DATA / "places.generated.csv").write_text(out.getvalue(), encoding="utf-8")


if __name__ == "__main__":
    main()
