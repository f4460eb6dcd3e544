"""Spider hardness: real Spider queries per level, the published quirks, the dev split, errors.

Counts in comments are (component1, component2, others), as in Spider's `eval_hardness`:
  component1 = WHERE + GROUP BY + ORDER BY + LIMIT + extra JOINed tables + ORs + LIKEs
  component2 = nested subqueries in conditions + INTERSECT/UNION/EXCEPT
  others     = [>1 "aggregate"] + [>1 SELECT column] + [>1 WHERE condition] + [>1 GROUP BY column]
"""

import collections
import json

import pytest

from spft_jax.errors import DataError
from spft_jax.sql.hardness import (
    HARDNESS_LEVELS,
    HardnessCounts,
    UnparseableSqlError,
    hardness_counts,
    sql_hardness,
)

# (sql, level, (component1, component2, others)) -- all verbatim from Spider dev/train.
REAL_QUERIES = [
    # ---- easy ----
    # (0, 0, 0): one aggregate, one column, nothing else.
    ("SELECT count(*) FROM singer", "easy", (0, 0, 0)),
    # (1, 0, 0): WHERE; BETWEEN's AND is not a condition connector.
    (
        "select distinct year from cars_data where weight between 3000 and 4000;",
        "easy",
        (1, 0, 0),
    ),
    # (1, 0, 0): GROUP BY; HAVING is not a component and its count(*) is not an "aggregate".
    (
        "SELECT document_id FROM Paragraphs GROUP BY document_id HAVING count(*) BETWEEN 1 AND 2",
        "easy",
        (1, 0, 0),
    ),
    # (0, 0, 0): a FROM-subquery is a table unit, not a nested query, so its INTERSECT, JOINs
    # and WHEREs count for nothing.
    (
        'SELECT COUNT(*) FROM (SELECT T1.Name FROM country AS T1 JOIN countrylanguage AS T2 ON '
        'T1.Code  =  T2.CountryCode WHERE T2.Language  =  "English" INTERSECT SELECT T1.Name FROM '
        "country AS T1 JOIN countrylanguage AS T2 ON T1.Code  =  T2.CountryCode WHERE T2.Language "
        ' =  "Dutch")',
        "easy",
        (0, 0, 0),
    ),
    # ---- medium ----
    # (0, 0, 2): two SELECT columns, two aggregates.
    ("SELECT max(killed) ,  min(killed) FROM death", "medium", (0, 0, 2)),
    # (2, 0, 1): WHERE + OR; two WHERE conditions.
    ("SELECT count(*) FROM concert WHERE YEAR  =  2014 OR YEAR  =  2015", "medium", (2, 0, 1)),
    # (2, 0, 0): WHERE + LIKE.
    ("SELECT note FROM death WHERE note LIKE '%East%'", "medium", (2, 0, 0)),
    # (2, 0, 1): ORDER BY + LIMIT; two SELECT columns.
    (
        "SELECT song_name ,  song_release_year FROM singer ORDER BY age LIMIT 1",
        "medium",
        (2, 0, 1),
    ),
    # (2, 0, 1): one JOIN + GROUP BY; two SELECT columns (HAVING count(*) adds nothing).
    (
        "SELECT T1.fname ,  T1.sex FROM student AS T1 JOIN has_pet AS T2 ON T1.stuid  =  T2.stuid "
        "GROUP BY T1.stuid HAVING count(*)  >  1",
        "medium",
        (2, 0, 1),
    ),
    # ---- hard ----
    # (1, 1, 0): WHERE; nested NOT IN subquery.
    (
        "SELECT name FROM stadium WHERE stadium_id NOT IN (SELECT stadium_id FROM concert)",
        "hard",
        (1, 1, 0),
    ),
    # (1, 1, 0): WHERE of the first SELECT; INTERSECT (the second SELECT is not graded).
    (
        "SELECT country FROM singer WHERE age  >  40 INTERSECT SELECT country FROM singer WHERE "
        "age  <  30",
        "hard",
        (1, 1, 0),
    ),
    # (0, 1, 0): EXCEPT; the JOIN and WHERE after it belong to the nested SELECT.
    (
        "SELECT name FROM stadium EXCEPT SELECT T2.name FROM concert AS T1 JOIN stadium AS T2 ON "
        "T1.stadium_id  =  T2.stadium_id WHERE T1.year  =  2014",
        "hard",
        (0, 1, 0),
    ),
    # (1, 1, 0): WHERE; one nested query, although it holds a UNION.
    (
        "SELECT AirportName FROM Airports WHERE AirportCode NOT IN (SELECT SourceAirport FROM "
        "Flights UNION SELECT DestAirport FROM Flights)",
        "hard",
        (1, 1, 0),
    ),
    # (3, 0, 0): two JOINs + WHERE.
    (
        "SELECT T2.name FROM singer_in_concert AS T1 JOIN singer AS T2 ON T1.singer_id  =  "
        "T2.singer_id JOIN concert AS T3 ON T1.concert_id  =  T3.concert_id WHERE T3.year  =  2014",
        "hard",
        (3, 0, 0),
    ),
    # (3, 0, 0): GROUP BY + ORDER BY + LIMIT; one aggregate (in ORDER BY).
    ("SELECT YEAR FROM concert GROUP BY YEAR ORDER BY count(*) DESC LIMIT 1", "hard", (3, 0, 0)),
    # (1, 0, 3): WHERE; two aggregates, two SELECT columns, two WHERE conditions.
    (
        'select sum(population) ,  avg(surfacearea) from country where continent  =  "north '
        'america" and surfacearea  >  3000',
        "hard",
        (1, 0, 3),
    ),
    # ---- extra ----
    # (1, 1, 1): WHERE; nested NOT IN; avg() plus the NOT counts as two "aggregates" (quirk).
    (
        "select avg(age) from student where stuid not in (select stuid from has_pet)",
        "extra",
        (1, 1, 1),
    ),
    # (5, 0, 1): JOIN + WHERE + GROUP BY + ORDER BY + LIMIT; two SELECT columns.
    (
        "SELECT T2.name ,  T2.capacity FROM concert AS T1 JOIN stadium AS T2 ON T1.stadium_id  =  "
        "T2.stadium_id WHERE T1.year  >=  2014 GROUP BY T2.stadium_id ORDER BY count(*) DESC "
        "LIMIT 1",
        "extra",
        (5, 0, 1),
    ),
    # (4, 0, 1): two JOINs + WHERE + OR; two WHERE conditions.
    (
        "SELECT DISTINCT T1.Fname FROM student AS T1 JOIN has_pet AS T2 ON T1.stuid  =  T2.stuid "
        "JOIN pets AS T3 ON T3.petid  =  T2.petid WHERE T3.pettype  =  'cat' OR T3.pettype  =  "
        "'dog'",
        "extra",
        (4, 0, 1),
    ),
    # (2, 1, 1): JOIN + WHERE; INTERSECT; two SELECT columns.
    (
        "SELECT T2.name ,  T2.location FROM concert AS T1 JOIN stadium AS T2 ON T1.stadium_id  =  "
        "T2.stadium_id WHERE T1.Year  =  2014 INTERSECT SELECT T2.name ,  T2.location FROM concert "
        "AS T1 JOIN stadium AS T2 ON T1.stadium_id  =  T2.stadium_id WHERE T1.Year  =  2015",
        "extra",
        (2, 1, 1),
    ),
    # (2, 1, 1): JOIN + GROUP BY (HAVING adds nothing); UNION; two SELECT columns.
    (
        "SELECT T1.countryId ,  T1.CountryName FROM Countries AS T1 JOIN CAR_MAKERS AS T2 ON "
        "T1.CountryId  =  T2.Country GROUP BY T1.countryId HAVING count(*)  >  3 UNION SELECT "
        "T1.countryId ,  T1.CountryName FROM Countries AS T1 JOIN CAR_MAKERS AS T2 ON T1.CountryId "
        " =  T2.Country JOIN MODEL_LIST AS T3 ON T2.Id  =  T3.Maker WHERE T3.Model  =  'fiat';",
        "extra",
        (2, 1, 1),
    ),
    # (4, 0, 3) (train): JOIN + GROUP BY + ORDER BY + LIMIT; two aggregates (SELECT and ORDER
    # BY count(*)), two SELECT columns, three GROUP BY columns.
    (
        "SELECT Employees.employee_name , count(*) FROM Employees JOIN Circulation_History ON "
        "Circulation_History.employee_id = Employees.employee_id GROUP BY "
        "Circulation_History.document_id , Circulation_History.draft_number , "
        "Circulation_History.copy_number ORDER BY count(*) DESC LIMIT 1;",
        "extra",
        (4, 0, 3),
    ),
]


@pytest.mark.parametrize(("sql", "level", "counts"), REAL_QUERIES)
def test_real_spider_queries(sql: str, level: str, counts: tuple[int, int, int]) -> None:
    assert hardness_counts(sql) == HardnessCounts(*counts)
    assert sql_hardness(sql) == level


def test_every_level_is_covered() -> None:
    assert {level for _, level, _ in REAL_QUERIES} == set(HARDNESS_LEVELS)
    assert HARDNESS_LEVELS == ("easy", "medium", "hard", "extra")


# ---- Spider's quirks, reproduced on purpose (see the QUIRK comments in hardness.py) ----


def test_or_after_a_column_value_is_swallowed() -> None:
    # Spider dev: the official parse has a single ON condition and no OR -> (4, 0, 0), not 5.
    dev = (
        "SELECT T1.AirportCode FROM AIRPORTS AS T1 JOIN FLIGHTS AS T2 ON T1.AirportCode  =  "
        "T2.DestAirport OR T1.AirportCode  =  T2.SourceAirport GROUP BY T1.AirportCode ORDER BY "
        "count(*) DESC LIMIT 1"
    )
    assert hardness_counts(dev) == HardnessCounts(4, 0, 0)
    # Spider train: JOIN + WHERE, one WHERE condition -> medium (it would be hard with the OR).
    train = (
        "SELECT T1.city FROM city AS T1 JOIN temperature AS T2 ON T1.city_id  =  T2.city_id "
        "WHERE T2.Mar  <  T2.Jul OR T2.Mar  >  T2.Oct"
    )
    assert hardness_counts(train) == HardnessCounts(2, 0, 0)
    assert sql_hardness(train) == "medium"
    # The skip stops at AND: `OR weight = 1` is eaten, `AND age = 2 OR age = 3` is not.
    mixed = "SELECT name FROM people WHERE height = T.y OR weight = 1 AND age = 2 OR age = 3"
    assert hardness_counts(mixed) == HardnessCounts(2, 0, 1)
    # A double-quoted "string" is a value, not a column, to Spider: the OR counts.
    quoted = 'SELECT name FROM people WHERE height = "tall" OR weight = 1'
    assert hardness_counts(quoted) == HardnessCounts(2, 0, 1)


def test_order_by_after_a_compound_belongs_to_the_nested_select() -> None:
    # Spider hangs ORDER BY / LIMIT on the last SELECT: only the UNION counts -> (0, 1, 0).
    sql = "SELECT name FROM a UNION SELECT name FROM b ORDER BY name LIMIT 1"
    assert hardness_counts(sql) == HardnessCounts(0, 1, 0)
    assert sql_hardness(sql) == "hard"


def test_a_chain_of_set_operations_counts_once() -> None:
    assert hardness_counts(
        "SELECT a FROM t UNION SELECT b FROM u EXCEPT SELECT c FROM v"
    ) == HardnessCounts(0, 1, 0)


def test_negated_where_conditions_count_as_aggregates() -> None:
    # NOT BETWEEN and NOT LIKE: two "aggregates" (plus two conditions) -> others 2; LIKE -> 2.
    sql = "SELECT name FROM a WHERE x NOT BETWEEN 1 AND 2 AND y NOT LIKE '%a%'"
    assert hardness_counts(sql) == HardnessCounts(2, 0, 2)


def test_having_counts_its_connectors_not_its_aggregates() -> None:
    # count(*) in SELECT is the only aggregate: HAVING count(*) is ignored -> easy.
    assert hardness_counts(
        "SELECT count(*) FROM t GROUP BY a HAVING count(*) > 1"
    ) == HardnessCounts(1, 0, 0)
    # Two ANDs in HAVING are two "aggregates" -> others 1.
    assert hardness_counts(
        "SELECT a FROM t GROUP BY a HAVING count(*) > 1 AND x > 2 AND y > 3"
    ) == HardnessCounts(1, 0, 1)


def test_order_by_counts_each_aggregated_operand() -> None:
    assert hardness_counts("SELECT a FROM t ORDER BY sum(b)") == HardnessCounts(1, 0, 0)
    assert hardness_counts("SELECT a FROM t ORDER BY sum(b) / count(*)") == HardnessCounts(1, 0, 1)


def test_join_without_on() -> None:
    # Spider train; sqlglot adds `ON TRUE`, which must not become a condition.
    # (2, 1, 1): JOIN + WHERE; nested comparison; two SELECT columns.
    sql = (
        "SELECT DISTINCT T1.first_name ,  T1.last_name FROM Professionals AS T1 JOIN Treatments "
        "AS T2 WHERE cost_of_treatment  <  ( SELECT avg(cost_of_treatment) FROM Treatments )"
    )
    assert hardness_counts(sql) == HardnessCounts(2, 1, 1)
    assert sql_hardness(sql) == "extra"


# ---- the published dev split ----


def test_dev_distribution_matches_spider(spider_dir) -> None:
    questions = json.loads((spider_dir / "dev.json").read_text())
    levels = collections.Counter(sql_hardness(question["query"]) for question in questions)
    assert levels == {"easy": 248, "medium": 446, "hard": 174, "extra": 166}


# ---- errors ----


@pytest.mark.parametrize(
    "sql",
    [
        "",
        "hello world",
        "SELECT name FROM WHERE",
        "SELECT 'abc FROM t",
        "INSERT INTO t VALUES (1)",
        "VALUES (1)",
        "SELECT a FROM t; SELECT b FROM u",
    ],
)
def test_unparseable_sql_raises(sql: str) -> None:
    with pytest.raises(UnparseableSqlError) as caught:
        sql_hardness(sql)
    assert repr(sql) in str(caught.value)
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, DataError)
