"""A realistic, synthetic source for demos, tests and benchmarks. Deterministic for a seed.

Everything here is invented (names, people, shipments); only the shapes follow the program:
the twelve entity types, expanded profile models, facilities in the U.S., Canada, Asia and
Mexico (including the border cities CBP named), Portal roles, two profile years of answers with
some blank, short or unchanged, 24 months of entries at real U.S. port codes with exam rates
that differ by port, and some partners overdue for their annual review. It is written as CSV
and Parquet files plus one small Excel workbook, the formats partners and CBP exchange.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ctpat_audit.analysis.review import anniversary_in, annual_review

# (code, name, modes, relative volume, exam-rate multiplier). Codes: CBP port codes.
PORTS: tuple[tuple[str, str, tuple[str, ...], float, float], ...] = (
    ("2304", "Laredo, TX", ("truck", "rail"), 10.0, 1.0),
    ("2305", "Hidalgo/Pharr, TX", ("truck",), 3.0, 1.4),
    ("2402", "El Paso, TX", ("truck", "rail"), 5.0, 1.2),
    ("2506", "Otay Mesa, CA", ("truck",), 4.0, 1.6),
    ("2604", "Nogales, AZ", ("truck",), 2.0, 1.1),
    ("3801", "Detroit, MI", ("truck", "rail"), 5.0, 0.8),
    ("0901", "Buffalo-Niagara Falls, NY", ("truck",), 3.0, 0.7),
    ("0712", "Champlain-Rouses Point, NY", ("truck",), 1.0, 0.9),
    ("3004", "Blaine, WA", ("truck",), 1.5, 0.8),
    ("2704", "Los Angeles, CA", ("sea",), 8.0, 1.0),
    ("2709", "Long Beach, CA", ("sea",), 7.0, 1.3),
    ("1001", "New York, NY", ("sea",), 4.0, 0.9),
    ("4601", "Newark, NJ", ("sea",), 5.0, 1.1),
    ("5301", "Houston, TX", ("sea",), 3.0, 1.2),
    ("1703", "Savannah, GA", ("sea",), 4.0, 0.8),
    ("1601", "Charleston, SC", ("sea",), 2.0, 0.9),
    ("3001", "Seattle, WA", ("sea",), 2.0, 1.0),
    ("4701", "JFK Airport, NY", ("air",), 3.0, 1.0),
    ("2720", "Los Angeles Intl Airport, CA", ("air",), 3.0, 1.2),
    ("3901", "Chicago, IL", ("air",), 2.0, 0.9),
    ("5206", "Miami Intl Airport, FL", ("air",), 2.0, 1.5),
)
#: base CTPAT exam probability by mode (synthetic; non-members' baselines are higher)
BASE_EXAM_RATE = {"truck": 0.035, "sea": 0.012, "air": 0.010, "rail": 0.020}
EXAM_TYPE_MIX = {  # mode -> (exam type, share)
    "truck": (("nii", .55), ("tailgate", .22), ("intensive", .08), ("agriculture", .12),
              ("document_review", .03)),
    "rail": (("nii", .70), ("tailgate", .10), ("intensive", .05), ("agriculture", .12),
             ("document_review", .03)),
    "sea": (("nii", .58), ("tailgate", .14), ("intensive", .10), ("agriculture", .12),
            ("document_review", .06)),
    "air": (("nii", .40), ("tailgate", .05), ("intensive", .10), ("agriculture", .08),
            ("document_review", .37)),
}
DISCREPANCY_SHARE = 0.04
DISCREPANCIES = (("seal_discrepancy", .30), ("misdescribed_goods", .30), ("agricultural_contamination", .20),
                 ("conveyance_tampering", .08), ("hidden_compartment", .07), ("narcotics", .05))

# (country, state/province, city)
MEXICO = (("MX", "Tamaulipas", "Nuevo Laredo"), ("MX", "Nuevo León", "Monterrey"),
          ("MX", "Ciudad de México", "Mexico City"), ("MX", "Baja California", "Tijuana"),
          ("MX", "Baja California", "Mexicali"), ("MX", "Tamaulipas", "Matamoros"),
          ("MX", "Tamaulipas", "Reynosa"), ("MX", "Chihuahua", "Ciudad Juárez"))
CANADA = (("CA", "Ontario", "Toronto"), ("CA", "Ontario", "Windsor"), ("CA", "Quebec", "Montreal"),
          ("CA", "British Columbia", "Vancouver"))
USA = (("US", "TX", "Laredo"), ("US", "TX", "Houston"), ("US", "CA", "Los Angeles"),
       ("US", "IL", "Chicago"), ("US", "MI", "Detroit"), ("US", "NJ", "Newark"),
       ("US", "GA", "Savannah"), ("US", "WA", "Seattle"), ("US", "FL", "Miami"),
       ("US", "AZ", "Nogales"), ("US", "NY", "Buffalo"), ("US", "OH", "Columbus"))
ASIA = (("CN", "Guangdong", "Shenzhen"), ("CN", "Shanghai", "Shanghai"), ("VN", "", "Ho Chi Minh City"),
        ("KR", "", "Busan"), ("TW", "", "Taipei"), ("IN", "Tamil Nadu", "Chennai"),
        ("TH", "", "Bangkok"), ("JP", "", "Yokohama"))

ENTITY_MIX = (("importer", .50), ("foreign_manufacturer", .16), ("highway_carrier", .10),
              ("mexican_long_haul_carrier", .04), ("customs_broker", .05), ("third_party_logistics", .05),
              ("consolidator", .03), ("exporter", .03), ("sea_carrier", .015), ("air_carrier", .01),
              ("rail_carrier", .005), ("marine_port_terminal_operator", .01))
EXPANSIONS = {"importer": ("sea_carrier", "third_party_logistics", "exporter"),
              "highway_carrier": ("third_party_logistics",),
              "customs_broker": ("consolidator",)}
STATUS_MIX = (("validated", .62), ("certified", .24), ("applicant", .04), ("suspended", .06),
              ("removed", .04))

_WORDS_A = ("Atlas", "Northstar", "Frontera", "Pacific", "Lakeshore", "Sierra", "Golden Gate", "Rio Bravo",
            "Summit", "Harbor", "Keystone", "Pioneer", "Meridian", "Cascade", "Liberty", "Aztec",
            "Maple", "Orion", "Delta", "Granite", "Bluewater", "Prairie", "Coastal", "Cardinal")
_WORDS_B = ("Precision", "Logistics", "Plastics", "Apparel", "Electronics", "Foods", "Freight", "Steel",
            "Auto Parts", "Textiles", "Components", "Furniture", "Chemicals", "Packaging", "Trading",
            "Transport", "Machinery", "Ceramics", "Home Goods", "Medical Supplies")
_SUFFIX = {"US": ("Inc.", "LLC", "Corp."), "MX": ("S.A. de C.V.", "S. de R.L. de C.V."),
           "CA": ("Ltd.", "Inc."), "ASIA": ("Co., Ltd.", "Ltd.")}
_FIRST = ("Maria", "James", "Ana", "Robert", "Luis", "Jennifer", "Carlos", "Linda", "Wei", "Michael",
          "Sofia", "David", "Priya", "John", "Fernanda", "Daniel", "Mei", "Patricia", "Jorge", "Emily")
_LAST = ("Garcia", "Smith", "Hernandez", "Johnson", "Lopez", "Brown", "Chen", "Martinez", "Nguyen",
         "Williams", "Gonzalez", "Kim", "Rodriguez", "Patel", "Davis", "Ramirez", "Wilson", "Torres")
_SHORT = ("Yes.", "N/A", "See policy", "Done")
_UPDATE = " Updated this year after a review of our business partners."
_PHRASES = (
    "Procedure {id} is documented in our security manual and reviewed each year by the security team.",
    "We meet {id}: written procedures exist, staff are trained, and compliance is checked in "
    "quarterly audits.",
    "Implemented at all sites; records are kept for two years and were last reviewed during the "
    "internal audit.",
    "Our policy covers this requirement; the security coordinator verifies it monthly and keeps a log.",
    "Partially implemented; a corrective action plan is in place with completion expected this year.",
    "Covered by our risk assessment; controls are tested and results reported to senior management.",
)


@dataclass(frozen=True)
class SampleSpec:
    partners: int = 200
    seed: int = 7
    as_of: dt.date = dt.date(2026, 11, 1)
    shipments_per_partner: float = 250.0  # mean; heavy-tailed across partners
    months: int = 24


def _criteria_default(entity_types: list[str]) -> list[str]:
    from ctpat_audit.criteria.catalogue import load_catalogue

    return [c.id for c in load_catalogue().applicable(entity_types)]


def _pick(rng: np.random.Generator, mix, size=None):
    names = [m[0] for m in mix]
    p = np.array([m[1] for m in mix], dtype=float)
    return rng.choice(names, size=size, p=p / p.sum())


#: Partners generated at a time: each group's rows (its shipments above all) are written before
#: the next group is drawn, so memory does not grow with the size of the sample. A sample of
#: at most this many partners is drawn in one group.
PARTNERS_PER_GROUP = 500


def build_sample(spec: SampleSpec,
                 criteria_for: Callable[[list[str]], list[str]] | None = None,
                 progress: bool = False) -> dict[str, pd.DataFrame]:
    """The sample source as DataFrames (one per table), not yet written (the whole sample in
    memory: for a large sample use :func:`write_sample`, which writes it group by group)."""
    groups = list(sample_groups(spec, criteria_for, progress))
    return {name: pd.concat([g[name] for g in groups], ignore_index=True)
            for name in groups[0]}


def sample_groups(spec: SampleSpec,
                  criteria_for: Callable[[list[str]], list[str]] | None = None,
                  progress: bool = False) -> Iterator[dict[str, pd.DataFrame]]:
    """The sample, :data:`PARTNERS_PER_GROUP` partners at a time: one DataFrame per table for
    each group of partners (their shipments sorted by account and date within the group).
    One random stream runs through every group, so the data depend only on ``spec``."""
    criteria_for = criteria_for or _criteria_default
    rng = np.random.default_rng(spec.seed)
    n = spec.partners
    # account ids: 7 digits as text, many with leading zeros
    ids = [f"{x:07d}" for x in rng.choice(2_000_000, size=n, replace=False)]
    crit_cache: dict[tuple[str, ...], list[str]] = {}
    bar = tqdm(total=n, desc="partners", disable=not progress)
    first_entry = 0
    for start in range(0, n, PARTNERS_PER_GROUP):
        group = ids[start:start + PARTNERS_PER_GROUP]
        frames = _partner_group(rng, spec, group, start, criteria_for, crit_cache)
        frames["shipments"] = _shipments(rng, spec, frames["partners"], frames["entities"],
                                         first_entry)
        first_entry += len(frames["shipments"])
        bar.update(len(group))
        yield frames
    bar.close()


def _partner_group(rng: np.random.Generator, spec: SampleSpec, ids: list[str], offset: int,
                   criteria_for: Callable[[list[str]], list[str]],
                   crit_cache: dict[tuple[str, ...], list[str]]) -> dict[str, pd.DataFrame]:
    """Every table but shipments for the partners ``ids`` (``offset``: the index of the first
    of them in the whole sample)."""
    as_of = pd.Timestamp(spec.as_of)
    partners, entities, facilities, contacts, responses, outreach = [], [], [], [], [], []
    for i, acc in enumerate(ids, start=offset):
        primary = str(_pick(rng, ENTITY_MIX))
        types = [primary]
        if primary in EXPANSIONS and rng.random() < 0.12:
            types.append(str(rng.choice(EXPANSIONS[primary])))
        for t in types:
            entities.append((acc, t))

        # location and name
        home: tuple[tuple[str, str, str], ...]
        if primary in ("foreign_manufacturer", "mexican_long_haul_carrier"):
            home = MEXICO if primary == "mexican_long_haul_carrier" or rng.random() < 0.75 else CANADA
        elif primary == "highway_carrier":
            home = (USA, MEXICO, CANADA)[int(rng.choice(3, p=[.5, .35, .15]))]
        else:
            home = USA
        country = home[0][0]
        suffix = _SUFFIX.get(country, _SUFFIX["ASIA"])
        name = f"{rng.choice(_WORDS_A)} {rng.choice(_WORDS_B)} {rng.choice(suffix)}"
        if rng.random() < 0.15:
            name = f"{home[int(rng.integers(len(home)))][2]} {name}"

        status = str(_pick(rng, STATUS_MIX))
        cert = as_of - pd.Timedelta(days=int(rng.integers(120, 365 * 12)))
        anniversary = pd.Timestamp(anniversary_in(as_of.year, cert.date()))
        if anniversary > as_of + pd.Timedelta(days=270):
            anniversary = pd.Timestamp(anniversary_in(as_of.year - 1, cert.date()))
        if anniversary < as_of - pd.Timedelta(days=95):
            anniversary = pd.Timestamp(anniversary_in(as_of.year + 1, cert.date()))
        last_val = last_type = None
        if status in ("validated", "suspended", "removed") or (status == "certified" and rng.random() < .3):
            years_since = rng.uniform(0.2, 5.5)
            lv = max(cert + pd.Timedelta(days=200), as_of - pd.Timedelta(days=int(years_since * 365)))
            last_val = lv.date()
            last_type = "virtual" if rng.random() < (0.64 if lv.year >= 2021 else 0.15) else "in_person"
        # annual review: most submitted inside the window before the anniversary; some overdue
        window_open = anniversary - pd.Timedelta(days=90)
        review = None
        if status != "applicant":
            r = rng.random()
            overdue_share = 0.35 if status in ("suspended", "removed") else 0.10
            prev_anniv = pd.Timestamp(anniversary_in(anniversary.year - 1, cert.date()))
            if anniversary <= as_of:  # this year's review was due already
                review = (anniversary - pd.Timedelta(days=int(rng.integers(1, 90)))) if r > overdue_share \
                    else prev_anniv - pd.Timedelta(days=int(rng.integers(1, 90)))
            elif window_open <= as_of:  # window open now
                days_open = max(1, (as_of - window_open).days + 1)
                review = (as_of - pd.Timedelta(days=int(rng.integers(0, days_open)))) \
                    if r < 0.4 else prev_anniv - pd.Timedelta(days=int(rng.integers(1, 90)))
            else:
                review = prev_anniv - pd.Timedelta(days=int(rng.integers(1, 90))) if r > overdue_share \
                    else pd.Timestamp(anniversary_in(prev_anniv.year - 1, cert.date()))
        partners.append((acc, name, status, None if status == "applicant" else cert.date(),
                         last_val, last_type, anniversary.date(), None if review is None else review.date()))

        # facilities: 1-4; manufacturers and carriers in Mexico/Canada, importers also source in Asia
        nfac = int(rng.integers(1, 5))
        for f in range(nfac):
            pool = home if f == 0 else (ASIA if primary == "importer" and rng.random() < .5 else
                                        MEXICO if rng.random() < .5 else home)
            c, st, city = pool[int(rng.integers(len(pool)))]
            kind = ("office" if f == 0 and primary in ("importer", "customs_broker", "consolidator") else
                    str(rng.choice(["plant", "warehouse", "distribution_center", "yard", "terminal"])))
            facilities.append((acc, f"F{f + 1:02d}", f"{city} {kind.replace('_', ' ')}", kind, c, st, city))

        # contacts: 2-4; most accounts have a Company Officer (primary contact)
        ncon = int(rng.integers(2, 5))
        has_officer = rng.random() < 0.9
        for k in range(ncon):
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            role = "Company Officer" if (k == 0 and has_officer) else str(
                rng.choice(["Admin", "User", "Consultant"], p=[.45, .4, .15]))
            domain = name.split()[0].lower().replace(",", "") + f"{i}.example.com"
            contacts.append((acc, f"{first} {last}", f"{first.lower()}.{last.lower()}{k}@{domain}",
                             role, k == 0))

        # security profile: two years; some blank, short, unchanged answers
        key = tuple(sorted(types))
        if key not in crit_cache:
            crit_cache[key] = criteria_for(list(key))
        crits = crit_cache[key]
        y1, y0 = as_of.year, as_of.year - 1
        m = len(crits)
        r0, r1, r2, r3, r4 = rng.random((5, m))
        k0, k1 = rng.integers(len(_PHRASES), size=(2, m))
        k2 = rng.integers(len(_SHORT), size=m)
        for j, cid in enumerate(crits):
            prev = _PHRASES[k0[j]].format(id=cid) if r0[j] > 0.05 else ""
            responses.append((acc, y0, cid, prev, bool(prev) and r3[j] > .1))
            if r1[j] < 0.05 and status != "applicant":
                cur = ""  # blank
            elif r1[j] < 0.10:
                cur = _SHORT[k2[j]]  # too short to be an answer
            elif r1[j] < 0.55 and prev:
                cur = prev  # unchanged since last year
            else:
                cur = _PHRASES[k1[j]].format(id=cid) + (_UPDATE if r2[j] < .5 else "")
            responses.append((acc, y1, cid, cur, bool(cur) and r4[j] > .08))

        # outreach: for partners whose review is late, and for suspended/removed
        late = annual_review(anniversary.date(), None if review is None else review.date(),
                             as_of.date(), status).overdue
        if status in ("suspended", "removed") or (late and status != "applicant"):
            for _ in range(int(rng.integers(1, 6))):
                outreach.append((acc, (as_of - pd.Timedelta(days=int(rng.integers(1, 300)))).date(),
                                 str(rng.choice(["email", "phone", "letter", "linkedin", "portal_message"],
                                                p=[.5, .25, .1, .05, .1])),
                                 str(rng.choice(["no_response", "responded", "bounced"], p=[.65, .25, .1])),
                                 "Reminder about the annual security profile review"))

    frames = {
        "partners": pd.DataFrame(partners, columns=["account_id", "legal_name", "status",
                                                    "certification_date", "last_validation_date",
                                                    "last_validation_type", "profile_anniversary",
                                                    "last_profile_review_date"]),
        "entities": pd.DataFrame(entities, columns=["account_id", "entity_type"]),
        "facilities": pd.DataFrame(facilities, columns=["account_id", "facility_id", "name", "kind",
                                                        "country", "state_province", "city"]),
        "contacts": pd.DataFrame(contacts, columns=["account_id", "name", "email", "role", "is_primary"]),
        "profile_responses": pd.DataFrame(responses, columns=["account_id", "profile_year", "criterion_id",
                                                              "response_text", "implemented"]),
        "outreach": pd.DataFrame(outreach, columns=["account_id", "contacted_on", "channel",
                                                    "outcome", "note"])
        .drop_duplicates(["account_id", "contacted_on", "channel"]),
    }
    return frames


def _shipments(rng: np.random.Generator, spec: SampleSpec, partners: pd.DataFrame,
               entities: pd.DataFrame, first_entry: int = 0) -> pd.DataFrame:
    """Entries of ``partners`` over ``spec.months`` months, vectorised (millions of rows in
    seconds); entry numbers count on from ``first_entry``."""
    primary = entities.drop_duplicates("account_id").set_index("account_id")["entity_type"]
    active = partners[partners["status"] != "applicant"]["account_id"].to_numpy()
    counts = np.maximum(1, rng.lognormal(np.log(spec.shipments_per_partner) - 0.5, 1.0, size=len(active)))
    # the total is partners x mean (applicants ship nothing, so the others carry their share)
    target = round(spec.shipments_per_partner * len(partners))
    counts = np.floor(counts * target / counts.sum()).astype(np.int64)
    counts[: target - int(counts.sum())] += 1
    total = int(counts.sum())
    acc_idx = np.repeat(np.arange(len(active)), counts)

    port_codes = np.array([p[0] for p in PORTS])
    mode_of = {"foreign_manufacturer": "truck", "highway_carrier": "truck",
               "mexican_long_haul_carrier": "truck", "rail_carrier": "rail", "sea_carrier": "sea",
               "air_carrier": "air", "consolidator": "air", "marine_port_terminal_operator": "sea"}
    modes = np.array(["truck", "sea", "air", "rail"])
    # each partner: a main mode and 1-4 ports of that mode, with its own port weights
    p_mode = np.empty(len(active), dtype=object)
    port_choice = np.empty(total, dtype=np.int64)
    mode_choice = np.empty(total, dtype=object)
    start = 0
    for j, acc in enumerate(active):
        et = primary.get(acc, "importer")
        main = mode_of.get(et) or str(rng.choice(modes, p=[.35, .45, .15, .05]))
        p_mode[j] = main
        cand = [k for k, p in enumerate(PORTS) if main in p[2]]
        w = np.array([PORTS[k][3] for k in cand])
        chosen = rng.choice(cand, size=min(len(cand), int(rng.integers(1, 5))), replace=False,
                            p=w / w.sum())
        cw = rng.dirichlet(np.ones(len(chosen)) * 2)
        m = counts[j]
        port_choice[start:start + m] = rng.choice(chosen, size=m, p=cw)
        mode_choice[start:start + m] = main
        start += m
    # rail at truck ports for part of the traffic
    rail_ok = np.isin(port_codes[port_choice], ["2304", "2402", "3801"])
    flip = rail_ok & (mode_choice == "truck") & (rng.random(total) < 0.08)
    mode_choice[flip] = "rail"

    partner_factor = rng.lognormal(0, 0.5, size=len(active))[acc_idx]
    port_factor = np.array([p[4] for p in PORTS])[port_choice]
    base = np.vectorize(BASE_EXAM_RATE.get, otypes=[float])(mode_choice)
    examined = rng.random(total) < np.clip(base * partner_factor * port_factor, 0, 0.9)

    exam_type = np.full(total, None, dtype=object)
    for mode, mix in EXAM_TYPE_MIX.items():
        sel = examined & (mode_choice == mode)
        exam_type[sel] = _pick(rng, mix, size=int(sel.sum()))
    exam_result = np.full(total, None, dtype=object)
    exam_result[examined] = "cleared"
    disc = examined & (rng.random(total) < DISCREPANCY_SHARE)
    exam_result[disc] = _pick(rng, DISCREPANCIES, size=int(disc.sum()))

    end = pd.Timestamp(spec.as_of)
    span = (end - (end - pd.DateOffset(months=spec.months))).days
    dates = end - pd.to_timedelta(rng.integers(1, span + 1, size=total), unit="D")
    filers = np.array(["A7K", "B2M", "C9T", "D4R", "E1W", "F6P"])
    entry_id = pd.Series(filers[acc_idx % len(filers)]).str.cat(
        pd.Series(np.arange(total) + first_entry + 1_000_000).astype(str).str.zfill(8), sep="-")
    frame = pd.DataFrame({
        "account_id": pd.Series(active[acc_idx], dtype="string"),
        "entry_id": entry_id.astype("string"),
        "entry_date": pd.Series(dates).astype("datetime64[s]"),
        "port_code": pd.Series(port_codes[port_choice], dtype="string"),
        "mode": pd.Series(mode_choice.astype(str), dtype="string"),
        "examined": examined,
        "exam_type": pd.Series(exam_type, dtype="string"),
        "exam_result": pd.Series(exam_result, dtype="string"),
    })
    return frame.sort_values(["account_id", "entry_date"], kind="stable", ignore_index=True)


def write_sample(out: str | Path, partners: int = 200, seed: int = 7,
                 as_of: dt.date | None = None, shipments_per_partner: float = 250.0,
                 progress: bool = False,
                 criteria_for: Callable[[list[str]], list[str]] | None = None) -> Path:
    """Write the sample source folder: CSV and Parquet files, and outreach as a workbook.

    Written group by group (:func:`sample_groups`): memory stays bounded however many
    shipments are asked for (40 million take a few minutes)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from openpyxl import Workbook

    from ctpat_audit.core import xlsx as excel

    spec = SampleSpec(partners=partners, seed=seed, as_of=as_of or SampleSpec.as_of,
                      shipments_per_partner=shipments_per_partner)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    writers: dict[str, pq.ParquetWriter] = {}
    row_groups = {"profile_responses": None, "shipments": 262_144}
    outreach = []
    try:
        for g, frames in enumerate(sample_groups(spec, criteria_for, progress)):
            for name in ("partners", "entities", "facilities", "contacts"):
                frames[name].to_csv(out / f"{name}.csv", index=False, date_format="%Y-%m-%d",
                                    mode="w" if g == 0 else "a", header=g == 0)
            for name, rows in row_groups.items():
                table = pa.Table.from_pandas(frames[name], preserve_index=False)
                if name not in writers:
                    writers[name] = pq.ParquetWriter(out / f"{name}.parquet", table.schema)
                writers[name].write_table(table.cast(writers[name].schema), row_group_size=rows)
            outreach.append(frames["outreach"])
    finally:
        for w in writers.values():
            w.close()
    wb = Workbook()
    ws = excel.first_sheet(wb)
    ws.title = "outreach"
    excel.write_table(ws, pd.concat(outreach, ignore_index=True))
    excel.save(wb, out / "outreach.xlsx")
    return out
