#!/usr/bin/env python3
"""An independent DuckDB SQL version of koppel's link stage (outflow cohort).

The peer for `make bench-link-peer`: the same job as `koppel run --from link
--until link` on the same pseudonymised ingest output, written from the
definitions in the README (assistance episodes with the gap rule, the outflow
cohort, states at every horizon, the job with most hours, re-entry, durable
outflow, trajectory exposure, dimensions and bands), so that a difference in
the analysis files points at a defect in one of the two.

    link_peer.py run INGEST_DIR OUT.parquet --year 2022 [--threads 2]
    link_peer.py compare A.parquet B.parquet
    link_peer.py ratio FIGURES.jsonl [LINK_MANIFEST.json]

`run` reads INGEST_DIR/{persons,benefits,employment,trajectories}/*.parquet
and the bands from config/bands.toml. `compare` checks that two analysis
files hold the same rows (any order) and names the columns that differ.
Needs the `duckdb` Python package (the Makefile installs it in bench/.venv).
"""
import argparse
import sys
import tomllib
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
OPEN = "DATE '9999-12-31'"


def band_sql(value, bands):
    """CASE expression: the label of the band holding `value` (null → unknown)."""
    parts = [f"WHEN ({value}) IS NULL THEN 'unknown'"]
    for b in bands[:-1]:
        parts.append(f"WHEN CAST({value} AS DOUBLE) < {float(b['to'])} THEN '{b['label']}'")
    return f"(CASE {' '.join(parts)} ELSE '{bands[-1]['label']}' END)"


def analysis_sql(ingest, year, horizons, reentry, gap, lookback, assist_types, bands):
    def src(kind):
        return f"read_parquet('{ingest}/{kind}/*.parquet')"

    types = ", ".join(f"'{t}'" for t in assist_types)
    a, b = f"DATE '{year}-01-01'", f"DATE '{year}-12-31'"
    ks = sorted(set(horizons) | {12})
    valid = "pseudonym IS NOT NULL AND start_date IS NOT NULL AND (end_date IS NULL OR end_date >= start_date)"
    horizon_rows = " UNION ALL ".join(
        f"SELECT pseudonym, {k} AS k, CAST(R + INTERVAL {k} MONTH AS DATE) AS H, death, emigration FROM base"
        for k in ks
    )
    wide = []
    for k in horizons:
        wide.append(
            f"""max(CASE WHEN k = {k} THEN state END) AS state_{k}m,
            max(CASE WHEN k = {k} THEN sector END) AS sector_{k}m,
            max(CASE WHEN k = {k} THEN contract END) AS contract_{k}m,
            max(CASE WHEN k = {k} THEN hours_band END) AS hours_band_{k}m,
            max(CASE WHEN k = {k} THEN wage END) AS wage_{k}m,
            max(CASE WHEN k = {k} THEN wage_band END) AS wage_band_{k}m"""
        )
    per_k = []
    for k in horizons:
        per_k.append(f"s.state_{k}m, s.sector_{k}m, s.contract_{k}m, s.hours_band_{k}m, s.wage_{k}m, s.wage_band_{k}m")
    return f"""
WITH spells AS (
    SELECT pseudonym, benefit_type, start_date AS s, coalesce(end_date, {OPEN}) AS e, municipality
    FROM {src('benefits')} WHERE {valid}
), assist AS (
    SELECT pseudonym, s, e, municipality FROM spells WHERE benefit_type IN ({types})
), ordered AS (
    SELECT pseudonym, s, e, max(e) OVER (PARTITION BY pseudonym ORDER BY s, e
        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_e
    FROM assist
), numbered AS (
    SELECT pseudonym, s, e, sum(CASE WHEN prev_e IS NULL OR s - prev_e - 1 > {gap} THEN 1 ELSE 0 END)
        OVER (PARTITION BY pseudonym ORDER BY s, e ROWS UNBOUNDED PRECEDING) AS ep
    FROM ordered
), episodes AS (
    SELECT pseudonym, min(s) AS ep_s, max(e) AS ep_e FROM numbered GROUP BY pseudonym, ep
), cohort AS (
    SELECT pseudonym, arg_min(ep_s, ep_e) AS ep_s, min(ep_e) AS ep_e
    FROM episodes WHERE ep_e BETWEEN {a} AND {b} GROUP BY pseudonym
), my_assist AS (
    SELECT a.* FROM assist a SEMI JOIN cohort c USING (pseudonym)
), my_ww AS (
    SELECT w.pseudonym, w.s, w.e FROM spells w SEMI JOIN cohort c USING (pseudonym) WHERE w.benefit_type = 'ww'
), persons AS (
    SELECT * FROM (
        SELECT pseudonym, birth_date AS birth, sex, household_type, origin, education_level,
            municipality AS person_municipality, death_date AS death, emigration_date AS emigration,
            row_number() OVER (PARTITION BY pseudonym ORDER BY birth_date NULLS LAST, sex NULLS LAST,
                household_type NULLS LAST, origin NULLS LAST, education_level NULLS LAST,
                municipality NULLS LAST, death_date NULLS LAST, emigration_date NULLS LAST) AS rn
        FROM {src('persons')} SEMI JOIN cohort USING (pseudonym)
    ) WHERE rn = 1
), spell_muni AS (
    SELECT pseudonym, municipality AS spell_municipality FROM (
        SELECT a.pseudonym, a.municipality, row_number() OVER (PARTITION BY a.pseudonym
            ORDER BY a.s DESC, a.e DESC, a.municipality NULLS LAST) AS rn
        FROM my_assist a JOIN cohort c USING (pseudonym) WHERE a.s >= c.ep_s AND a.s <= c.ep_e
    ) WHERE rn = 1
), base AS (
    SELECT c.pseudonym, CAST(c.ep_e + 1 AS DATE) AS R, c.ep_s, p.* EXCLUDE (pseudonym, rn),
        coalesce(m.spell_municipality, p.person_municipality, 'unknown') AS municipality
    FROM cohort c JOIN persons p USING (pseudonym) LEFT JOIN spell_muni m USING (pseudonym)
), points AS ({horizon_rows}
), jobs AS (
    SELECT pseudonym, job_id, start_date AS s, coalesce(end_date, {OPEN}) AS e, contract,
        CAST(hours_per_week AS DOUBLE) AS hours, CAST(monthly_wage AS DOUBLE) AS wage, sector
    FROM {src('employment')} SEMI JOIN cohort USING (pseudonym) WHERE {valid}
), job_at AS (
    SELECT * FROM (
        SELECT p.pseudonym, p.k, j.sector, j.contract, j.hours, j.wage,
            row_number() OVER (PARTITION BY p.pseudonym, p.k ORDER BY j.hours DESC NULLS LAST,
                j.wage DESC NULLS LAST, j.job_id NULLS LAST, j.s, j.e, j.sector NULLS LAST,
                j.contract NULLS LAST) AS rn
        FROM points p JOIN jobs j ON j.pseudonym = p.pseudonym AND j.s <= p.H AND j.e >= p.H
    ) WHERE rn = 1
), flags AS (
    SELECT p.*,
        coalesce(p.death < p.H, false) OR coalesce(p.emigration < p.H, false) AS gone,
        EXISTS (SELECT 1 FROM my_assist a WHERE a.pseudonym = p.pseudonym AND a.s <= p.H AND a.e >= p.H) AS on_a,
        EXISTS (SELECT 1 FROM my_ww w WHERE w.pseudonym = p.pseudonym AND w.s <= p.H AND w.e >= p.H) AS on_ww,
        j.pseudonym IS NOT NULL AS on_w, j.sector, j.contract, j.hours, j.wage
    FROM points p LEFT JOIN job_at j USING (pseudonym, k)
), states AS (
    SELECT pseudonym, k,
        CASE WHEN gone THEN 'overig' WHEN on_a AND on_w THEN 'bijstand_met_werk' WHEN on_a THEN 'bijstand'
            WHEN on_w THEN 'werk' WHEN on_ww THEN 'ww' ELSE 'overig' END AS state,
        on_w AND NOT gone AS working,
        CASE WHEN on_w AND NOT gone THEN coalesce(sector, 'unknown') ELSE 'none' END AS sector,
        CASE WHEN on_w AND NOT gone THEN coalesce(contract, 'unknown') ELSE 'none' END AS contract,
        CASE WHEN on_w AND NOT gone THEN {band_sql('hours', bands['hours'])} ELSE 'none' END AS hours_band,
        CASE WHEN on_w AND NOT gone THEN wage END AS wage,
        CASE WHEN on_w AND NOT gone THEN {band_sql('wage', bands['wage'])} ELSE 'none' END AS wage_band
    FROM flags
), wide AS (
    SELECT pseudonym, {', '.join(wide)}, bool_or(k = 12 AND working) AS work_12
    FROM states GROUP BY pseudonym
), reentry AS (
    SELECT DISTINCT n.pseudonym FROM episodes n JOIN base b USING (pseudonym)
    WHERE n.ep_s > b.R AND n.ep_s <= CAST(b.R + INTERVAL {reentry} MONTH AS DATE)
), assisted AS (
    SELECT DISTINCT a.pseudonym FROM my_assist a JOIN base b USING (pseudonym)
    WHERE a.s <= CAST(b.R + INTERVAL 12 MONTH AS DATE) AND a.e >= b.R
), exposed AS (
    SELECT t.pseudonym, start_date AS s, coalesce(end_date, {OPEN}) AS e,
        coalesce(instrument, 'unknown') AS instrument, segment
    FROM {src('trajectories')} t JOIN base b USING (pseudonym)
    WHERE {valid.replace('pseudonym', 't.pseudonym', 1)} AND start_date < b.R
        AND coalesce(end_date, {OPEN}) >= CAST(b.R - INTERVAL {lookback} MONTH AS DATE)
), last AS (
    SELECT pseudonym, instrument AS trajectory_last, segment FROM (
        SELECT *, row_number() OVER (PARTITION BY pseudonym ORDER BY s DESC, e DESC,
            instrument NULLS LAST, segment NULLS LAST) AS rn FROM exposed
    ) WHERE rn = 1
), mix AS (
    SELECT pseudonym, CASE WHEN count(DISTINCT instrument) > 1 THEN 'multiple' ELSE min(instrument) END
        AS trajectory_mix FROM exposed GROUP BY pseudonym
)
SELECT b.pseudonym, b.R AS reference_date, b.municipality,
    coalesce(b.sex, 'unknown') AS sex,
    {band_sql(f"CASE WHEN b.birth IS NULL OR b.birth > b.R THEN NULL ELSE cmonths(b.birth, b.R) / 12.0 END", bands['age'])} AS age_band,
    coalesce(b.household_type, 'unknown') AS household_type,
    coalesce(b.origin, 'unknown') AS origin,
    coalesce(b.education_level, 'unknown') AS education_level,
    {band_sql('cmonths(b.ep_s, b.R)', bands['duration'])} AS duration_band,
    coalesce(l.segment, 'unknown') AS segment,
    coalesce(l.trajectory_last, 'none') AS trajectory_last,
    coalesce(x.trajectory_mix, 'none') AS trajectory_mix,
    {', '.join(per_k)},
    r.pseudonym IS NOT NULL AS reentry_{reentry}m,
    u.pseudonym IS NULL AS durable_outflow,
    u.pseudonym IS NULL AND coalesce(s.work_12, false) AS durable_outflow_work
FROM base b
LEFT JOIN wide s USING (pseudonym)
LEFT JOIN reentry r USING (pseudonym)
LEFT JOIN assisted u USING (pseudonym)
LEFT JOIN last l USING (pseudonym)
LEFT JOIN mix x USING (pseudonym)
ORDER BY b.pseudonym
"""


# Completed calendar months from f to t: the largest m with f + m months <= t
# (day clamped to the month's end).
CMONTHS = """CREATE OR REPLACE MACRO cmonths(f, t) AS
    (year(t) * 12 + month(t)) - (year(f) * 12 + month(f))
    - CASE WHEN least(day(f), day(last_day(t))) > day(t) THEN 1 ELSE 0 END"""


def run(args):
    bands = tomllib.loads((ROOT / "config" / "bands.toml").read_text())
    con = duckdb.connect()
    con.execute(f"SET threads = {args.threads}")
    con.execute("SET preserve_insertion_order = false")
    con.execute(CMONTHS)
    sql = analysis_sql(
        Path(args.ingest).resolve(), args.year, args.horizons, args.reentry, args.gap,
        args.lookback, args.assistance_types, bands,
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"COPY ({sql}) TO '{args.out}' (FORMAT parquet)")
    n = con.execute(f"SELECT count(*) FROM read_parquet('{args.out}')").fetchone()[0]
    print(f"duckdb: {n} cohort persons written to {args.out}")


def compare(args):
    con = duckdb.connect()
    a, b = f"read_parquet('{args.a}')", f"read_parquet('{args.b}')"
    cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {a}").fetchall()]
    cols_b = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {b}").fetchall()]
    if cols != cols_b:
        sys.exit(f"compare: the columns differ:\n  {cols}\n  {cols_b}")
    na = con.execute(f"SELECT count(*) FROM {a}").fetchone()[0]
    nb = con.execute(f"SELECT count(*) FROM {b}").fetchone()[0]
    only_a = con.execute(f"SELECT count(*) FROM (SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b})").fetchone()[0]
    only_b = con.execute(f"SELECT count(*) FROM (SELECT * FROM {b} EXCEPT ALL SELECT * FROM {a})").fetchone()[0]
    if only_a == 0 and only_b == 0 and na == nb:
        print(f"compare: identical analysis files ({na} persons, {len(cols)} columns)")
        return
    differing = []
    for c in cols[1:]:
        n = con.execute(
            f"SELECT count(*) FROM {a} x JOIN {b} y USING (pseudonym) WHERE x.{c} IS DISTINCT FROM y.{c}"
        ).fetchone()[0]
        if n:
            differing.append(f"{c} ({n} persons)")
    missing = con.execute(f"SELECT count(*) FROM {a} ANTI JOIN {b} USING (pseudonym)").fetchone()[0]
    extra = con.execute(f"SELECT count(*) FROM {b} ANTI JOIN {a} USING (pseudonym)").fetchone()[0]
    sys.exit(
        f"compare: the analysis files differ: {na} vs {nb} persons, {missing} only in the first, "
        f"{extra} only in the second; differing columns: {', '.join(differing) or 'none'}"
    )


def ratio(args):
    import json
    figures = {}
    for line in Path(args.figures).read_text().splitlines():
        row = json.loads(line)
        figures[row["label"]] = row
    k, d = figures["koppel link"], figures["duckdb link"]
    load = ", ".join(f"{x:.2f}" for x in k["loadavg"])
    print(f"koppel link: {k['seconds']:.2f} s wall, peak RSS {k['peak_mib']:.0f} MiB (load average {load})")
    load = ", ".join(f"{x:.2f}" for x in d["loadavg"])
    print(f"duckdb link: {d['seconds']:.2f} s wall, peak RSS {d['peak_mib']:.0f} MiB (load average {load})")
    print(f"ratio koppel / duckdb: wall {k['seconds'] / d['seconds']:.2f}, peak RSS {k['peak_mib'] / d['peak_mib']:.2f}")
    if args.manifest:
        m = json.loads(Path(args.manifest).read_text())
        print(f"koppel link stage alone (its manifest): {m['duration_seconds']:.2f} s, "
              f"peak RSS {m['peak_rss_mib']} MiB; ratio to duckdb {m['duration_seconds'] / d['seconds']:.2f}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("ingest")
    r.add_argument("out")
    r.add_argument("--year", type=int, required=True)
    r.add_argument("--horizons", type=lambda s: [int(x) for x in s.split(",")], default=[3, 6, 12, 18])
    r.add_argument("--reentry", type=int, default=6)
    r.add_argument("--gap", type=int, default=31)
    r.add_argument("--lookback", type=int, default=24)
    r.add_argument("--assistance-types", type=lambda s: s.split(","), default=["bijstand", "ioaw", "ioaz"])
    r.add_argument("--threads", type=int, default=2)
    c = sub.add_parser("compare")
    c.add_argument("a")
    c.add_argument("b")
    f = sub.add_parser("ratio", help="print the figures measure.sh appended to a JSON-lines file")
    f.add_argument("figures")
    f.add_argument("manifest", nargs="?", help="the link stage's manifest.json (its own wall time)")
    args = p.parse_args()
    {"run": run, "compare": compare, "ratio": ratio}[args.command](args)


if __name__ == "__main__":
    main()
