"""A regional football league over two seasons: stadiums, clubs, players, games and goals."""

from __future__ import annotations

import math
import random

from spft_jax.demo.values import MALE_FIRST_NAMES, add_days, person_names, random_date

DB_ID = "football_league"
SEED = 7707

SCHEMA = (
    """CREATE TABLE stadium (
        stadium_id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        city TEXT,
        capacity INTEGER,
        opened_year INTEGER,
        surface TEXT
    )""",
    """CREATE TABLE club (
        club_id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        city TEXT,
        founded_year INTEGER,
        stadium_id INTEGER NOT NULL,
        manager_name TEXT,
        FOREIGN KEY (stadium_id) REFERENCES stadium(stadium_id)
    )""",
    """CREATE TABLE player (
        player_id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        club_id INTEGER NOT NULL,
        position TEXT,
        nationality TEXT,
        birth_date TEXT,
        shirt_number INTEGER,
        market_value REAL,
        FOREIGN KEY (club_id) REFERENCES club(club_id)
    )""",
    """CREATE TABLE game (
        game_id INTEGER PRIMARY KEY,
        season TEXT NOT NULL,
        game_date TEXT NOT NULL,
        home_club_id INTEGER NOT NULL,
        away_club_id INTEGER NOT NULL,
        home_goals INTEGER,
        away_goals INTEGER,
        attendance INTEGER,
        FOREIGN KEY (home_club_id) REFERENCES club(club_id),
        FOREIGN KEY (away_club_id) REFERENCES club(club_id)
    )""",
    """CREATE TABLE goal (
        goal_id INTEGER PRIMARY KEY,
        game_id INTEGER NOT NULL,
        player_id INTEGER NOT NULL,
        minute INTEGER,
        is_penalty INTEGER NOT NULL,
        FOREIGN KEY (game_id) REFERENCES game(game_id),
        FOREIGN KEY (player_id) REFERENCES player(player_id)
    )""",
)

NATURAL_NAMES = {
    "player.market_value": "market value in millions",
    "game": "match",
    "game.game_id": "match id",
    "game.game_date": "match date",
    "goal.game_id": "match id",
}
TIME_COLUMNS = frozenset({"player.birth_date", "game.game_date"})
BOOLEAN_COLUMNS = frozenset({"goal.is_penalty"})

STADIUMS = (
    # name, city, capacity, opened, surface
    ("Riverside Park", "Ashford", 24500, 1923, "Grass"),
    ("Kingsport Arena", "Kingsport", 41000, 2006, "Hybrid"),
    ("The Millfield", "Millbrook", 18200, 1911, "Grass"),
    ("Northgate Stadium", "Northgate", 32600, 1998, "Hybrid"),
    ("Harbour Road", "Port Ellis", 15400, 1932, "Grass"),
    ("Redcliffe Lane", "Redcliffe", 12800, 1908, "Grass"),
    ("Stonebridge Community Ground", "Stonebridge", 9500, 2015, "Artificial"),
    ("Albion Park", "Westhaven", 27300, 1964, "Hybrid"),
    ("Victoria Fields", "Kingsport", 8000, 1952, "Grass"),  # used by no club this decade
)

CLUBS = (
    # name, city, founded, stadium (1-based), manager, strength (goals expected per game)
    ("Ashford Athletic", "Ashford", 1889, 1, "Graham Pell", 1.6),
    ("Kingsport United", "Kingsport", 1902, 2, "Marta Sandoval", 2.0),
    ("Kingsport Corinthians", "Kingsport", 1921, 2, "Owen Tally", 1.2),
    ("Millbrook Rangers", "Millbrook", 1894, 3, "Dieter Faust", 1.3),
    ("Northgate City", "Northgate", 1910, 4, "Samira Bell", 1.8),
    ("Port Ellis Wanderers", "Port Ellis", 1899, 5, "Rory Kearns", 1.1),
    ("Redcliffe Town", "Redcliffe", 1886, 6, "Paulo Antunes", 1.0),
    ("Stonebridge FC", "Stonebridge", 2011, 7, "Jenna Holt", 1.4),
    ("Westhaven Albion", "Westhaven", 1897, 8, "Luc Marchetti", 1.7),
    ("Eastbury Rovers", "Eastbury", 1925, 6, "Hal Brightwell", 0.9),
)

SEASONS = (("2022-23", "2022-08-06"), ("2023-24", "2023-08-05"))
NATIONALITIES = ("England", "England", "England", "Scotland", "Wales", "Ireland", "France",
                 "Spain", "Portugal", "Nigeria", "Ghana", "Brazil", "Netherlands", "Norway",
                 "Japan", "United States")
SQUAD = (("Goalkeeper", 2), ("Defender", 7), ("Midfielder", 7), ("Forward", 6))
_SCORING_WEIGHT = {"Goalkeeper": 0, "Defender": 1, "Midfielder": 3, "Forward": 7}


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method; goals per team per game are close to Poisson distributed."""
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _round_robin(teams: list[int]) -> list[list[tuple[int, int]]]:
    """The circle method: every team meets every other once per half season."""
    teams = list(teams)
    rounds = []
    for r in range(len(teams) - 1):
        pairs = [(teams[i], teams[-1 - i]) for i in range(len(teams) // 2)]
        rounds.append([(a, b) if r % 2 == 0 else (b, a) for a, b in pairs])
        teams = [teams[0], teams[-1]] + teams[1:-1]
    return rounds


def rows(rng: random.Random) -> dict[str, list[tuple]]:
    stadium = [(i + 1, *s) for i, s in enumerate(STADIUMS)]
    club = [(i + 1, *c[:5]) for i, c in enumerate(CLUBS)]

    player = []
    squad_of: dict[int, list[tuple]] = {}
    names = person_names(rng, 22 * len(CLUBS), MALE_FIRST_NAMES)  # a men's league
    for club_id in range(1, len(CLUBS) + 1):
        # Goalkeepers (listed first in SQUAD) wear 1 and 13; everyone else a distinct number.
        numbers = [1, 13] + rng.sample([n for n in range(2, 36) if n != 13], 20)
        k = 0
        for position, count in SQUAD:
            for _ in range(count):
                name = names[len(player)]
                born = random_date(rng, "1987-01-01", "2005-12-31")
                # Market value peaks in the mid twenties and scales with the club's strength.
                age = 2024 - int(born[:4])
                value = round(max(0.2, (6 - abs(age - 26) * 0.6) * CLUBS[club_id - 1][5]
                                  * rng.uniform(0.3, 2.2)), 1)
                player.append((len(player) + 1, name, club_id, position, rng.choice(NATIONALITIES),
                               born, numbers[k], value))
                k += 1
        squad_of[club_id] = [p for p in player if p[2] == club_id]

    game, goal = [], []
    for season, first_day in SEASONS:
        half = _round_robin(list(range(1, len(CLUBS) + 1)))
        schedule = half + [[(b, a) for a, b in r] for r in half]  # return fixtures swap venues
        for round_index, fixtures in enumerate(schedule):
            day = add_days(first_day, 14 * round_index + (7 if round_index >= 9 else 0))
            for home, away in fixtures:
                home_goals = _poisson(rng, CLUBS[home - 1][5] * 1.15)
                away_goals = _poisson(rng, CLUBS[away - 1][5] * 0.9)
                capacity = STADIUMS[CLUBS[home - 1][3] - 1][2]
                attendance = int(capacity * rng.uniform(0.55, 1.0))
                game_id = len(game) + 1
                game.append((game_id, season, day, home, away, home_goals, away_goals, attendance))
                scorers = []
                for team, count in ((home, home_goals), (away, away_goals)):
                    squad = squad_of[team]
                    weights = [_SCORING_WEIGHT[p[3]] for p in squad]
                    scorers += [(p[0], rng.randint(1, 90)) for p in rng.choices(squad, weights, k=count)]
                for player_id, minute in sorted(scorers, key=lambda s: s[1]):
                    goal.append((len(goal) + 1, game_id, player_id, minute,
                                 1 if rng.random() < 0.1 else 0))
    return {"stadium": stadium, "club": club, "player": player, "game": game, "goal": goal}


QUESTIONS = [
    # Single-table lookups and counts.
    ("How many clubs are in the league?", "SELECT count(*) FROM club"),
    ("Which stadiums have an artificial pitch?",
     "SELECT name FROM stadium WHERE surface = 'Artificial'"),
    ("How many goalkeepers are registered?",
     "SELECT count(*) FROM player WHERE position = 'Goalkeeper'"),
    ("What is the capacity of Kingsport Arena?",
     "SELECT capacity FROM stadium WHERE name = 'Kingsport Arena'"),
    ("Who manages Northgate City?", "SELECT manager_name FROM club WHERE name = 'Northgate City'"),
    ("What was the highest attendance at any match?", "SELECT max(attendance) FROM game"),
    ("How many matches ended goalless?",
     "SELECT count(*) FROM game WHERE home_goals = 0 AND away_goals = 0"),
    ("List the clubs founded after 1920.", "SELECT name FROM club WHERE founded_year > 1920"),
    ("Which players were born in 2005?",
     "SELECT name FROM player WHERE birth_date BETWEEN '2005-01-01' AND '2005-12-31'"),
    ("How many goals were scored from the penalty spot?",
     "SELECT count(*) FROM goal WHERE is_penalty = 1"),
    ("What are the different nationalities of the players?",
     "SELECT DISTINCT nationality FROM player"),
    ("What is the average market value of a player, in millions?",
     "SELECT avg(market_value) FROM player"),
    ("List the stadiums from the oldest to the newest.", "SELECT name FROM stadium ORDER BY opened_year"),
    ("How many matches were played on 6 April 2024?", "SELECT count(*) FROM game WHERE game_date = '2024-04-06'"),
    # Grouping, ordering, two-table joins.
    ("How many players play in each position?",
     "SELECT position, count(*) FROM player GROUP BY position"),
    ("Who is the most valuable player?", "SELECT name FROM player ORDER BY market_value DESC LIMIT 1"),
    ("Show the name and shirt number of every Westhaven Albion player.",
     "SELECT T1.name, T1.shirt_number FROM player AS T1 JOIN club AS T2 ON T1.club_id = T2.club_id "
     "WHERE T2.name = 'Westhaven Albion'"),
    ("What is the home stadium of Millbrook Rangers?",
     "SELECT T2.name FROM club AS T1 JOIN stadium AS T2 ON T1.stadium_id = T2.stadium_id "
     "WHERE T1.name = 'Millbrook Rangers'"),
    ("How many players does each club have from outside England?",
     "SELECT club_id, count(*) FROM player WHERE nationality != 'England' GROUP BY club_id"),
    ("What is the average attendance in each season?",
     "SELECT season, avg(attendance) FROM game GROUP BY season"),
    ("Which clubs have a name ending in United or City?",
     "SELECT name FROM club WHERE name LIKE '%United' OR name LIKE '%City'"),
    ("Which five matches had the most goals? Give the match id and total goals.",
     "SELECT game_id, home_goals + away_goals FROM game ORDER BY home_goals + away_goals DESC LIMIT 5"),
    ("What is the total market value of each club's squad? Show club names.",
     "SELECT T2.name, sum(T1.market_value) FROM player AS T1 JOIN club AS T2 ON T1.club_id = T2.club_id "
     "GROUP BY T1.club_id"),
    ("Which nationalities have more than 15 players in the league?",
     "SELECT nationality FROM player GROUP BY nationality HAVING count(*) > 15"),
    ("What is the youngest and the oldest birth date among forwards?",
     "SELECT max(birth_date), min(birth_date) FROM player WHERE position = 'Forward'"),
    ("Which matches did Redcliffe Town play at home? Show date and goals for and against.",
     "SELECT T1.game_date, T1.home_goals, T1.away_goals FROM game AS T1 JOIN club AS T2 "
     "ON T1.home_club_id = T2.club_id WHERE T2.name = 'Redcliffe Town'"),
    ("On average, in which minute were first-half goals scored?",
     "SELECT avg(minute) FROM goal WHERE minute <= 45"),
    ("How many goals did each player score? Show player names, top scorers first.",
     "SELECT T2.name, count(*) FROM goal AS T1 JOIN player AS T2 ON T1.player_id = T2.player_id "
     "GROUP BY T1.player_id ORDER BY count(*) DESC"),
    ("Which stadiums hold between 15000 and 30000 spectators?",
     "SELECT name FROM stadium WHERE capacity BETWEEN 15000 AND 30000"),
    ("Which home wins by three or more goals happened in the 2023-24 season? Give match ids.",
     "SELECT game_id FROM game WHERE season = '2023-24' AND home_goals - away_goals >= 3"),
    ("What is the average market value of players by nationality?",
     "SELECT nationality, avg(market_value) FROM player GROUP BY nationality"),
    ("How many goals came in the last ten minutes of a match, after the 80th minute?",
     "SELECT count(*) FROM goal WHERE minute > 80"),
    ("Show the name and capacity of every stadium with a hybrid pitch.",
     "SELECT name, capacity FROM stadium WHERE surface = 'Hybrid'"),
    ("How many matches were played in each season?", "SELECT season, count(*) FROM game GROUP BY season"),
    ("Which clubs play their home games at Harbour Road?",
     "SELECT T1.name FROM club AS T1 JOIN stadium AS T2 ON T1.stadium_id = T2.stadium_id "
     "WHERE T2.name = 'Harbour Road'"),
    ("Who are the ten oldest players?", "SELECT name FROM player ORDER BY birth_date LIMIT 10"),
    ("On average, how many goals did home teams score in each season?",
     "SELECT season, avg(home_goals) FROM game GROUP BY season"),
    ("Which players wear the number 10 shirt? Give their names and club ids.",
     "SELECT name, club_id FROM player WHERE shirt_number = 10"),
    # Nested queries, set operations, HAVING.
    ("Which stadiums are not home to any club?",
     "SELECT name FROM stadium WHERE stadium_id NOT IN (SELECT stadium_id FROM club)"),
    ("Which players are worth more than the average player?",
     "SELECT name FROM player WHERE market_value > (SELECT avg(market_value) FROM player)"),
    ("Which nationality is most common among the players?",
     "SELECT nationality FROM player GROUP BY nationality ORDER BY count(*) DESC LIMIT 1"),
    ("Which players have never scored a goal?",
     "SELECT name FROM player WHERE player_id NOT IN (SELECT player_id FROM goal)"),
    ("Which stadiums are shared by more than one club?",
     "SELECT T2.name FROM club AS T1 JOIN stadium AS T2 ON T1.stadium_id = T2.stadium_id "
     "GROUP BY T1.stadium_id HAVING count(*) > 1"),
    ("Which cities have both a club and a stadium with a grass pitch?",
     "SELECT city FROM club INTERSECT SELECT city FROM stadium WHERE surface = 'Grass'"),
    ("Which cities have a club but no stadium?", "SELECT city FROM club EXCEPT SELECT city FROM stadium"),
    ("Which match had the largest crowd? Give the date and the season.",
     "SELECT game_date, season FROM game WHERE attendance = (SELECT max(attendance) FROM game)"),
    ("Which defenders are valued at more than every goalkeeper?",
     "SELECT name FROM player WHERE position = 'Defender' AND market_value > "
     "(SELECT max(market_value) FROM player WHERE position = 'Goalkeeper')"),
    # Three-table joins, grouped rankings, several nested parts.
    ("How many goals did the top scorer of the 2023-24 season score?",
     "SELECT count(*) FROM goal AS T1 JOIN game AS T2 ON T1.game_id = T2.game_id "
     "WHERE T2.season = '2023-24' GROUP BY T1.player_id ORDER BY count(*) DESC LIMIT 1"),
    ("Which club scored the most goals at home over both seasons?",
     "SELECT T2.name FROM game AS T1 JOIN club AS T2 ON T1.home_club_id = T2.club_id "
     "GROUP BY T1.home_club_id ORDER BY sum(T1.home_goals) DESC LIMIT 1"),
    ("How many goals did the players of each club score? Show club names, most first.",
     "SELECT T3.name, count(*) FROM goal AS T1 JOIN player AS T2 ON T1.player_id = T2.player_id "
     "JOIN club AS T3 ON T2.club_id = T3.club_id GROUP BY T2.club_id ORDER BY count(*) DESC"),
    ("Which players have scored in both seasons?",
     "SELECT T3.name FROM goal AS T1 JOIN game AS T2 ON T1.game_id = T2.game_id JOIN player AS T3 "
     "ON T1.player_id = T3.player_id WHERE T2.season = '2022-23' INTERSECT SELECT T3.name FROM goal AS T1 "
     "JOIN game AS T2 ON T1.game_id = T2.game_id JOIN player AS T3 ON T1.player_id = T3.player_id "
     "WHERE T2.season = '2023-24'"),
    ("Which defenders have scored at least two goals?",
     "SELECT T2.name FROM goal AS T1 JOIN player AS T2 ON T1.player_id = T2.player_id "
     "WHERE T2.position = 'Defender' GROUP BY T1.player_id HAVING count(*) >= 2"),
    ("What is the average attendance at each stadium? Show the stadium names.",
     "SELECT T3.name, avg(T1.attendance) FROM game AS T1 JOIN club AS T2 ON T1.home_club_id = T2.club_id "
     "JOIN stadium AS T3 ON T2.stadium_id = T3.stadium_id GROUP BY T2.stadium_id"),
    ("Which players scored penalties for Kingsport United?",
     "SELECT DISTINCT T2.name FROM goal AS T1 JOIN player AS T2 ON T1.player_id = T2.player_id "
     "JOIN club AS T3 ON T2.club_id = T3.club_id WHERE T3.name = 'Kingsport United' AND T1.is_penalty = 1"),
    ("Which club's players have the highest average market value?",
     "SELECT T2.name FROM player AS T1 JOIN club AS T2 ON T1.club_id = T2.club_id GROUP BY T1.club_id "
     "ORDER BY avg(T1.market_value) DESC LIMIT 1"),
    ("Which clubs never lost a home match in the 2022-23 season?",
     "SELECT name FROM club EXCEPT SELECT T2.name FROM game AS T1 JOIN club AS T2 "
     "ON T1.home_club_id = T2.club_id WHERE T1.season = '2022-23' AND T1.home_goals < T1.away_goals"),
    ("How many away wins did each club have? Show club names, most first.",
     "SELECT T2.name, count(*) FROM game AS T1 JOIN club AS T2 ON T1.away_club_id = T2.club_id "
     "WHERE T1.away_goals > T1.home_goals GROUP BY T1.away_club_id ORDER BY count(*) DESC"),
    ("Which matches drew a bigger crowd than the average 2023-24 match? Give match ids.",
     "SELECT game_id FROM game WHERE attendance > (SELECT avg(attendance) FROM game WHERE season = '2023-24')"),
    ("Which players scored in matches at Albion Park as visitors?",
     "SELECT DISTINCT T3.name FROM goal AS T1 JOIN game AS T2 ON T1.game_id = T2.game_id "
     "JOIN player AS T3 ON T1.player_id = T3.player_id JOIN club AS T4 ON T2.home_club_id = T4.club_id "
     "JOIN stadium AS T5 ON T4.stadium_id = T5.stadium_id WHERE T5.name = 'Albion Park' "
     "AND T3.club_id = T2.away_club_id"),
]
