"""Music festivals: festivals, their stages, artists, performances and ticket sales."""

from __future__ import annotations

import random

from spft_jax.demo.values import add_days, money, person_names

DB_ID = "music_festival"
SEED = 6606

SCHEMA = (
    """CREATE TABLE festival (
        festival_id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        city TEXT,
        country TEXT,
        start_date TEXT,
        days INTEGER,
        capacity INTEGER
    )""",
    """CREATE TABLE stage (
        stage_id INTEGER PRIMARY KEY,
        festival_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        capacity INTEGER,
        is_indoor INTEGER NOT NULL,
        FOREIGN KEY (festival_id) REFERENCES festival(festival_id)
    )""",
    """CREATE TABLE artist (
        artist_id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        genre TEXT,
        country TEXT,
        formed_year INTEGER,
        member_count INTEGER
    )""",
    """CREATE TABLE performance (
        performance_id INTEGER PRIMARY KEY,
        stage_id INTEGER NOT NULL,
        artist_id INTEGER NOT NULL,
        performance_date TEXT NOT NULL,
        start_time TEXT,
        duration_min INTEGER,
        fee REAL,
        is_headliner INTEGER NOT NULL,
        FOREIGN KEY (stage_id) REFERENCES stage(stage_id),
        FOREIGN KEY (artist_id) REFERENCES artist(artist_id)
    )""",
    """CREATE TABLE ticket_sale (
        sale_id INTEGER PRIMARY KEY,
        festival_id INTEGER NOT NULL,
        ticket_type TEXT NOT NULL,
        price REAL,
        quantity INTEGER,
        sale_date TEXT,
        FOREIGN KEY (festival_id) REFERENCES festival(festival_id)
    )""",
)

NATURAL_NAMES = {
    "festival.days": "number of days",
    "performance.duration_min": "duration in minutes",
    "artist.member_count": "number of members",
}
TIME_COLUMNS = frozenset({"festival.start_date", "performance.performance_date",
                          "ticket_sale.sale_date"})
BOOLEAN_COLUMNS = frozenset({"stage.is_indoor", "performance.is_headliner"})

FESTIVALS = (
    # name, city, country, start date, days, capacity, favoured genres, day pass price
    ("Harbor Sounds", "Hamburg", "Germany", "2023-07-14", 3, 45000, ("Rock", "Indie", "Pop"), 89.0),
    ("Sunfield Festival", "Lyon", "France", "2023-06-23", 3, 38000, ("Pop", "Electronic", "Indie"), 79.0),
    ("Riverside Jazz Week", "Montreal", "Canada", "2023-08-01", 5, 22000, ("Jazz", "Soul"), 65.0),
    ("Polar Beats", "Helsinki", "Finland", "2023-08-11", 2, 18000, ("Electronic",), 95.0),
    ("Orange Grove Fest", "Seville", "Spain", "2023-05-19", 3, 30000, ("Pop", "Hip Hop", "Rock"), 72.0),
    ("Green Valley Folk", "Galway", "Ireland", "2024-06-07", 3, 12000, ("Folk", "Indie"), 58.0),
    ("Electric Meadow", "Utrecht", "Netherlands", "2024-07-05", 2, 40000, ("Electronic", "Hip Hop"), 99.0),
    ("Blue Fjord Festival", "Bergen", "Norway", "2024-06-20", 3, 16000, ("Indie", "Rock", "Folk"), 110.0),
    ("Midnight Circuit", "Berlin", "Germany", "2024-02-16", 2, 8000, ("Electronic", "Metal"), 69.0),
    ("Coastline Festival", "Porto", "Portugal", "2024-08-29", 4, 35000, ("Rock", "Pop", "Soul"), 75.0),
)
STAGE_NAMES = ("Main Stage", "Forest Stage", "Big Tent", "Club Stage", "Acoustic Barn", "Dome")

GENRES = ("Rock", "Indie", "Pop", "Electronic", "Jazz", "Soul", "Folk", "Hip Hop", "Metal")
COUNTRIES = ("United Kingdom", "United States", "Germany", "France", "Sweden", "Canada",
             "Australia", "Netherlands", "Ireland", "Spain", "Norway", "Brazil")
_BAND_WORDS = ("Velvet", "Paper", "Neon", "Silver", "Hollow", "Wild", "Glass", "Electric",
               "Midnight", "Copper", "Lunar", "Golden")
_BAND_NOUNS = ("Foxes", "Harbors", "Echoes", "Parade", "Satellites", "Orchids", "Wolves",
               "Tides", "Machines", "Comets", "Lanterns", "Pilots")


def _artist_names(rng: random.Random) -> list[tuple[str, int]]:
    """60 (name, member count): bands named "The Adjective Nouns" and solo acts under their own name."""
    bands = rng.sample([f"The {w} {n}" for w in _BAND_WORDS for n in _BAND_NOUNS], 38)
    solos = person_names(rng, 22)
    acts = [(b, rng.randint(2, 6)) for b in bands] + [(s, 1) for s in solos]
    rng.shuffle(acts)
    return acts


def rows(rng: random.Random) -> dict[str, list[tuple]]:
    festival = [(i + 1, *f[:6]) for i, f in enumerate(FESTIVALS)]

    stage = []
    for festival_id, f in enumerate(FESTIVALS, start=1):
        indoor_only = f[0] == "Midnight Circuit"  # the winter festival is held indoors
        count = rng.randint(2, 4)
        for k, name in enumerate(STAGE_NAMES[:1] + tuple(rng.sample(STAGE_NAMES[1:], count - 1))):
            capacity = f[5] // 2 if k == 0 else rng.randrange(1500, f[5] // 3, 500)
            indoor = 1 if indoor_only or name in ("Club Stage", "Dome") else 0
            stage.append((len(stage) + 1, festival_id, name, capacity, indoor))

    artist = []
    for artist_id, (name, members) in enumerate(_artist_names(rng), start=1):
        artist.append((artist_id, name, rng.choice(GENRES), rng.choice(COUNTRIES),
                       rng.randint(1988, 2022), members))
    booked = artist[:55]  # the last five have not played any of these festivals

    performance = []
    for festival_id, f in enumerate(FESTIVALS, start=1):
        favoured = [a for a in booked if a[2] in f[6]]
        others = [a for a in booked if a[2] not in f[6]]
        stages = [s for s in stage if s[1] == festival_id]
        used: set[int] = set()  # an act plays a festival at most once
        for day in range(f[4]):
            date = add_days(f[3], day)
            for s in stages:
                slots = 3 if s[2] == "Main Stage" else 2
                for slot in range(slots):
                    pool = [a for a in (favoured if rng.random() < 0.8 else others) if a[0] not in used]
                    if not pool:
                        continue
                    act = rng.choice(pool)
                    used.add(act[0])
                    headliner = 1 if s[2] == "Main Stage" and slot == slots - 1 else 0
                    hour = 16 + 2 * slot + (1 if headliner else 0)
                    fee = money(rng.randrange(8, 40) * 500.0 * (4 if headliner else 1))
                    performance.append((len(performance) + 1, s[0], act[0], date,
                                        f"{hour:02d}:{rng.choice(('00', '15', '30'))}",
                                        90 if headliner else rng.choice((45, 60, 60, 75)),
                                        fee, headliner))

    ticket_sale = []
    for festival_id, f in enumerate(FESTIVALS, start=1):
        prices = {"Day Pass": f[7], "Weekend Pass": money(f[7] * 2.4), "VIP": money(f[7] * 4.5)}
        for _ in range(f[5] // 1200):  # bigger festivals sell more
            kind = rng.choices(tuple(prices), weights=(5, 4, 1))[0]
            ticket_sale.append((len(ticket_sale) + 1, festival_id, kind, prices[kind],
                                rng.choice((1, 1, 2, 2, 2, 3, 4, 6)),
                                add_days(f[3], -rng.randint(1, 150))))
    return {"festival": festival, "stage": stage, "artist": artist, "performance": performance,
            "ticket_sale": ticket_sale}


QUESTIONS = [
    # Single-table lookups and counts.
    ("How many festivals are in the database?", "SELECT count(*) FROM festival"),
    ("Which festivals take place in Germany?", "SELECT name FROM festival WHERE country = 'Germany'"),
    ("How many artists play electronic music?",
     "SELECT count(*) FROM artist WHERE genre = 'Electronic'"),
    ("What is the largest festival capacity?", "SELECT max(capacity) FROM festival"),
    ("List the names of the solo artists.", "SELECT name FROM artist WHERE member_count = 1"),
    ("Which stages are indoors?", "SELECT name FROM stage WHERE is_indoor = 1"),
    ("When does the Coastline Festival start?",
     "SELECT start_date FROM festival WHERE name = 'Coastline Festival'"),
    ("How many headline performances were there?",
     "SELECT count(*) FROM performance WHERE is_headliner = 1"),
    ("Which artists were formed before 1995?", "SELECT name FROM artist WHERE formed_year < 1995"),
    ("What genres do the artists play?", "SELECT DISTINCT genre FROM artist"),
    ("What is the average fee paid for a performance?", "SELECT avg(fee) FROM performance"),
    ("Which festivals started in summer 2024, between June and August?",
     "SELECT name FROM festival WHERE start_date BETWEEN '2024-06-01' AND '2024-08-31'"),
    ("List the festival names from the biggest capacity to the smallest.",
     "SELECT name FROM festival ORDER BY capacity DESC"),
    # Grouping, ordering, two-table joins.
    ("How many artists come from each country?",
     "SELECT country, count(*) FROM artist GROUP BY country"),
    ("Which festival lasts the longest, and where is it held?",
     "SELECT name, city FROM festival ORDER BY days DESC LIMIT 1"),
    ("What are the stage names at the Harbor Sounds festival?",
     "SELECT T1.name FROM stage AS T1 JOIN festival AS T2 ON T1.festival_id = T2.festival_id "
     "WHERE T2.name = 'Harbor Sounds'"),
    ("How many stages does each festival have? Show festival names.",
     "SELECT T2.name, count(*) FROM stage AS T1 JOIN festival AS T2 ON T1.festival_id = T2.festival_id "
     "GROUP BY T1.festival_id"),
    ("Which bands have a name that starts with The Velvet?",
     "SELECT name FROM artist WHERE name LIKE 'The Velvet%'"),
    ("How many tickets of each type were sold in total?",
     "SELECT ticket_type, sum(quantity) FROM ticket_sale GROUP BY ticket_type"),
    ("Which three performances were the most expensive? Show the performance id and fee.",
     "SELECT performance_id, fee FROM performance ORDER BY fee DESC LIMIT 3"),
    ("What is the average number of members for each genre?",
     "SELECT genre, avg(member_count) FROM artist GROUP BY genre"),
    ("Which genres have more than eight artists?",
     "SELECT genre FROM artist GROUP BY genre HAVING count(*) > 8"),
    ("On which dates did The Glass Foxes perform?",
     "SELECT T1.performance_date FROM performance AS T1 JOIN artist AS T2 ON T1.artist_id = T2.artist_id "
     "WHERE T2.name = 'The Glass Foxes'"),
    ("What are the minimum, maximum and average ticket prices?",
     "SELECT min(price), max(price), avg(price) FROM ticket_sale"),
    ("Which outdoor stages hold more than 10000 people?",
     "SELECT name FROM stage WHERE is_indoor = 0 AND capacity > 10000"),
    ("How much money did each ticket sale bring in? Show sale id and amount.",
     "SELECT sale_id, price * quantity FROM ticket_sale"),
    ("How many performances did each artist give? Show artist names.",
     "SELECT T2.name, count(*) FROM performance AS T1 JOIN artist AS T2 ON T1.artist_id = T2.artist_id "
     "GROUP BY T1.artist_id"),
    ("Show the name and city of each festival held in 2023.",
     "SELECT name, city FROM festival WHERE start_date BETWEEN '2023-01-01' AND '2023-12-31'"),
    ("How many stages are indoor and how many are outdoor?",
     "SELECT is_indoor, count(*) FROM stage GROUP BY is_indoor"),
    ("Which festival has the smallest capacity?", "SELECT name FROM festival ORDER BY capacity LIMIT 1"),
    ("Which Brazilian artists play jazz?",
     "SELECT name FROM artist WHERE country = 'Brazil' AND genre = 'Jazz'"),
    ("What kinds of tickets were sold for Polar Beats, and at what prices?",
     "SELECT DISTINCT T1.ticket_type, T1.price FROM ticket_sale AS T1 JOIN festival AS T2 "
     "ON T1.festival_id = T2.festival_id WHERE T2.name = 'Polar Beats'"),
    ("What is the total fee paid to each artist? Show artist ids.",
     "SELECT artist_id, sum(fee) FROM performance GROUP BY artist_id"),
    # Nested queries, set operations, HAVING.
    ("Which artists have never performed at any of these festivals?",
     "SELECT name FROM artist WHERE artist_id NOT IN (SELECT artist_id FROM performance)"),
    ("Which festivals have a capacity above the average festival?",
     "SELECT name FROM festival WHERE capacity > (SELECT avg(capacity) FROM festival)"),
    ("Which country has produced the most artists?",
     "SELECT country FROM artist GROUP BY country ORDER BY count(*) DESC LIMIT 1"),
    ("Which genres include both solo acts and bands with at least five members?",
     "SELECT genre FROM artist WHERE member_count = 1 INTERSECT SELECT genre FROM artist WHERE member_count >= 5"),
    ("Which countries host a festival but have no artists of their own here?",
     "SELECT country FROM festival EXCEPT SELECT country FROM artist"),
    ("Which stage names are used at more than two festivals?",
     "SELECT name FROM stage GROUP BY name HAVING count(*) > 2"),
    ("Which festivals sold no VIP tickets?",
     "SELECT name FROM festival WHERE festival_id NOT IN (SELECT festival_id FROM ticket_sale WHERE ticket_type = 'VIP')"),
    # Three-table joins, grouped rankings, several nested parts.
    ("Which festival paid the most in performance fees, and how much?",
     "SELECT T3.name, sum(T1.fee) FROM performance AS T1 JOIN stage AS T2 ON T1.stage_id = T2.stage_id "
     "JOIN festival AS T3 ON T2.festival_id = T3.festival_id GROUP BY T2.festival_id "
     "ORDER BY sum(T1.fee) DESC LIMIT 1"),
    ("Which artists headlined at Electric Meadow?",
     "SELECT T3.name FROM performance AS T1 JOIN stage AS T2 ON T1.stage_id = T2.stage_id "
     "JOIN artist AS T3 ON T1.artist_id = T3.artist_id JOIN festival AS T4 "
     "ON T2.festival_id = T4.festival_id WHERE T4.name = 'Electric Meadow' AND T1.is_headliner = 1"),
    ("Which festival made the most ticket revenue?",
     "SELECT T2.name FROM ticket_sale AS T1 JOIN festival AS T2 ON T1.festival_id = T2.festival_id "
     "GROUP BY T1.festival_id ORDER BY sum(T1.price * T1.quantity) DESC LIMIT 1"),
    ("Which artists performed both in 2023 and in 2024?",
     "SELECT T2.name FROM performance AS T1 JOIN artist AS T2 ON T1.artist_id = T2.artist_id "
     "WHERE T1.performance_date < '2024-01-01' INTERSECT SELECT T2.name FROM performance AS T1 "
     "JOIN artist AS T2 ON T1.artist_id = T2.artist_id WHERE T1.performance_date >= '2024-01-01'"),
    ("How many performances did each genre have at each festival? Show festival name, genre and count.",
     "SELECT T4.name, T3.genre, count(*) FROM performance AS T1 JOIN stage AS T2 ON T1.stage_id = T2.stage_id "
     "JOIN artist AS T3 ON T1.artist_id = T3.artist_id JOIN festival AS T4 ON T2.festival_id = T4.festival_id "
     "GROUP BY T4.name, T3.genre"),
    ("Which artists have played at more than two festivals?",
     "SELECT T2.name FROM performance AS T1 JOIN artist AS T2 ON T1.artist_id = T2.artist_id "
     "GROUP BY T1.artist_id HAVING count(*) > 2"),
    ("Which country's artists earned the most in total fees?",
     "SELECT T2.country FROM performance AS T1 JOIN artist AS T2 ON T1.artist_id = T2.artist_id "
     "GROUP BY T2.country ORDER BY sum(T1.fee) DESC LIMIT 1"),
    ("Which soul artists played at festivals outside Canada?",
     "SELECT DISTINCT T3.name FROM performance AS T1 JOIN stage AS T2 ON T1.stage_id = T2.stage_id "
     "JOIN artist AS T3 ON T1.artist_id = T3.artist_id JOIN festival AS T4 ON T2.festival_id = T4.festival_id "
     "WHERE T3.genre = 'Soul' AND T4.country != 'Canada'"),
    ("Which artists earned more for a single show than the average headliner fee?",
     "SELECT DISTINCT T2.name FROM performance AS T1 JOIN artist AS T2 ON T1.artist_id = T2.artist_id "
     "WHERE T1.fee > (SELECT avg(fee) FROM performance WHERE is_headliner = 1)"),
    ("List each festival with the number of tickets sold, from most to fewest.",
     "SELECT T2.name, sum(T1.quantity) FROM ticket_sale AS T1 JOIN festival AS T2 "
     "ON T1.festival_id = T2.festival_id GROUP BY T1.festival_id ORDER BY sum(T1.quantity) DESC"),
    ("Which stages hosted performances of metal artists? Give stage and festival names.",
     "SELECT DISTINCT T2.name, T4.name FROM performance AS T1 JOIN stage AS T2 ON T1.stage_id = T2.stage_id "
     "JOIN artist AS T3 ON T1.artist_id = T3.artist_id JOIN festival AS T4 ON T2.festival_id = T4.festival_id "
     "WHERE T3.genre = 'Metal'"),
    ("What is the average fee of performances on indoor stages compared with outdoor stages?",
     "SELECT T2.is_indoor, avg(T1.fee) FROM performance AS T1 JOIN stage AS T2 ON T1.stage_id = T2.stage_id "
     "GROUP BY T2.is_indoor"),
]
