"""tables.json loading, its errors, and the deterministic schema prompt."""

import json

import pytest

from spft_jax.errors import DataError, UnknownDatabaseError
from spft_jax.sql.identifiers import quote_identifier
from spft_jax.sql.schema import Schema, load_schemas, schema_for
from spft_jax.sql.schema_text import schema_prompt
from tests.sql.tiny_benchmark import SHOP_TABLES_ENTRY, make_shop_database


def shop_schema(**changes):
    return Schema.from_spider_entry(dict(SHOP_TABLES_ENTRY, **changes))


def test_schema_model_from_an_entry():
    schema = shop_schema()
    assert [t.name for t in schema.tables] == ["customer", "purchase", "numbers"]
    purchase = schema.table("PURCHASE")  # SQLite names are case-insensitive
    assert [c.name for c in purchase.columns] == ["purchase_id", "customer_id", "amount", "day"]
    assert purchase.primary_key == ("purchase_id",)
    assert purchase.column("day").type == "time"
    assert purchase.column("amount").nl_name == "amount"
    (fk,) = schema.foreign_keys_of("purchase")
    assert (fk.table, fk.column, fk.ref_table, fk.ref_column) == (
        "purchase", "customer_id", "customer", "customer_id"
    )
    assert schema.table("numbers").primary_key == ()


def test_composite_primary_key():
    schema = shop_schema(primary_keys=[1, [4, 5]])
    assert schema.table("purchase").primary_key == ("purchase_id", "customer_id")


def test_spider_tables_load(spider_dir):
    schemas = load_schemas(spider_dir / "tables.json")
    assert len(schemas) == 166
    concert = schemas["concert_singer"]
    assert concert.table("singer_in_concert").column("Singer_ID").type == "text"
    assert len(concert.foreign_keys) == 3


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"foreign_keys": [[5, 99]]}, "column index 99"),
        ({"foreign_keys": [[5]]}, "malformed foreign key"),
        ({"primary_keys": [0]}, "primary_keys refers to column index 0"),
        ({"column_types": ["text"] * 8 + ["varchar"]}, "type 'varchar'"),
        ({"column_types": ["text"]}, "differ in length"),
        ({"table_names": ["customer"]}, "table_names has 1 entries"),
        ({"column_names_original": SHOP_TABLES_ENTRY["column_names_original"][:-1] + [[7, "n"]]},
         "table index 7"),
    ],
)
def test_malformed_entries_name_the_problem(changes, message):
    with pytest.raises(DataError, match=message) as error:
        shop_schema(**changes)
    assert "'shop'" in str(error.value)


def test_missing_field_is_named():
    entry = dict(SHOP_TABLES_ENTRY)
    del entry["foreign_keys"]
    with pytest.raises(DataError, match="no field 'foreign_keys'"):
        Schema.from_spider_entry(entry)


def test_tables_file_errors(tmp_path):
    with pytest.raises(DataError, match="tables file not found"):
        load_schemas(tmp_path / "tables.json")
    broken = tmp_path / "broken.json"
    broken.write_text("[{")
    with pytest.raises(DataError, match="not valid JSON"):
        load_schemas(broken)
    not_a_list = tmp_path / "object.json"
    not_a_list.write_text(json.dumps({"db_id": "x"}))
    with pytest.raises(DataError, match="must hold a JSON list, got dict"):
        load_schemas(not_a_list)
    strings = tmp_path / "strings.json"
    strings.write_text(json.dumps(["shop"]))
    with pytest.raises(DataError, match="JSON list of objects"):
        load_schemas(strings)
    no_id = tmp_path / "no_id.json"
    no_id.write_text(json.dumps([{"table_names": []}]))
    with pytest.raises(DataError, match="an entry without db_id"):
        load_schemas(no_id)


def test_unknown_db_id():
    with pytest.raises(UnknownDatabaseError, match="'nope' is not described in tables.json"):
        schema_for({"shop": shop_schema()}, "nope")


def test_quote_identifier():
    assert quote_identifier("Singer_ID") == "Singer_ID"
    assert quote_identifier("From") == '"From"'  # an SQLite keyword
    assert quote_identifier("Home Town") == '"Home Town"'
    assert quote_identifier('a"b') == '"a""b"'


def test_schema_prompt_without_values():
    text = schema_prompt(shop_schema())
    assert text.startswith("CREATE TABLE customer (\n  customer_id number,\n  name text,")
    assert "  PRIMARY KEY (purchase_id),\n  FOREIGN KEY (customer_id) REFERENCES customer (customer_id)\n);" in text
    assert "CREATE TABLE numbers (\n  n number\n);" in text
    assert "e.g." not in text


def test_schema_prompt_with_sample_values(tmp_path):
    db = make_shop_database(tmp_path / "shop.sqlite")
    text = schema_prompt(shop_schema(), db, values_per_column=2)
    assert "  name text, -- e.g. 'Ada', 'Bo'\n" in text
    assert "  city text, -- e.g. 'Paris', 'Oslo'\n" in text  # distinct values
    assert "  n number -- e.g. 0, 1\n);" in text  # the last entry has no comma
    assert "  amount number, -- e.g. 10.0, 5.5\n" in text
    assert schema_prompt(shop_schema(), db, values_per_column=2) == text  # deterministic


def test_schema_prompt_on_every_spider_database(spider_dir, caplog):
    schemas = load_schemas(spider_dir / "tables.json")
    db_dir = spider_dir / "database"
    for db_id, schema in schemas.items():
        path = db_dir / db_id / f"{db_id}.sqlite"
        if path.is_file():
            text = schema_prompt(schema, path)
            assert text.count("CREATE TABLE") == len(schema.tables)
    assert "no sample values" not in caplog.text  # keyword names like "From" are quoted
    railway = schema_prompt(schemas["railway"], db_dir / "railway" / "railway.sqlite")
    assert '  "From" text, -- e.g. ' in railway
