"""Curated value lists and small helpers shared by the demo domains.

Every name here was written for this project. The row generators draw from these lists with a
seeded `random.Random`, so the same seed always yields the same database.
"""

from __future__ import annotations

import datetime
import random

FEMALE_FIRST_NAMES = (
    "Ada", "Aisha", "Alba", "Amara", "Anika", "Astrid", "Beatriz", "Bianca", "Camila", "Chiara",
    "Clara", "Elena", "Emma", "Esther", "Fatima", "Freya", "Grace", "Hana", "Hannah", "Ines",
    "Ingrid", "Jasmine", "Julia", "Laila", "Leah", "Lucia", "Maya", "Mei", "Mia", "Nadia", "Naomi",
    "Olga", "Paula", "Priya", "Rosa", "Ruth", "Sara", "Sofia", "Valentina", "Yara", "Zoe",
)
MALE_FIRST_NAMES = (
    "Adrian", "Alejandro", "Amir", "Arjun", "Benjamin", "Carlos", "Chen", "Daniel", "Dario",
    "Diego", "Elias", "Erik", "Felix", "Gabriel", "Hugo", "Ibrahim", "Isaac", "Ivan", "Jamal",
    "Javier", "Jonas", "Kai", "Kenji", "Lars", "Leon", "Liam", "Luis", "Mateo", "Mikhail", "Nils",
    "Noah", "Omar", "Oscar", "Rafael", "Samuel", "Tariq", "Theo", "Tomas", "Victor", "Yusuf",
)
FIRST_NAMES = FEMALE_FIRST_NAMES + MALE_FIRST_NAMES

LAST_NAMES = (
    "Abbott", "Alvarez", "Andersen", "Bauer", "Bennett", "Brennan", "Campbell", "Castillo",
    "Chandra", "Costa", "Dalton", "Delgado", "Dubois", "Eriksson", "Farouk", "Fischer", "Fontaine",
    "Garcia", "Gallagher", "Haddad", "Hansen", "Hartley", "Holm", "Ibarra", "Ishikawa", "Jansen",
    "Kaur", "Keller", "Kowalski", "Larsen", "Lindqvist", "Lopez", "Mahmoud", "Marino", "Mendes",
    "Moreau", "Murphy", "Nakamura", "Navarro", "Novak", "Okafor", "Olsen", "Ortega", "Park",
    "Patel", "Petrov", "Quinn", "Ramos", "Reyes", "Richter", "Rossi", "Russo", "Santos", "Schmidt",
    "Sato", "Silva", "Sorensen", "Suzuki", "Tanaka", "Torres", "Varga", "Vasquez", "Vogel",
    "Wagner", "Walsh", "Weber", "Whitfield", "Yamamoto", "Young", "Zhang", "Ziegler",
)


def person_names(
    rng: random.Random, count: int, first_names: tuple[str, ...] = FIRST_NAMES
) -> list[str]:
    """`count` distinct "First Last" names, so that names can be used to tell people apart."""
    pool = [f"{first} {last}" for first in first_names for last in LAST_NAMES]
    return rng.sample(pool, count)


def people(rng: random.Random, count: int) -> list[tuple[str, str]]:
    """`count` distinct (name, sex) pairs, sex "F" or "M" agreeing with the first name."""
    pool = [(f"{first} {last}", "F") for first in FEMALE_FIRST_NAMES for last in LAST_NAMES]
    pool += [(f"{first} {last}", "M") for first in MALE_FIRST_NAMES for last in LAST_NAMES]
    return rng.sample(pool, count)


def parse_date(text: str) -> datetime.date:
    return datetime.date.fromisoformat(text)


def random_date(rng: random.Random, start: str, end: str) -> str:
    """A uniformly drawn 'YYYY-MM-DD' date between start and end, both inclusive."""
    first, last = parse_date(start), parse_date(end)
    offset = rng.randint(0, (last - first).days)
    return (first + datetime.timedelta(days=offset)).isoformat()


def add_days(day: str, days: int) -> str:
    return (parse_date(day) + datetime.timedelta(days=days)).isoformat()


def money(value: float) -> float:
    """Round to cents so that stored prices look like prices and dump identically."""
    return round(value, 2)
