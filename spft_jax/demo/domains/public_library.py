"""A city's public library system: branches, authors, books, members and loans."""

from __future__ import annotations

import random

from spft_jax.demo.values import add_days, person_names, random_date

DB_ID = "public_library"
SEED = 1101

SCHEMA = (
    """CREATE TABLE branch (
        branch_id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        city TEXT NOT NULL,
        opened_year INTEGER,
        open_weekends INTEGER NOT NULL
    )""",
    """CREATE TABLE author (
        author_id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        nationality TEXT,
        birth_year INTEGER
    )""",
    """CREATE TABLE book (
        book_id INTEGER PRIMARY KEY,
        title TEXT NOT NULL,
        author_id INTEGER NOT NULL,
        genre TEXT,
        publication_year INTEGER,
        pages INTEGER,
        branch_id INTEGER NOT NULL,
        FOREIGN KEY (author_id) REFERENCES author(author_id),
        FOREIGN KEY (branch_id) REFERENCES branch(branch_id)
    )""",
    """CREATE TABLE member (
        member_id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        city TEXT,
        membership_type TEXT,
        join_date TEXT,
        home_branch_id INTEGER,
        FOREIGN KEY (home_branch_id) REFERENCES branch(branch_id)
    )""",
    """CREATE TABLE loan (
        loan_id INTEGER PRIMARY KEY,
        book_id INTEGER NOT NULL,
        member_id INTEGER NOT NULL,
        loan_date TEXT NOT NULL,
        due_date TEXT NOT NULL,
        return_date TEXT,
        fine REAL,
        FOREIGN KEY (book_id) REFERENCES book(book_id),
        FOREIGN KEY (member_id) REFERENCES member(member_id)
    )""",
)

NATURAL_NAMES = {
    "branch.open_weekends": "open on weekends",
    "book.pages": "number of pages",
}
TIME_COLUMNS = frozenset({"member.join_date", "loan.loan_date", "loan.due_date", "loan.return_date"})
BOOLEAN_COLUMNS = frozenset({"branch.open_weekends"})

BRANCHES = (
    # name, city, opened_year, open_weekends
    ("Central Library", "Riverton", 1962, 1),
    ("Oakwood Branch", "Riverton", 1988, 1),
    ("Harbor View Branch", "Port Ellis", 1995, 0),
    ("Maple Street Branch", "Riverton", 2004, 0),
    ("Hillcrest Branch", "Northfield", 1979, 1),
    ("Lakeside Branch", "Port Ellis", 2011, 1),
    ("Westgate Branch", "Northfield", 2016, 0),
    ("Old Mill Branch", "Brookvale", 1971, 0),
)

AUTHORS = (
    # name, nationality, birth_year, main genre
    ("Margaret Ellison", "British", 1921, "Mystery"),
    ("Tomas Halvorsen", "Norwegian", 1948, "Fiction"),
    ("Amara Okonkwo", "Nigerian", 1975, "Fiction"),
    ("Lucia Ferrante", "Italian", 1939, "Poetry"),
    ("Kenji Morimoto", "Japanese", 1962, "Science Fiction"),
    ("Helen Castellano", "American", 1955, "Biography"),
    ("Rafael Quiroga", "Argentine", 1930, "Fiction"),
    ("Ingrid Solberg", "Swedish", 1968, "Mystery"),
    ("Daniel Whitcombe", "British", 1982, "Fantasy"),
    ("Priya Raman", "Indian", 1979, "Science"),
    ("Oskar Lindahl", "Swedish", 1912, "History"),
    ("Claire Beaumont", "French", 1944, "Travel"),
    ("Samuel Adeyemi", "Nigerian", 1987, "Fantasy"),
    ("Elena Varga", "Hungarian", 1958, "History"),
    ("Marcus Holloway", "American", 1971, "Mystery"),
    ("Yuki Tanabe", "Japanese", 1990, "Children"),
    ("Beatriz Moura", "Brazilian", 1965, "Fiction"),
    ("Henry Ashford", "British", 1905, "History"),
    ("Nadia Karimova", "Russian", 1950, "Science Fiction"),
    ("Jonah Pereira", "Brazilian", 1984, "Children"),
    ("Greta Vos", "Dutch", 1926, "Poetry"),
    ("Victor Delacroix", "French", 1918, "Fiction"),
    ("Maya Lindstrom", "American", 1992, "Science"),
    ("Arjun Mehta", "Indian", 1960, "Travel"),
    ("Sofia Castell", "Spanish", 1973, "Biography"),
    ("Walter Brandt", "German", 1934, "Science"),
    ("Leila Haddad", "Lebanese", 1981, "Poetry"),
    # The last three have no books in the catalogue (for "authors without books" questions).
    ("Cormac Delaney", "Irish", 1946, "Fiction"),
    ("Anneliese Kroll", "German", 1966, "Mystery"),
    ("Tobias Reed", "Canadian", 1977, "Travel"),
)
AUTHORS_WITH_BOOKS = 27

# Title building blocks per genre; combined and sampled so that titles read like real ones.
_ADJECTIVES = ("Silent", "Hidden", "Last", "Broken", "Golden", "Distant", "Forgotten", "Quiet",
               "Winter", "Crimson", "Endless", "Northern", "Secret", "Midnight", "Wandering")
_NOUNS = ("River", "Garden", "Harbor", "Orchard", "Lantern", "Season", "Letters", "Compass",
          "Tide", "Island", "Bridge", "Voyage", "Meadow", "Lighthouse", "Frontier")
_PLACES = ("Venice", "Patagonia", "the Andes", "Lapland", "Morocco", "the Baltic", "Kyoto",
           "the Sahara", "Iceland", "the Balkans", "Sicily", "Mongolia")
_TOPICS = ("Salt", "Clocks", "Bridges", "Maps", "Silk", "Printing", "Ships", "Bread", "Glass",
           "Railways", "Coffee", "Paper", "Medicine", "Trade Winds")
_SCIENCE = ("Sleep", "Light", "Memory", "Forests", "Oceans", "Bees", "Volcanoes", "Stars",
            "the Brain", "Weather", "Numbers", "Soil")
_LIVES = ("a Painter", "a Composer", "a Sea Captain", "a Chess Master", "an Inventor",
          "a Botanist", "a Mountaineer", "a Stage Actress", "a Mapmaker", "a Surgeon")
_SETTINGS = ("Harbor", "Orchard", "Lighthouse", "Vicarage", "Grand Hotel", "Old Mill", "Opera",
             "Abbey", "Station", "Manor", "Regatta", "Museum")
_POEM_NOUNS = ("River", "Garden", "Harbor", "Orchard", "Lantern", "Season", "Tide", "Island",
               "Meadow", "Sea", "Hills", "North Wind", "Night", "Birches", "Salt Marsh")
_CREATURES = ("Fox", "Owl", "Little Bear", "Hedgehog", "Otter", "Tiny Dragon", "Snail", "Kite")
_REALMS = ("Ashen Crown", "Seventh Gate", "Glass Throne", "Ember Isles", "Iron Forest",
           "Sunken Keep", "Raven Court", "Storm Citadel")
_WORLDS = ("Kepler Station", "the Outer Ring", "Titan", "the Long Orbit", "Europa",
           "the Last Colony", "Proxima", "the Drift")


def _title_candidates(genre: str) -> list[str]:
    if genre == "Fiction":
        return [f"The {a} {n}" for a in _ADJECTIVES for n in _NOUNS]
    if genre == "Mystery":
        return ([f"Murder at the {n}" for n in _SETTINGS] + [f"The {a} Affair" for a in _ADJECTIVES]
                + [f"Death in {p}" for p in _PLACES])
    if genre == "Science Fiction":
        return [f"{w} Rising" for w in _WORLDS] + [f"Signals from {w}" for w in _WORLDS] + [
            f"The {a} Orbit" for a in _ADJECTIVES]
    if genre == "Fantasy":
        return [f"The {r}" for r in _REALMS] + [f"Heir of the {r}" for r in _REALMS] + [
            f"The {a} Sword" for a in _ADJECTIVES]
    if genre == "History":
        return [f"A History of {t}" for t in _TOPICS] + [f"The Age of {t}" for t in _TOPICS]
    if genre == "Science":
        return [f"The Science of {s}" for s in _SCIENCE] + [f"How {s} Work" for s in _SCIENCE]
    if genre == "Biography":
        return [f"The Life of {life}" for life in _LIVES] + [f"Portrait of {life}" for life in _LIVES]
    if genre == "Travel":
        return [f"Travels in {p}" for p in _PLACES] + [f"A Year in {p}" for p in _PLACES]
    if genre == "Poetry":
        return [f"{n} and Other Poems" for n in _POEM_NOUNS] + [f"Songs of the {n}" for n in _POEM_NOUNS]
    if genre == "Children":
        return [f"The {c} Who Could Not Sleep" for c in _CREATURES] + [
            f"{c} Finds a Home" for c in _CREATURES]
    raise ValueError(genre)


GENRES = ("Fiction", "Mystery", "Science Fiction", "Fantasy", "History", "Science", "Biography",
          "Travel", "Poetry", "Children")
_PAGES = {"Poetry": (60, 180), "Children": (24, 96)}

CITIES = ("Riverton", "Port Ellis", "Northfield", "Brookvale", "Cedar Falls")
MEMBERSHIP_TYPES = ("Standard", "Student", "Senior", "Family")


def rows(rng: random.Random) -> dict[str, list[tuple]]:
    branch = [(i + 1, *b) for i, b in enumerate(BRANCHES)]
    author = [(i + 1, name, nat, year) for i, (name, nat, year, _) in enumerate(AUTHORS)]

    book = []
    titles_left = {g: _title_candidates(g) for g in GENRES}
    for g in GENRES:
        rng.shuffle(titles_left[g])
    # Every author with books gets at least one; the rest of the 150 go to random authors.
    owners = list(range(AUTHORS_WITH_BOOKS)) + [
        rng.randrange(AUTHORS_WITH_BOOKS) for _ in range(150 - AUTHORS_WITH_BOOKS)]
    for book_id, a in enumerate(sorted(owners), start=1):
        _, _, birth_year, main_genre = AUTHORS[a]
        genre = main_genre if rng.random() < 0.9 else rng.choice(GENRES)
        if not titles_left[genre]:
            genre = main_genre
        title = titles_left[genre].pop()
        year = min(2024, birth_year + rng.randint(24, 62))
        low, high = _PAGES.get(genre, (160, 880))
        book.append((book_id, title, a + 1, genre, year, rng.randint(low, high),
                     rng.randint(1, len(BRANCHES))))

    names = person_names(rng, 120)
    member = []
    for member_id, name in enumerate(names, start=1):
        city = rng.choices(CITIES, weights=(45, 25, 18, 8, 4))[0]
        local = [b[0] for b in branch if b[2] == city] or [1]
        kind = rng.choices(MEMBERSHIP_TYPES, weights=(50, 20, 18, 12))[0]
        member.append((member_id, name, city, kind, random_date(rng, "2014-01-01", "2024-03-31"),
                       rng.choice(local)))

    # Some books are never lent and some members never borrow, so NOT IN questions have answers.
    lent_books = rng.sample(range(1, len(book) + 1), 128)
    borrowers = rng.sample(range(1, len(member) + 1), 104)
    loan = []
    for loan_id in range(1, 321):
        member_id = rng.choice(borrowers)
        join_date = member[member_id - 1][4]
        loan_date = random_date(rng, max(join_date, "2022-01-01"), "2024-06-30")
        due_date = add_days(loan_date, 21)
        if (loan_date > "2024-06-05" and rng.random() < 0.7) or rng.random() < 0.03:
            return_date, fine = None, None  # still out on the snapshot date
        else:
            kept = rng.choice((rng.randint(4, 21), rng.randint(4, 21), rng.randint(15, 45)))
            return_date = add_days(loan_date, kept)
            fine = round(0.25 * max(0, kept - 21), 2)
        loan.append((loan_id, rng.choice(lent_books), member_id, loan_date, due_date,
                     return_date, fine))
    return {"branch": branch, "author": author, "book": book, "member": member, "loan": loan}


QUESTIONS = [
    # Single-table lookups and counts.
    ("How many books does the library have?", "SELECT count(*) FROM book"),
    ("List the names of the branches that are open on weekends.",
     "SELECT name FROM branch WHERE open_weekends = 1"),
    ("What are the titles of books with more than 800 pages?",
     "SELECT title FROM book WHERE pages > 800"),
    ("How many members have a student membership?",
     "SELECT count(*) FROM member WHERE membership_type = 'Student'"),
    ("What is the average number of pages in a book?", "SELECT avg(pages) FROM book"),
    ("Show all the different genres in the catalogue.", "SELECT DISTINCT genre FROM book"),
    ("Which authors were born before 1930?", "SELECT name FROM author WHERE birth_year < 1930"),
    ("How many loans are still out, i.e. not returned yet?",
     "SELECT count(*) FROM loan WHERE return_date IS NULL"),
    ("What is the highest fine ever charged on a loan?", "SELECT max(fine) FROM loan"),
    ("List the branch names from the oldest branch to the newest.",
     "SELECT name FROM branch ORDER BY opened_year"),
    ("Which members joined on or after 1 January 2024?",
     "SELECT name FROM member WHERE join_date >= '2024-01-01'"),
    ("How many different nationalities do our authors have?",
     "SELECT count(DISTINCT nationality) FROM author"),
    ("Give me the titles of the books published between 1990 and 1995.",
     "SELECT title FROM book WHERE publication_year BETWEEN 1990 AND 1995"),
    ("How many loans were made during 2023?",
     "SELECT count(*) FROM loan WHERE loan_date BETWEEN '2023-01-01' AND '2023-12-31'"),
    ("What is the total of all fines charged so far?", "SELECT sum(fine) FROM loan"),
    # Grouping, ordering, two-table joins.
    ("How many books are there in each genre?", "SELECT genre, count(*) FROM book GROUP BY genre"),
    ("What is the title of the longest book?", "SELECT title FROM book ORDER BY pages DESC LIMIT 1"),
    ("Show the name and city of every member with a senior membership.",
     "SELECT name, city FROM member WHERE membership_type = 'Senior'"),
    ("Which books did Margaret Ellison write?",
     "SELECT T1.title FROM book AS T1 JOIN author AS T2 ON T1.author_id = T2.author_id "
     "WHERE T2.name = 'Margaret Ellison'"),
    ("Find the books whose title contains the word History.",
     "SELECT title FROM book WHERE title LIKE '%History%'"),
    ("For every branch, show its name and how many books it holds.",
     "SELECT T2.name, count(*) FROM book AS T1 JOIN branch AS T2 ON T1.branch_id = T2.branch_id "
     "GROUP BY T1.branch_id"),
    ("What is the average fine for each membership type?",
     "SELECT T2.membership_type, avg(T1.fine) FROM loan AS T1 JOIN member AS T2 "
     "ON T1.member_id = T2.member_id GROUP BY T2.membership_type"),
    ("Name the five youngest authors.", "SELECT name FROM author ORDER BY birth_year DESC LIMIT 5"),
    ("Who borrowed a book in June 2024?",
     "SELECT DISTINCT T2.name FROM loan AS T1 JOIN member AS T2 ON T1.member_id = T2.member_id "
     "WHERE T1.loan_date BETWEEN '2024-06-01' AND '2024-06-30'"),
    ("How many books published after 2000 are there per genre?",
     "SELECT genre, count(*) FROM book WHERE publication_year > 2000 GROUP BY genre"),
    ("What are the smallest, largest and average page counts of our books?",
     "SELECT min(pages), max(pages), avg(pages) FROM book"),
    ("Which genres have an average length of more than 500 pages?",
     "SELECT genre FROM book GROUP BY genre HAVING avg(pages) > 500"),
    ("How many members live in each city?", "SELECT city, count(*) FROM member GROUP BY city"),
    ("Which branch opened most recently, and in which city is it?",
     "SELECT name, city FROM branch ORDER BY opened_year DESC LIMIT 1"),
    ("Which book titles are currently out on loan?",
     "SELECT T1.title FROM book AS T1 JOIN loan AS T2 ON T1.book_id = T2.book_id "
     "WHERE T2.return_date IS NULL"),
    ("List the titles and publication years of the poetry books, newest first.",
     "SELECT title, publication_year FROM book WHERE genre = 'Poetry' "
     "ORDER BY publication_year DESC"),
    ("Which authors have written more than eight books?",
     "SELECT T2.name FROM book AS T1 JOIN author AS T2 ON T1.author_id = T2.author_id "
     "GROUP BY T1.author_id HAVING count(*) > 8"),
    ("How many members does each branch count as its home branch? Show the branch name too.",
     "SELECT T2.name, count(*) FROM member AS T1 JOIN branch AS T2 "
     "ON T1.home_branch_id = T2.branch_id GROUP BY T1.home_branch_id"),
    ("Show the loan dates and due dates of the loans that were returned late.",
     "SELECT loan_date, due_date FROM loan WHERE return_date > due_date"),
    ("Which members who are in the Family plan live in Port Ellis?",
     "SELECT name FROM member WHERE membership_type = 'Family' AND city = 'Port Ellis'"),
    ("Show the title and page count of every children's book.",
     "SELECT title, pages FROM book WHERE genre = 'Children'"),
    ("Which members joined in 2016? Give their names and membership types.",
     "SELECT name, membership_type FROM member WHERE join_date BETWEEN '2016-01-01' AND '2016-12-31'"),
    ("How many times has each member borrowed a book? Show member names.",
     "SELECT T2.name, count(*) FROM loan AS T1 JOIN member AS T2 ON T1.member_id = T2.member_id "
     "GROUP BY T1.member_id"),
    ("What is the average length of the books in each genre?",
     "SELECT genre, avg(pages) FROM book GROUP BY genre"),
    ("In which city is the branch that holds Murder at the Opera?",
     "SELECT T2.city FROM book AS T1 JOIN branch AS T2 ON T1.branch_id = T2.branch_id "
     "WHERE T1.title = 'Murder at the Opera'"),
    ("List the British authors and their birth years, oldest first.",
     "SELECT name, birth_year FROM author WHERE nationality = 'British' ORDER BY birth_year"),
    ("How many books by Swedish authors does the library hold?",
     "SELECT count(*) FROM book AS T1 JOIN author AS T2 ON T1.author_id = T2.author_id "
     "WHERE T2.nationality = 'Swedish'"),
    # Nested queries, set operations, HAVING.
    ("Which authors have no books in the catalogue?",
     "SELECT name FROM author WHERE author_id NOT IN (SELECT author_id FROM book)"),
    ("List the titles of books that are longer than the average book.",
     "SELECT title FROM book WHERE pages > (SELECT avg(pages) FROM book)"),
    ("Which genre has the most books?",
     "SELECT genre FROM book GROUP BY genre ORDER BY count(*) DESC LIMIT 1"),
    ("Which members have never borrowed anything?",
     "SELECT name FROM member WHERE member_id NOT IN (SELECT member_id FROM loan)"),
    ("In which cities is there both a branch and at least one member?",
     "SELECT city FROM branch INTERSECT SELECT city FROM member"),
    ("Which genres include both books published before 1960 and books published after 2015?",
     "SELECT genre FROM book WHERE publication_year < 1960 "
     "INTERSECT SELECT genre FROM book WHERE publication_year > 2015"),
    ("Which cities have members but no branch?",
     "SELECT city FROM member EXCEPT SELECT city FROM branch"),
    ("How many books have never been lent out?",
     "SELECT count(*) FROM book WHERE book_id NOT IN (SELECT book_id FROM loan)"),
    # Three-table joins, grouped rankings, several nested parts.
    ("Which member has paid the most in fines altogether, and how much?",
     "SELECT T2.name, sum(T1.fine) FROM loan AS T1 JOIN member AS T2 ON T1.member_id = T2.member_id "
     "GROUP BY T1.member_id ORDER BY sum(T1.fine) DESC LIMIT 1"),
    ("Which branch's books are borrowed least often? Give the branch name.",
     "SELECT T3.name FROM loan AS T1 JOIN book AS T2 ON T1.book_id = T2.book_id "
     "JOIN branch AS T3 ON T2.branch_id = T3.branch_id GROUP BY T2.branch_id "
     "ORDER BY count(*) LIMIT 1"),
    ("Which authors have had their books borrowed by members on the Family plan?",
     "SELECT DISTINCT T4.name FROM loan AS T1 JOIN member AS T2 ON T1.member_id = T2.member_id "
     "JOIN book AS T3 ON T1.book_id = T3.book_id JOIN author AS T4 ON T3.author_id = T4.author_id "
     "WHERE T2.membership_type = 'Family'"),
    ("Which titles have been borrowed both by students and by seniors?",
     "SELECT T3.title FROM loan AS T1 JOIN member AS T2 ON T1.member_id = T2.member_id "
     "JOIN book AS T3 ON T1.book_id = T3.book_id WHERE T2.membership_type = 'Student' "
     "INTERSECT SELECT T3.title FROM loan AS T1 JOIN member AS T2 ON T1.member_id = T2.member_id "
     "JOIN book AS T3 ON T1.book_id = T3.book_id WHERE T2.membership_type = 'Senior'"),
    ("For each author nationality, how many times have their books been borrowed? "
     "Show the most borrowed nationality first.",
     "SELECT T3.nationality, count(*) FROM loan AS T1 JOIN book AS T2 ON T1.book_id = T2.book_id "
     "JOIN author AS T3 ON T2.author_id = T3.author_id GROUP BY T3.nationality "
     "ORDER BY count(*) DESC"),
    ("Which mystery books have never been borrowed?",
     "SELECT title FROM book WHERE genre = 'Mystery' AND book_id NOT IN (SELECT book_id FROM loan)"),
    ("Which members have borrowed books but never had to pay a fine?",
     "SELECT name FROM member WHERE member_id IN (SELECT member_id FROM loan) "
     "EXCEPT SELECT T2.name FROM loan AS T1 JOIN member AS T2 ON T1.member_id = T2.member_id "
     "WHERE T1.fine > 0"),
    ("What is the most popular genre among student members?",
     "SELECT T3.genre FROM loan AS T1 JOIN member AS T2 ON T1.member_id = T2.member_id "
     "JOIN book AS T3 ON T1.book_id = T3.book_id WHERE T2.membership_type = 'Student' "
     "GROUP BY T3.genre ORDER BY count(*) DESC LIMIT 1"),
    ("List the authors whose books average more pages than the average book, with their "
     "average page count.",
     "SELECT T2.name, avg(T1.pages) FROM book AS T1 JOIN author AS T2 ON T1.author_id = T2.author_id "
     "GROUP BY T1.author_id HAVING avg(T1.pages) > (SELECT avg(pages) FROM book)"),
    ("Which branches in Riverton or Northfield hold more than 15 books?",
     "SELECT T2.name FROM book AS T1 JOIN branch AS T2 ON T1.branch_id = T2.branch_id "
     "WHERE T2.city = 'Riverton' OR T2.city = 'Northfield' GROUP BY T1.branch_id "
     "HAVING count(*) > 15"),
]
