"""A small European airline: airports, aircraft, scheduled flights, passengers and bookings."""

from __future__ import annotations

import random

from spft_jax.demo.values import money, person_names, random_date

DB_ID = "airline_flights"
SEED = 4404

SCHEMA = (
    """CREATE TABLE airport (
        airport_code TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        city TEXT NOT NULL,
        country TEXT NOT NULL,
        elevation_m INTEGER
    )""",
    """CREATE TABLE aircraft (
        aircraft_id INTEGER PRIMARY KEY,
        tail_number TEXT NOT NULL,
        model TEXT NOT NULL,
        manufacturer TEXT NOT NULL,
        seat_capacity INTEGER,
        year_built INTEGER
    )""",
    """CREATE TABLE flight (
        flight_id INTEGER PRIMARY KEY,
        flight_number TEXT NOT NULL,
        origin_code TEXT NOT NULL,
        destination_code TEXT NOT NULL,
        aircraft_id INTEGER NOT NULL,
        departure_date TEXT NOT NULL,
        departure_time TEXT,
        duration_min INTEGER,
        base_fare REAL,
        status TEXT,
        FOREIGN KEY (origin_code) REFERENCES airport(airport_code),
        FOREIGN KEY (destination_code) REFERENCES airport(airport_code),
        FOREIGN KEY (aircraft_id) REFERENCES aircraft(aircraft_id)
    )""",
    """CREATE TABLE passenger (
        passenger_id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        nationality TEXT,
        birth_date TEXT,
        frequent_flyer INTEGER NOT NULL
    )""",
    """CREATE TABLE booking (
        booking_id INTEGER PRIMARY KEY,
        flight_id INTEGER NOT NULL,
        passenger_id INTEGER NOT NULL,
        seat TEXT,
        travel_class TEXT,
        price REAL,
        checked_bags INTEGER,
        FOREIGN KEY (flight_id) REFERENCES flight(flight_id),
        FOREIGN KEY (passenger_id) REFERENCES passenger(passenger_id)
    )""",
)

NATURAL_NAMES = {
    "airport.elevation_m": "elevation in meters",
    "flight.origin_code": "origin airport code",
    "flight.destination_code": "destination airport code",
    "flight.duration_min": "duration in minutes",
}
TIME_COLUMNS = frozenset({"flight.departure_date", "passenger.birth_date"})
BOOLEAN_COLUMNS = frozenset({"passenger.frequent_flyer"})

AIRPORTS = (
    # code, name, city, country, elevation (m)
    ("CPH", "Copenhagen Kastrup Airport", "Copenhagen", "Denmark", 5),
    ("AMS", "Amsterdam Schiphol Airport", "Amsterdam", "Netherlands", -3),
    ("LHR", "London Heathrow Airport", "London", "United Kingdom", 25),
    ("LGW", "London Gatwick Airport", "London", "United Kingdom", 62),
    ("CDG", "Paris Charles de Gaulle Airport", "Paris", "France", 119),
    ("FRA", "Frankfurt Airport", "Frankfurt", "Germany", 111),
    ("MAD", "Madrid Barajas Airport", "Madrid", "Spain", 610),
    ("FCO", "Rome Fiumicino Airport", "Rome", "Italy", 5),
    ("OSL", "Oslo Gardermoen Airport", "Oslo", "Norway", 208),
    ("ARN", "Stockholm Arlanda Airport", "Stockholm", "Sweden", 42),
    ("DUB", "Dublin Airport", "Dublin", "Ireland", 74),
    ("LIS", "Lisbon Humberto Delgado Airport", "Lisbon", "Portugal", 114),
    ("VIE", "Vienna International Airport", "Vienna", "Austria", 183),
    ("ZRH", "Zurich Airport", "Zurich", "Switzerland", 432),
    ("ATH", "Athens International Airport", "Athens", "Greece", 94),
    ("JFK", "John F. Kennedy International Airport", "New York", "United States", 4),
    ("YYZ", "Toronto Pearson International Airport", "Toronto", "Canada", 173),
    ("DXB", "Dubai International Airport", "Dubai", "United Arab Emirates", 19),
    # Not on the network (yet), for "airports without flights" questions.
    ("HEL", "Helsinki Vantaa Airport", "Helsinki", "Finland", 55),
    ("BER", "Berlin Brandenburg Airport", "Berlin", "Germany", 48),
)

AIRCRAFT_TYPES = (
    # model, manufacturer, seats, long haul
    ("A320neo", "Airbus", 180, False),
    ("A321neo", "Airbus", 220, False),
    ("737-800", "Boeing", 186, False),
    ("E195-E2", "Embraer", 132, False),
    ("ATR 72-600", "ATR", 70, False),
    ("787-9", "Boeing", 290, True),
    ("A350-900", "Airbus", 315, True),
)
FLEET = (0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6)  # indices into AIRCRAFT_TYPES

ROUTES = (
    # origin, destination, flight time in minutes; every route is flown both ways
    ("CPH", "LHR", 115), ("CPH", "CDG", 120), ("CPH", "FRA", 85), ("CPH", "AMS", 80),
    ("CPH", "OSL", 65), ("CPH", "ARN", 70), ("CPH", "MAD", 195), ("CPH", "FCO", 155),
    ("CPH", "JFK", 500), ("CPH", "DXB", 375), ("AMS", "LGW", 70), ("AMS", "MAD", 150),
    ("AMS", "LIS", 170), ("AMS", "DUB", 90), ("AMS", "YYZ", 490), ("AMS", "ATH", 210),
    ("AMS", "VIE", 110), ("AMS", "ZRH", 90), ("OSL", "ARN", 55), ("LHR", "JFK", 470),
)
STATUSES = ("On time", "Delayed", "Cancelled")
NATIONALITIES = ("Danish", "Dutch", "British", "German", "French", "Spanish", "Italian",
                 "Swedish", "Norwegian", "American", "Canadian", "Irish", "Portuguese", "Indian")
CLASSES = ("Economy", "Premium Economy", "Business")
_CLASS_FACTOR = {"Economy": 1.0, "Premium Economy": 1.6, "Business": 3.2}


def rows(rng: random.Random) -> dict[str, list[tuple]]:
    airport = list(AIRPORTS)

    aircraft = []
    for aircraft_id, kind in enumerate(FLEET, start=1):
        model, maker, seats, _ = AIRCRAFT_TYPES[kind]
        tail = "OY-" + "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(3))
        aircraft.append((aircraft_id, tail, model, maker, seats, rng.randint(2009, 2023)))
    # Wide-bodies fly the long routes, regional aircraft (under 150 seats) only the short hops.
    long_haul = [a[0] for a in aircraft if AIRCRAFT_TYPES[FLEET[a[0] - 1]][3]]
    narrow_body = [a[0] for a in aircraft if not AIRCRAFT_TYPES[FLEET[a[0] - 1]][3]]
    regional = [a for a in narrow_body if aircraft[a - 1][4] < 150]
    mainline = [a for a in narrow_body if a not in regional]

    # Each direction of a route has a fixed flight number and departure time, as timetables do.
    legs = []
    for number, (a, b, minutes) in enumerate(ROUTES):
        for k, (origin, dest) in enumerate(((a, b), (b, a))):
            legs.append((f"NX{100 + 2 * number + k}", origin, dest, minutes,
                         f"{rng.randint(6, 20):02d}:{rng.randrange(0, 60, 5):02d}"))
    flight = []
    for flight_id in range(1, 231):
        number, origin, dest, minutes, clock = rng.choice(legs)
        plane = rng.choice(long_haul if minutes > 300 else narrow_body if minutes <= 120 else mainline)
        fare = money(39 + 0.55 * minutes + rng.choice((0, 10, 20, 35)))
        status = rng.choices(STATUSES, weights=(84, 13, 3))[0]
        flight.append((flight_id, number, origin, dest, plane,
                       random_date(rng, "2024-03-01", "2024-05-31"), clock,
                       minutes + rng.choice((-10, -5, 0, 0, 5, 10)), fare, status))

    passenger = []
    for passenger_id, name in enumerate(person_names(rng, 170), start=1):
        passenger.append((passenger_id, name, rng.choice(NATIONALITIES),
                          random_date(rng, "1945-01-01", "2010-12-31"),
                          1 if rng.random() < 0.35 else 0))
    travellers = rng.sample(range(1, len(passenger) + 1), 150)  # the rest never booked

    booking = []
    for f in flight:
        taken: set[str] = set()
        for _ in range(rng.choice((0, 1, 1, 2, 2, 2, 3, 3, 4))):
            travel_class = rng.choices(CLASSES, weights=(75, 12, 13))[0]
            first_row = {"Business": 1, "Premium Economy": 6}.get(travel_class, 10)
            seat = f"{rng.randint(first_row, first_row + 4 if first_row < 10 else 38)}{rng.choice('ABCDEF')}"
            if seat in taken:
                continue
            taken.add(seat)
            price = money(f[8] * _CLASS_FACTOR[travel_class] * rng.uniform(0.9, 1.5))
            booking.append((len(booking) + 1, f[0], rng.choice(travellers), seat, travel_class,
                            price, rng.choice((0, 0, 1, 1, 1, 2))))
    return {"airport": airport, "aircraft": aircraft, "flight": flight, "passenger": passenger,
            "booking": booking}


QUESTIONS = [
    # Single-table lookups and counts.
    ("How many airports are in the database?", "SELECT count(*) FROM airport"),
    ("Which airports are in the United Kingdom?",
     "SELECT name FROM airport WHERE country = 'United Kingdom'"),
    ("What is the seat capacity of the largest aircraft in the fleet?",
     "SELECT max(seat_capacity) FROM aircraft"),
    ("How many flights were cancelled?", "SELECT count(*) FROM flight WHERE status = 'Cancelled'"),
    ("List the tail numbers of all Boeing aircraft.",
     "SELECT tail_number FROM aircraft WHERE manufacturer = 'Boeing'"),
    ("Which airport lies below sea level?", "SELECT name FROM airport WHERE elevation_m < 0"),
    ("How many passengers are frequent flyers?",
     "SELECT count(*) FROM passenger WHERE frequent_flyer = 1"),
    ("What is the average base fare of a flight?", "SELECT avg(base_fare) FROM flight"),
    ("What aircraft models does the airline operate?", "SELECT DISTINCT model FROM aircraft"),
    ("Which flights departed on 1 April 2024? Give their flight numbers.",
     "SELECT flight_number FROM flight WHERE departure_date = '2024-04-01'"),
    ("How many flights last longer than six hours?",
     "SELECT count(*) FROM flight WHERE duration_min > 360"),
    ("List the passengers born after 2005.",
     "SELECT name FROM passenger WHERE birth_date > '2005-12-31'"),
    ("Show the airport codes ordered by elevation from highest to lowest.",
     "SELECT airport_code FROM airport ORDER BY elevation_m DESC"),
    # Grouping, ordering, two-table joins.
    ("How many airports are there in each country?",
     "SELECT country, count(*) FROM airport GROUP BY country"),
    ("Which is the oldest aircraft? Show its tail number and model.",
     "SELECT tail_number, model FROM aircraft ORDER BY year_built LIMIT 1"),
    ("What are the flight numbers of flights leaving from Copenhagen?",
     "SELECT DISTINCT T1.flight_number FROM flight AS T1 JOIN airport AS T2 "
     "ON T1.origin_code = T2.airport_code WHERE T2.city = 'Copenhagen'"),
    ("How many bookings were made in each travel class?",
     "SELECT travel_class, count(*) FROM booking GROUP BY travel_class"),
    ("What is the average booking price per travel class?",
     "SELECT travel_class, avg(price) FROM booking GROUP BY travel_class"),
    ("Give the codes of the airports whose name contains the word International.",
     "SELECT airport_code FROM airport WHERE name LIKE '%International%'"),
    ("How many flights did each aircraft model fly?",
     "SELECT T2.model, count(*) FROM flight AS T1 JOIN aircraft AS T2 ON T1.aircraft_id = T2.aircraft_id "
     "GROUP BY T2.model"),
    ("What were the five most expensive bookings? Show seat and price.",
     "SELECT seat, price FROM booking ORDER BY price DESC LIMIT 5"),
    ("Which flight numbers were delayed in May 2024?",
     "SELECT DISTINCT flight_number FROM flight WHERE status = 'Delayed' "
     "AND departure_date BETWEEN '2024-05-01' AND '2024-05-31'"),
    ("What is the shortest, longest and average flight time in minutes?",
     "SELECT min(duration_min), max(duration_min), avg(duration_min) FROM flight"),
    ("Which nationalities have more than 15 passengers?",
     "SELECT nationality FROM passenger GROUP BY nationality HAVING count(*) > 15"),
    ("How many flights arrived in each destination city?",
     "SELECT T2.city, count(*) FROM flight AS T1 JOIN airport AS T2 "
     "ON T1.destination_code = T2.airport_code GROUP BY T2.city"),
    ("Which passengers have booked a business class seat?",
     "SELECT DISTINCT T2.name FROM booking AS T1 JOIN passenger AS T2 ON T1.passenger_id = T2.passenger_id "
     "WHERE T1.travel_class = 'Business'"),
    ("What is the total weight of checked luggage if every bag weighs 23 kg?",
     "SELECT sum(checked_bags) * 23 FROM booking"),
    ("Show the model and seat capacity of each Airbus aircraft.",
     "SELECT model, seat_capacity FROM aircraft WHERE manufacturer = 'Airbus'"),
    ("How many flights has each aircraft flown? Show tail numbers.",
     "SELECT T2.tail_number, count(*) FROM flight AS T1 JOIN aircraft AS T2 ON T1.aircraft_id = T2.aircraft_id "
     "GROUP BY T1.aircraft_id"),
    ("On which dates were there flights from CPH to JFK, and what were their flight ids?",
     "SELECT flight_id, departure_date FROM flight WHERE origin_code = 'CPH' AND destination_code = 'JFK'"),
    ("What is the average flight time from each origin airport?",
     "SELECT origin_code, avg(duration_min) FROM flight GROUP BY origin_code"),
    ("What are the names of the three highest airports?",
     "SELECT name FROM airport ORDER BY elevation_m DESC LIMIT 3"),
    ("Who has sat in seat 1A? Give the passengers' names.",
     "SELECT T2.name FROM booking AS T1 JOIN passenger AS T2 ON T1.passenger_id = T2.passenger_id "
     "WHERE T1.seat = '1A'"),
    ("How many frequent flyers are there of each nationality?",
     "SELECT nationality, count(*) FROM passenger WHERE frequent_flyer = 1 GROUP BY nationality"),
    # Nested queries, set operations, HAVING.
    ("Which airports have no departing flights?",
     "SELECT name FROM airport WHERE airport_code NOT IN (SELECT origin_code FROM flight)"),
    ("Which flights have a base fare above the average? Give the flight ids.",
     "SELECT flight_id FROM flight WHERE base_fare > (SELECT avg(base_fare) FROM flight)"),
    ("Which destination airport code receives the most flights?",
     "SELECT destination_code FROM flight GROUP BY destination_code ORDER BY count(*) DESC LIMIT 1"),
    ("Which passengers have never booked a flight?",
     "SELECT name FROM passenger WHERE passenger_id NOT IN (SELECT passenger_id FROM booking)"),
    ("Which airport codes are used both as an origin and as a destination of delayed flights?",
     "SELECT origin_code FROM flight WHERE status = 'Delayed' "
     "INTERSECT SELECT destination_code FROM flight WHERE status = 'Delayed'"),
    ("Which manufacturers build aircraft with more than 250 seats or fewer than 100 seats?",
     "SELECT manufacturer FROM aircraft WHERE seat_capacity > 250 "
     "UNION SELECT manufacturer FROM aircraft WHERE seat_capacity < 100"),
    ("Which aircraft have never flown a cancelled flight? Give tail numbers.",
     "SELECT tail_number FROM aircraft WHERE aircraft_id NOT IN "
     "(SELECT aircraft_id FROM flight WHERE status = 'Cancelled')"),
    # Three-table joins, grouped rankings, several nested parts.
    ("Which passenger has spent the most on bookings, and how much in total?",
     "SELECT T2.name, sum(T1.price) FROM booking AS T1 JOIN passenger AS T2 "
     "ON T1.passenger_id = T2.passenger_id GROUP BY T1.passenger_id ORDER BY sum(T1.price) DESC LIMIT 1"),
    ("Which city has the most departing flights?",
     "SELECT T2.city FROM flight AS T1 JOIN airport AS T2 ON T1.origin_code = T2.airport_code "
     "GROUP BY T2.city ORDER BY count(*) DESC LIMIT 1"),
    ("List the names of passengers who flew to New York.",
     "SELECT DISTINCT T3.name FROM booking AS T1 JOIN flight AS T2 ON T1.flight_id = T2.flight_id "
     "JOIN passenger AS T3 ON T1.passenger_id = T3.passenger_id JOIN airport AS T4 "
     "ON T2.destination_code = T4.airport_code WHERE T4.city = 'New York'"),
    ("Which passengers have flown on both an Airbus and a Boeing aircraft?",
     "SELECT T3.name FROM booking AS T1 JOIN flight AS T2 ON T1.flight_id = T2.flight_id "
     "JOIN passenger AS T3 ON T1.passenger_id = T3.passenger_id JOIN aircraft AS T4 "
     "ON T2.aircraft_id = T4.aircraft_id WHERE T4.manufacturer = 'Airbus' INTERSECT "
     "SELECT T3.name FROM booking AS T1 JOIN flight AS T2 ON T1.flight_id = T2.flight_id "
     "JOIN passenger AS T3 ON T1.passenger_id = T3.passenger_id JOIN aircraft AS T4 "
     "ON T2.aircraft_id = T4.aircraft_id WHERE T4.manufacturer = 'Boeing'"),
    ("For each destination country, how much revenue did bookings bring in? Highest first.",
     "SELECT T3.country, sum(T1.price) FROM booking AS T1 JOIN flight AS T2 ON T1.flight_id = T2.flight_id "
     "JOIN airport AS T3 ON T2.destination_code = T3.airport_code GROUP BY T3.country "
     "ORDER BY sum(T1.price) DESC"),
    ("Which frequent flyers have booked more than three flights?",
     "SELECT T2.name FROM booking AS T1 JOIN passenger AS T2 ON T1.passenger_id = T2.passenger_id "
     "WHERE T2.frequent_flyer = 1 GROUP BY T1.passenger_id HAVING count(*) > 3"),
    ("What are the names of the origin and destination airports of flight NX116?",
     "SELECT DISTINCT T2.name, T3.name FROM flight AS T1 JOIN airport AS T2 ON T1.origin_code = T2.airport_code "
     "JOIN airport AS T3 ON T1.destination_code = T3.airport_code WHERE T1.flight_number = 'NX116'"),
    ("Which aircraft flew the most flights? Give its tail number and model.",
     "SELECT T2.tail_number, T2.model FROM flight AS T1 JOIN aircraft AS T2 "
     "ON T1.aircraft_id = T2.aircraft_id GROUP BY T1.aircraft_id ORDER BY count(*) DESC LIMIT 1"),
    ("Which passengers paid more for a single booking than the average business class price?",
     "SELECT DISTINCT T2.name FROM booking AS T1 JOIN passenger AS T2 ON T1.passenger_id = T2.passenger_id "
     "WHERE T1.price > (SELECT avg(price) FROM booking WHERE travel_class = 'Business')"),
    ("Which countries have an airport but no flight departing from that country?",
     "SELECT country FROM airport "
     "EXCEPT SELECT T2.country FROM flight AS T1 JOIN airport AS T2 ON T1.origin_code = T2.airport_code"),
    ("How many bookings on cancelled flights were in economy class?",
     "SELECT count(*) FROM booking AS T1 JOIN flight AS T2 ON T1.flight_id = T2.flight_id "
     "WHERE T2.status = 'Cancelled' AND T1.travel_class = 'Economy'"),
    ("What is the average number of checked bags per booking for each aircraft manufacturer?",
     "SELECT T3.manufacturer, avg(T1.checked_bags) FROM booking AS T1 JOIN flight AS T2 "
     "ON T1.flight_id = T2.flight_id JOIN aircraft AS T3 ON T2.aircraft_id = T3.aircraft_id "
     "GROUP BY T3.manufacturer"),
]
