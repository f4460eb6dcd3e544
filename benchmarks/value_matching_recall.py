"""Value matching and schema filtering on Spider dev: what the prompt shows, and what it costs.

    python benchmarks/value_matching_recall.py [--spider-dir ../shared/data/spider]
        [--style create_table] [--max-tables 6]

For every dev question whose database is present, the prompt each option gives (PromptBuilder,
the packaged SmolLM2 tokenizer and chat template), against today's prompt in the same run:
- gold literals shown: the share of the gold SQL's string literals (compared with =, != or IN;
  LIKE patterns and number- or date-like strings are left out and counted) that appear verbatim
  among the values the prompt shows: the fixed sample values of every column (today, with
  values_per_column=3 as in configs/spider.py), or the values matched to the question. "in db":
  the same share among the literals the database holds at all (the others, like 'USA' for a
  column of 'United States', no retrieval can show);
- values shown: mean values per prompt, and the share of them that are a gold literal;
- gold tables / columns kept: questions whose every gold table (every gold column) is in the
  prompt (100% without filtering); FK paths kept: questions whose kept tables stay joined as in
  the full schema;
- prompt tokens: the mean, and the mean after the prefix all prompts on the same database share
  (what the sampler prefills per question; the shared part is prefilled once per database).
Then the index: build time from the database files and from the cache, size, and lookups/s.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import platform
import statistics
import sys
import tempfile
import time

import sqlglot
from sqlglot import exp

from spft_jax.data.prompts import PromptBuilder, PromptConfig, SchemaFilterConfig, ValueMatchingConfig
from spft_jax.data.schema_filter import filter_schema
from spft_jax.data.text_match import is_text_value
from spft_jax.data.value_index import ValueIndex, load_column_values, read_column_values
from spft_jax.sql.dataset import load_dataset
from spft_jax.sql.fk_graph import ForeignKeyGraph
from spft_jax.sql.sandbox import ExecutionLimits, SandboxConnection
from spft_jax.sql.schema import Schema
from spft_jax.sql.schema_text import sample_values

REPO = pathlib.Path(__file__).resolve().parents[1]
SAMPLES = 3  # configs/spider.py's values_per_column


def gold_parts(sql: str, schema: Schema) -> tuple[list[str], int, int, set[str], set[str]]:
    """(compared string literals, LIKE patterns, number-like literals, tables, columns)."""
    # MySQL's dialect reads Spider's double-quoted strings as strings, not names.
    tree = sqlglot.parse_one(sql, read="mysql")
    literals, likes, numbers = [], 0, 0
    for literal in tree.find_all(exp.Literal):
        if not literal.is_string:
            continue
        if isinstance(literal.parent, exp.Like):
            likes += 1
        elif not is_text_value(literal.this):
            numbers += 1
        else:
            literals.append(literal.this)
    names = {t.name.lower(): t.name for t in schema.tables}
    tables = {names[t.name.lower()] for t in tree.find_all(exp.Table) if t.name.lower() in names}
    known = {c.name.lower() for t in schema.tables if t.name in tables for c in t.columns}
    columns = {c.name.lower() for c in tree.find_all(exp.Column) if c.name.lower() in known}
    return literals, likes, numbers, tables, columns


def fk_paths_kept(full: Schema, kept: Schema) -> bool:
    whole, part = ForeignKeyGraph(full), ForeignKeyGraph(kept)
    names = [t.name for t in kept.tables]
    return all(b in part.distances([a]) for a in names for b in names if b in whole.distances([a]))


def common_prefix_length(sequences) -> int:
    length = 0
    while all(len(s) > length and s[length] == sequences[0][length] for s in sequences):
        length += 1
    return length


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spider-dir", default=str(REPO.parent / "shared" / "data" / "spider"))
    parser.add_argument("--style", default="create_table", choices=("create_table", "compact"))
    parser.add_argument("--max-tables", type=int, default=SchemaFilterConfig().max_tables)
    args = parser.parse_args()
    spider = pathlib.Path(args.spider_dir)
    if not (spider / "dev.json").is_file():
        sys.exit(f"Spider not found at {spider}")
    from spft_jax.models.loading import model_config_and_tokenizer

    tokenizer = model_config_and_tokenizer("smollm2-135m-instruct")[1]
    dev = load_dataset(spider / "dev.json", spider / "tables.json", spider / "database")
    examples = [e for e in dev.examples if e.db_id not in dev.missing_db_ids]
    db_ids = sorted({e.db_id for e in examples})
    max_values = ValueMatchingConfig().max_values_per_column

    # -- the index: build from the files, then from the cache, then lookups ---------------------
    scratch = tempfile.TemporaryDirectory(prefix="value_index_")  # removed at exit
    cache = pathlib.Path(scratch.name)
    start = time.perf_counter()
    columns = {db: read_column_values(dev.schemas[db], dev.db_path(db), max_values) for db in db_ids}
    scan_s = time.perf_counter() - start
    start = time.perf_counter()
    indexes = {db: ValueIndex(db, columns[db]) for db in db_ids}
    bm25_s = time.perf_counter() - start
    for db in db_ids:
        load_column_values(dev.schemas[db], dev.db_path(db), max_values, cache)  # writes the cache
    start = time.perf_counter()
    for db in db_ids:
        ValueIndex(db, load_column_values(dev.schemas[db], dev.db_path(db), max_values, cache))
    cached_s = time.perf_counter() - start
    start = time.perf_counter()
    for e in examples:
        indexes[e.db_id].match(e.question, ValueMatchingConfig().top_k)
    lookups_per_s = len(examples) / (time.perf_counter() - start)
    values_indexed = sum(len(i) for i in indexes.values())

    # -- gold parts and what each prompt shows ---------------------------------------------------
    gold = {e.index: gold_parts(e.query, dev.schemas[e.db_id]) for e in examples}
    in_db = {}
    for db in db_ids:
        everything = read_column_values(dev.schemas[db], dev.db_path(db), 10**7)
        in_db[db] = {v for _, _, values in everything for v in values}
    samples = {}  # what the schema text shows with values_per_column=SAMPLES, as it reads them
    for db in db_ids:
        conn = SandboxConnection(dev.db_path(db), ExecutionLimits(timeout_s=5.0, max_rows=1000))
        samples[db] = [v for t in dev.schemas[db].tables for c in t.columns
                       for v in sample_values(conn, t, c, SAMPLES)]
        conn.close()

    options = [  # (label, sample values per column, value matching, schema filter)
        (f"full schema, {SAMPLES} sample values/column (configs/spider.py today)", SAMPLES, False,
         False),
        ("full schema, no sample values (configs/demo.py today)", 0, False, False),
        ("full schema + value matching", 0, True, False),
        (f"full schema, {SAMPLES} sample values + value matching", SAMPLES, True, False),
        (f"schema filter (max_tables={args.max_tables})", 0, False, True),
        (f"schema filter (max_tables={args.max_tables}) + value matching", 0, True, True),
    ]
    rows = []
    for label, per_column, matching, filtering in options:
        config = PromptConfig(schema_style=args.style, values_per_column=per_column,
                              value_matching=ValueMatchingConfig(enabled=matching,
                                                                 cache_dir=str(cache)),
                              schema_filter=SchemaFilterConfig(enabled=filtering,
                                                               max_tables=args.max_tables))
        builder = PromptBuilder(tokenizer, config)
        shown_hits = shown_total = literal_hits = literals = db_hits = db_literals = 0
        tables_kept = columns_kept = paths_kept = 0
        prompts: dict[str, list[list[int]]] = {}
        for e in examples:
            schema, db_path = dev.schemas[e.db_id], dev.db_path(e.db_id)
            matches = builder.matched_values(schema, db_path, e.question)
            shown = [v for m in matches for v in m.values] + (samples[e.db_id] if per_column else [])
            gold_literals, _, _, gold_tables, gold_columns = gold[e.index]
            shown_total += len(shown)
            shown_hits += sum(v in gold_literals for v in shown)
            literals += len(gold_literals)
            literal_hits += sum(v in shown for v in gold_literals)
            reachable = [v for v in gold_literals if v in in_db[e.db_id]]
            db_literals += len(reachable)
            db_hits += sum(v in shown for v in reachable)
            view = schema
            if filtering:
                matched = {(m.table.lower(), m.column.lower()) for m in matches}
                view = filter_schema(schema, e.question, args.max_tables,
                                     config.schema_filter.max_columns, matched)
            kept_tables = {t.name for t in view.tables}
            kept_columns = {c.name.lower() for t in view.tables if t.name in gold_tables
                            for c in t.columns}
            tables_kept += gold_tables <= kept_tables
            columns_kept += gold_tables <= kept_tables and gold_columns <= kept_columns
            paths_kept += fk_paths_kept(schema, view)
            prompts.setdefault(e.db_id, []).append(builder.text_to_sql(dev, e.db_id, e.question))
        lengths = [len(p) for group in prompts.values() for p in group]
        after_prefix = [len(p) - common_prefix_length(group) for group in prompts.values()
                        for p in group]
        n = len(examples)
        rows.append((label, literal_hits / literals, db_hits / max(db_literals, 1),
                     shown_total / n,
                     (shown_hits / shown_total) if shown_total else None,
                     tables_kept / n, columns_kept / n, paths_kept / n,
                     statistics.mean(lengths), statistics.mean(after_prefix)))
    likes = sum(g[1] for g in gold.values())
    numbers = sum(g[2] for g in gold.values())

    print(f"Spider dev: {len(examples)} questions on {len(db_ids)} databases "
          f"({len(dev.examples) - len(examples)} skipped, database missing); {literals} gold string "
          f"literals compared ({db_literals} of them in their database), {likes} LIKE patterns and "
          f"{numbers} number- or date-like strings not counted. Style {args.style}.")
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}\n")
    print("| prompt | gold literals shown | in db | values shown / prompt | shown that are gold | "
          "gold tables kept | gold columns kept | FK paths kept | prompt tokens | "
          "tokens after shared prefix |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (label, recall, recall_db, shown, precision, tables, cols, paths, tokens, after) in rows:
        precision_text = f"{precision:.1%}" if precision is not None else "-"
        print(f"| {label} | {recall:.1%} | {recall_db:.1%} | {shown:.1f} | {precision_text} | "
              f"{tables:.1%} | {cols:.1%} | {paths:.1%} | {tokens:.0f} | {after:.0f} |")
    print()
    print("| value index | |")
    print("|---|---:|")
    print(f"| values indexed ({len(db_ids)} databases, max {max_values}/column) | "
          f"{values_indexed:,} |")
    print(f"| build from the database files: scan + BM25 | {scan_s:.2f} s + {bm25_s:.2f} s |")
    print(f"| build from the cache (read + BM25) | {cached_s:.2f} s |")
    print(f"| lookups/s (one question, BM25 + fine match, one core) | {lookups_per_s:,.0f} |")


if __name__ == "__main__":
    main()
