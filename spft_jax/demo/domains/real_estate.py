"""A real-estate agency: offices, agents, properties, listings, sales and viewings."""

from __future__ import annotations

import random

from spft_jax.demo.values import add_days, person_names, random_date

DB_ID = "real_estate"
SEED = 8808

SCHEMA = (
    """CREATE TABLE office (
        office_id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        city TEXT NOT NULL,
        opened_year INTEGER
    )""",
    """CREATE TABLE agent (
        agent_id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        office_id INTEGER NOT NULL,
        hire_date TEXT,
        commission_rate REAL,
        phone TEXT,
        FOREIGN KEY (office_id) REFERENCES office(office_id)
    )""",
    """CREATE TABLE property (
        property_id INTEGER PRIMARY KEY,
        address TEXT NOT NULL,
        city TEXT NOT NULL,
        district TEXT,
        property_type TEXT,
        bedrooms INTEGER,
        bathrooms INTEGER,
        floor_area_sqm INTEGER,
        year_built INTEGER,
        has_parking INTEGER NOT NULL
    )""",
    """CREATE TABLE listing (
        listing_id INTEGER PRIMARY KEY,
        property_id INTEGER NOT NULL,
        agent_id INTEGER NOT NULL,
        list_date TEXT NOT NULL,
        asking_price REAL,
        status TEXT,
        FOREIGN KEY (property_id) REFERENCES property(property_id),
        FOREIGN KEY (agent_id) REFERENCES agent(agent_id)
    )""",
    """CREATE TABLE sale (
        sale_id INTEGER PRIMARY KEY,
        listing_id INTEGER NOT NULL,
        buyer_name TEXT,
        sale_date TEXT,
        sale_price REAL,
        FOREIGN KEY (listing_id) REFERENCES listing(listing_id)
    )""",
    """CREATE TABLE viewing (
        viewing_id INTEGER PRIMARY KEY,
        listing_id INTEGER NOT NULL,
        viewing_date TEXT,
        visitor_name TEXT,
        interest_level INTEGER,
        FOREIGN KEY (listing_id) REFERENCES listing(listing_id)
    )""",
)

NATURAL_NAMES = {
    "property.floor_area_sqm": "floor area in square meters",
    "agent.commission_rate": "commission rate percent",
}
TIME_COLUMNS = frozenset({"agent.hire_date", "listing.list_date", "sale.sale_date",
                          "viewing.viewing_date"})
BOOLEAN_COLUMNS = frozenset({"property.has_parking"})

OFFICES = (
    # name, city, opened
    ("Harbourside Homes", "Portsmouth", 1998),
    ("Cathedral Quarter Lettings", "Winchester", 2005),
    ("Downs Property Group", "Brighton", 2012),
    ("Old Town Estates", "Portsmouth", 1987),
    ("Meridian Residential", "Brighton", 2019),
)
# City -> districts, and a price level (pounds per square meter) that makes prices local.
DISTRICTS = {
    "Portsmouth": (("Southsea", 3900), ("Fratton", 3000), ("Cosham", 3300), ("Old Portsmouth", 4600)),
    "Winchester": (("St Cross", 5600), ("Hyde", 5200), ("Fulflood", 5400)),
    "Brighton": (("Kemptown", 5300), ("Hove", 5800), ("Preston Park", 5500), ("Whitehawk", 3700)),
}
STREETS = ("Albert Road", "Victoria Street", "Elm Grove", "Marine Parade", "Church Lane",
           "Station Road", "Park Crescent", "Queen's Avenue", "Mill Lane", "Chapel Street",
           "Harbour View", "Orchard Close", "King's Terrace", "Beach Road", "Castle Street")
TYPES = (
    # type, bedrooms range, area range (m2), weight
    ("Flat", (1, 3), (38, 95), 40),
    ("Terraced House", (2, 4), (70, 130), 25),
    ("Semi-detached House", (3, 4), (90, 160), 15),
    ("Detached House", (3, 6), (130, 280), 10),
    ("Studio", (0, 0), (24, 40), 10),
)


def rows(rng: random.Random) -> dict[str, list[tuple]]:
    office = [(i + 1, *o) for i, o in enumerate(OFFICES)]

    names = person_names(rng, 24 + 260)
    agent = []
    for agent_id, name in enumerate(names[:24], start=1):
        office_id = (agent_id - 1) % len(OFFICES) + 1
        opened = OFFICES[office_id - 1][2]
        hired = random_date(rng, f"{max(opened, 2008)}-01-01", "2023-06-30")
        agent.append((agent_id, name, office_id, hired, rng.choice((1.0, 1.25, 1.5, 1.75, 2.0)),
                      f"07{rng.randint(100, 999)} {rng.randint(100000, 999999)}"))

    prop, price_level = [], {}
    addresses: set[str] = set()
    while len(prop) < 200:
        city = rng.choices(tuple(DISTRICTS), weights=(45, 20, 35))[0]
        district, per_sqm = rng.choice(DISTRICTS[city])
        kind, beds, area, _ = rng.choices(TYPES, weights=[t[3] for t in TYPES])[0]
        address = f"{rng.randint(1, 140)} {rng.choice(STREETS)}"
        if (address, city) in addresses:
            continue
        addresses.add((address, city))
        floor_area = rng.randint(*area)
        # Most houses come with a drive or garage; some flats have a parking space.
        parking = rng.random() < (0.8 if kind.endswith("House") else 0.2)
        prop.append((len(prop) + 1, address, city, district, kind, rng.randint(*beds),
                     max(1, min(3, floor_area // 60 + rng.choice((0, 0, 1)))), floor_area,
                     rng.choice((rng.randint(1880, 1939), rng.randint(1950, 2023))),
                     1 if parking else 0))
        price_level[len(prop)] = per_sqm

    # Offices list homes in their own city, so agents sell locally.
    agents_in = {city: [a[0] for a in agent if OFFICES[a[2] - 1][1] == city] for city in DISTRICTS}
    listing, sale, viewing = [], [], []
    listed = rng.sample(prop, 180)  # the other 20 are on the books but not for sale
    for p in listed:
        for attempt in range(2 if rng.random() < 0.15 else 1):  # some are relisted after a withdrawal
            listing_id = len(listing) + 1
            list_date = random_date(rng, "2022-09-01", "2024-05-31")
            asking = round(p[7] * price_level[p[0]] * rng.uniform(0.9, 1.25), -3)
            if attempt == 0 and rng.random() < 0.15:
                status = "Withdrawn"
            elif list_date > "2024-03-15" or rng.random() < 0.25:
                status = "Active"
            else:
                status = "Sold"
            listing.append((listing_id, p[0], rng.choice(agents_in[p[2]]), list_date, asking, status))
            viewers = rng.randint(0, 5) if status != "Sold" else rng.randint(1, 6)
            last_viewing = list_date
            for _ in range(viewers):
                day = add_days(list_date, rng.randint(2, 60))
                last_viewing = max(last_viewing, day)
                viewing.append((len(viewing) + 1, listing_id, day, rng.choice(names[24:]),
                                rng.randint(1, 5)))
            if status == "Sold":
                sale.append((len(sale) + 1, listing_id, rng.choice(names[24:]),
                             add_days(last_viewing, rng.randint(10, 75)),
                             round(asking * rng.uniform(0.92, 1.05), -2)))
            if status != "Withdrawn":
                break
    return {"office": office, "agent": agent, "property": prop, "listing": listing,
            "sale": sale, "viewing": viewing}


QUESTIONS = [
    # Single-table lookups and counts.
    ("How many properties does the agency have on record?", "SELECT count(*) FROM property"),
    ("Which offices are in Brighton?", "SELECT name FROM office WHERE city = 'Brighton'"),
    ("How many studios are there?", "SELECT count(*) FROM property WHERE property_type = 'Studio'"),
    ("What is the highest price any property sold for?", "SELECT max(sale_price) FROM sale"),
    ("List the addresses of properties with five or more bedrooms.",
     "SELECT address FROM property WHERE bedrooms >= 5"),
    ("How many listings are currently active?", "SELECT count(*) FROM listing WHERE status = 'Active'"),
    ("Which properties were built before 1900? Give their addresses.",
     "SELECT address FROM property WHERE year_built < 1900"),
    ("What is the average floor area of a property in square meters?",
     "SELECT avg(floor_area_sqm) FROM property"),
    ("What property types does the agency deal in?", "SELECT DISTINCT property_type FROM property"),
    ("Which agents were hired in 2023?",
     "SELECT name FROM agent WHERE hire_date BETWEEN '2023-01-01' AND '2023-12-31'"),
    ("How many sales were completed in 2023?",
     "SELECT count(*) FROM sale WHERE sale_date BETWEEN '2023-01-01' AND '2023-12-31'"),
    ("What is the phone number of the agent Victor Fontaine?",
     "SELECT phone FROM agent WHERE name = 'Victor Fontaine'"),
    ("List the offices from the oldest to the newest.", "SELECT name FROM office ORDER BY opened_year"),
    # Grouping, ordering, two-table joins.
    ("How many properties are there in each city?", "SELECT city, count(*) FROM property GROUP BY city"),
    ("What is the average asking price for each listing status?",
     "SELECT status, avg(asking_price) FROM listing GROUP BY status"),
    ("Which property is the largest? Give its address and city.",
     "SELECT address, city FROM property ORDER BY floor_area_sqm DESC LIMIT 1"),
    ("Show the names and commission rates of the agents working at Old Town Estates.",
     "SELECT T1.name, T1.commission_rate FROM agent AS T1 JOIN office AS T2 ON T1.office_id = T2.office_id "
     "WHERE T2.name = 'Old Town Estates'"),
    ("How many agents work at each office? Show office names.",
     "SELECT T2.name, count(*) FROM agent AS T1 JOIN office AS T2 ON T1.office_id = T2.office_id "
     "GROUP BY T1.office_id"),
    ("Which properties are on a Road? Give the full addresses.",
     "SELECT address FROM property WHERE address LIKE '%Road'"),
    ("What is the average number of bedrooms for each property type?",
     "SELECT property_type, avg(bedrooms) FROM property GROUP BY property_type"),
    ("Which three listings have the highest asking prices? Show listing id and price.",
     "SELECT listing_id, asking_price FROM listing ORDER BY asking_price DESC LIMIT 3"),
    ("What are the smallest, largest and average sale prices?",
     "SELECT min(sale_price), max(sale_price), avg(sale_price) FROM sale"),
    ("Which districts have more than 15 properties on record?",
     "SELECT district FROM property GROUP BY district HAVING count(*) > 15"),
    ("What is the asking price per square meter of each active listing? Show listing ids.",
     "SELECT T1.listing_id, T1.asking_price / T2.floor_area_sqm FROM listing AS T1 JOIN property AS T2 "
     "ON T1.property_id = T2.property_id WHERE T1.status = 'Active'"),
    ("Which houses in Hove have parking?",
     "SELECT address FROM property WHERE district = 'Hove' AND has_parking = 1 "
     "AND property_type LIKE '%House'"),
    ("How many viewings did each listing get? Show listing ids.",
     "SELECT listing_id, count(*) FROM viewing GROUP BY listing_id"),
    ("When were the flats in Southsea listed, and at what asking price?",
     "SELECT T1.list_date, T1.asking_price FROM listing AS T1 JOIN property AS T2 "
     "ON T1.property_id = T2.property_id WHERE T2.district = 'Southsea' AND T2.property_type = 'Flat'"),
    ("Who bought properties in the first quarter of 2024, and for how much?",
     "SELECT buyer_name, sale_price FROM sale WHERE sale_date BETWEEN '2024-01-01' AND '2024-03-31'"),
    ("How many listings did each agent handle? Show agent names.",
     "SELECT T2.name, count(*) FROM listing AS T1 JOIN agent AS T2 ON T1.agent_id = T2.agent_id "
     "GROUP BY T1.agent_id"),
    ("What is the average floor area of properties in each district of Portsmouth?",
     "SELECT district, avg(floor_area_sqm) FROM property WHERE city = 'Portsmouth' GROUP BY district"),
    ("Which sales went for more than the asking price? Give sale ids.",
     "SELECT T1.sale_id FROM sale AS T1 JOIN listing AS T2 ON T1.listing_id = T2.listing_id "
     "WHERE T1.sale_price > T2.asking_price"),
    ("Show the address and year of construction of every property in Fratton.",
     "SELECT address, year_built FROM property WHERE district = 'Fratton'"),
    ("How many properties of each type come with parking?",
     "SELECT property_type, count(*) FROM property WHERE has_parking = 1 GROUP BY property_type"),
    ("Which office does Omar Richter work for?",
     "SELECT T2.name FROM agent AS T1 JOIN office AS T2 ON T1.office_id = T2.office_id "
     "WHERE T1.name = 'Omar Richter'"),
    ("What is the average asking price of the listings each agent handles? Show agent ids.",
     "SELECT agent_id, avg(asking_price) FROM listing GROUP BY agent_id"),
    ("Who viewed listing 25, and how interested were they?",
     "SELECT visitor_name, interest_level FROM viewing WHERE listing_id = 25"),
    ("Which properties in Winchester were built after 2000? Give the address and district.",
     "SELECT address, district FROM property WHERE city = 'Winchester' AND year_built > 2000"),
    # Nested queries, set operations, HAVING.
    ("Which properties have never been listed for sale? Give their addresses.",
     "SELECT address FROM property WHERE property_id NOT IN (SELECT property_id FROM listing)"),
    ("Which properties are bigger than the average property? Give their addresses.",
     "SELECT address FROM property WHERE floor_area_sqm > (SELECT avg(floor_area_sqm) FROM property)"),
    ("Which district has the most properties?",
     "SELECT district FROM property GROUP BY district ORDER BY count(*) DESC LIMIT 1"),
    ("Which agents have no active listings at the moment?",
     "SELECT name FROM agent WHERE agent_id NOT IN (SELECT agent_id FROM listing WHERE status = 'Active')"),
    ("Which property types are found both in Winchester and in Brighton?",
     "SELECT property_type FROM property WHERE city = 'Winchester' "
     "INTERSECT SELECT property_type FROM property WHERE city = 'Brighton'"),
    ("Which districts have detached houses but no studios?",
     "SELECT district FROM property WHERE property_type = 'Detached House' "
     "EXCEPT SELECT district FROM property WHERE property_type = 'Studio'"),
    ("Which listings were viewed but never got a viewer more than mildly interested (level 3 or "
     "below)? Give the listing ids.",
     "SELECT listing_id FROM viewing EXCEPT SELECT listing_id FROM viewing WHERE interest_level > 3"),
    ("Which listings have had no viewings at all?",
     "SELECT listing_id FROM listing WHERE listing_id NOT IN (SELECT listing_id FROM viewing)"),
    # Three-table joins, grouped rankings, several nested parts.
    ("Which agent has made the most money in sales in total?",
     "SELECT T3.name FROM sale AS T1 JOIN listing AS T2 ON T1.listing_id = T2.listing_id "
     "JOIN agent AS T3 ON T2.agent_id = T3.agent_id GROUP BY T2.agent_id "
     "ORDER BY sum(T1.sale_price) DESC LIMIT 1"),
    ("What is the average sale price in each city, highest first?",
     "SELECT T3.city, avg(T1.sale_price) FROM sale AS T1 JOIN listing AS T2 ON T1.listing_id = T2.listing_id "
     "JOIN property AS T3 ON T2.property_id = T3.property_id GROUP BY T3.city ORDER BY avg(T1.sale_price) DESC"),
    ("How many sales has each office made? Show office names.",
     "SELECT T4.name, count(*) FROM sale AS T1 JOIN listing AS T2 ON T1.listing_id = T2.listing_id "
     "JOIN agent AS T3 ON T2.agent_id = T3.agent_id JOIN office AS T4 ON T3.office_id = T4.office_id "
     "GROUP BY T3.office_id"),
    ("Which detached houses sold for more than 900000 pounds? Give the addresses and prices.",
     "SELECT T3.address, T1.sale_price FROM sale AS T1 JOIN listing AS T2 ON T1.listing_id = T2.listing_id "
     "JOIN property AS T3 ON T2.property_id = T3.property_id "
     "WHERE T3.property_type = 'Detached House' AND T1.sale_price > 900000"),
    ("Which properties were withdrawn and later listed again? Give the addresses.",
     "SELECT T2.address FROM listing AS T1 JOIN property AS T2 ON T1.property_id = T2.property_id "
     "WHERE T1.status = 'Withdrawn' INTERSECT SELECT T2.address FROM listing AS T1 JOIN property AS T2 "
     "ON T1.property_id = T2.property_id WHERE T1.status != 'Withdrawn'"),
    ("Which district's sold homes fetched the highest average price per square meter?",
     "SELECT T3.district FROM sale AS T1 JOIN listing AS T2 ON T1.listing_id = T2.listing_id "
     "JOIN property AS T3 ON T2.property_id = T3.property_id GROUP BY T3.district "
     "ORDER BY avg(T1.sale_price / T3.floor_area_sqm) DESC LIMIT 1"),
    ("Which agents have listings that attracted more than ten viewings in total?",
     "SELECT T3.name FROM viewing AS T1 JOIN listing AS T2 ON T1.listing_id = T2.listing_id "
     "JOIN agent AS T3 ON T2.agent_id = T3.agent_id GROUP BY T2.agent_id HAVING count(*) > 10"),
    ("Which flats sold for more than the average sale price? Give their addresses.",
     "SELECT T3.address FROM sale AS T1 JOIN listing AS T2 ON T1.listing_id = T2.listing_id "
     "JOIN property AS T3 ON T2.property_id = T3.property_id WHERE T3.property_type = 'Flat' "
     "AND T1.sale_price > (SELECT avg(sale_price) FROM sale)"),
    ("How many viewings did properties of each type get? Show the type, most viewed first.",
     "SELECT T3.property_type, count(*) FROM viewing AS T1 JOIN listing AS T2 ON T1.listing_id = T2.listing_id "
     "JOIN property AS T3 ON T2.property_id = T3.property_id GROUP BY T3.property_type ORDER BY count(*) DESC"),
    ("For every sold listing, what is the difference between the asking price and the sale price? "
     "Show the listing id and the difference.",
     "SELECT T1.listing_id, T1.asking_price - T2.sale_price FROM listing AS T1 JOIN sale AS T2 "
     "ON T1.listing_id = T2.listing_id"),
    ("Which agents at Brighton offices have a commission rate above 1.5 percent?",
     "SELECT T1.name FROM agent AS T1 JOIN office AS T2 ON T1.office_id = T2.office_id "
     "WHERE T2.city = 'Brighton' AND T1.commission_rate > 1.5"),
    ("Which offices' agents have a higher average commission rate than the agency average?",
     "SELECT T2.name FROM agent AS T1 JOIN office AS T2 ON T1.office_id = T2.office_id "
     "GROUP BY T1.office_id HAVING avg(T1.commission_rate) > (SELECT avg(commission_rate) FROM agent)"),
]
