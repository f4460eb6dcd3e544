"""A university's course catalogue: departments, instructors, courses, students, enrollments."""

from __future__ import annotations

import random

from spft_jax.demo.values import person_names

DB_ID = "university_courses"
SEED = 3303

SCHEMA = (
    """CREATE TABLE department (
        department_id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        building TEXT,
        budget REAL,
        founded_year INTEGER
    )""",
    """CREATE TABLE instructor (
        instructor_id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        department_id INTEGER NOT NULL,
        academic_rank TEXT,
        salary REAL,
        hire_year INTEGER,
        FOREIGN KEY (department_id) REFERENCES department(department_id)
    )""",
    """CREATE TABLE course (
        course_id INTEGER PRIMARY KEY,
        code TEXT NOT NULL,
        title TEXT NOT NULL,
        department_id INTEGER NOT NULL,
        instructor_id INTEGER,
        credits INTEGER,
        level INTEGER,
        FOREIGN KEY (department_id) REFERENCES department(department_id),
        FOREIGN KEY (instructor_id) REFERENCES instructor(instructor_id)
    )""",
    """CREATE TABLE student (
        student_id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        major_department_id INTEGER,
        enrollment_year INTEGER,
        gpa REAL,
        home_country TEXT,
        FOREIGN KEY (major_department_id) REFERENCES department(department_id)
    )""",
    """CREATE TABLE enrollment (
        student_id INTEGER NOT NULL,
        course_id INTEGER NOT NULL,
        semester TEXT,
        grade TEXT,
        PRIMARY KEY (student_id, course_id),
        FOREIGN KEY (student_id) REFERENCES student(student_id),
        FOREIGN KEY (course_id) REFERENCES course(course_id)
    )""",
)

NATURAL_NAMES = {
    "course.code": "course code",
    "course.title": "course title",
    "course.level": "course level",
    "student.gpa": "grade point average",
    "student.major_department_id": "major department id",
}
TIME_COLUMNS: frozenset[str] = frozenset()
BOOLEAN_COLUMNS: frozenset[str] = frozenset()

DEPARTMENTS = (
    # name, building, budget, founded, course prefix, courses (title, level, credits)
    ("Computer Science", "North Tower", 4_200_000.0, 1968, "CS", (
        ("Introduction to Programming", 101, 4), ("Data Structures", 201, 4),
        ("Algorithms", 301, 4), ("Databases", 305, 3), ("Operating Systems", 310, 4),
        ("Computer Networks", 320, 3), ("Machine Learning", 410, 3), ("Compiler Design", 420, 3))),
    ("Mathematics", "Elm Court", 2_100_000.0, 1921, "MATH", (
        ("Calculus I", 101, 4), ("Calculus II", 102, 4), ("Linear Algebra", 201, 3),
        ("Probability", 220, 3), ("Real Analysis", 310, 3), ("Abstract Algebra", 320, 3),
        ("Number Theory", 330, 3), ("Numerical Methods", 410, 3))),
    ("Physics", "Harper Building", 3_600_000.0, 1925, "PHYS", (
        ("Mechanics", 101, 4), ("Electricity and Magnetism", 201, 4), ("Thermodynamics", 220, 3),
        ("Quantum Mechanics", 310, 4), ("Optics", 320, 3), ("Astrophysics", 410, 3))),
    ("History", "Old Quad", 950_000.0, 1904, "HIST", (
        ("World History", 101, 3), ("Medieval Europe", 210, 3), ("History of Science", 250, 3),
        ("The Industrial Revolution", 310, 3), ("Modern Asia", 320, 3), ("Historiography", 410, 2))),
    ("Economics", "Granite Hall", 1_750_000.0, 1952, "ECON", (
        ("Principles of Economics", 101, 3), ("Microeconomics", 201, 3),
        ("Macroeconomics", 202, 3), ("Econometrics", 310, 4), ("Behavioral Economics", 330, 3),
        ("International Trade", 410, 3))),
    ("Biology", "Science Park A", 3_100_000.0, 1947, "BIO", (
        ("General Biology", 101, 4), ("Genetics", 201, 4), ("Cell Biology", 210, 4),
        ("Ecology", 220, 3), ("Molecular Biology", 310, 4), ("Neuroscience", 410, 3))),
    ("English Literature", "Old Quad", 820_000.0, 1910, "ENGL", (
        ("Academic Writing", 101, 2), ("Poetry Workshop", 210, 3), ("The Modern Novel", 220, 3),
        ("Shakespeare Studies", 310, 3), ("Literary Theory", 410, 3))),
)

RANKS = ("Professor", "Associate Professor", "Assistant Professor", "Lecturer")
_SALARY = {"Professor": (118_000, 165_000), "Associate Professor": (92_000, 120_000),
           "Assistant Professor": (74_000, 95_000), "Lecturer": (52_000, 70_000)}
COUNTRIES = ("United States", "Canada", "India", "China", "Germany", "Brazil", "Nigeria", "Mexico",
             "Japan", "South Korea")
GRADES = ("A", "B", "C", "D", "F")
_GRADE_POINTS = {"A": 4.0, "B": 3.0, "C": 2.0, "D": 1.0, "F": 0.0}


def _semesters(first_year: int) -> list[str]:
    """The terms a student who started in first_year's autumn can have taken, up to Spring 2024."""
    terms = []
    for year in range(first_year, 2024):
        terms += [f"Fall {year}", f"Spring {year + 1}"]
    return terms


def rows(rng: random.Random) -> dict[str, list[tuple]]:
    department = [(i + 1, d[0], d[1], d[2], d[3]) for i, d in enumerate(DEPARTMENTS)]

    names = person_names(rng, 30 + 190)
    instructor = []
    for instructor_id, name in enumerate(names[:30], start=1):
        dept = (instructor_id - 1) % len(DEPARTMENTS) + 1  # 4-5 instructors per department
        academic_rank = rng.choices(RANKS, weights=(3, 3, 3, 2))[0]
        low, high = _SALARY[academic_rank]
        instructor.append((instructor_id, name, dept, academic_rank,
                           float(rng.randrange(low, high, 250)), rng.randint(1988, 2023)))

    course = []
    on_leave = {29, 30}  # two instructors on sabbatical teach nothing this year
    for dept_index, (_, _, _, _, prefix, offerings) in enumerate(DEPARTMENTS, start=1):
        staff = [i[0] for i in instructor if i[2] == dept_index and i[0] not in on_leave]
        for title, level, credits in offerings:
            course.append((len(course) + 1, f"{prefix}{level}", title, dept_index,
                           rng.choice(staff), credits, level // 100 * 100))

    student, enrollment = [], []
    for student_id, name in enumerate(names[30:], start=1):
        major = rng.choices(range(1, 8), weights=(30, 14, 12, 9, 16, 14, 8))[0]
        start = rng.choices((2019, 2020, 2021, 2022, 2023, 2024), weights=(1, 3, 4, 4, 4, 2))[0]
        terms = _semesters(start)
        taken = []
        if terms:  # students admitted in 2024 have not started yet
            in_major = [c for c in course if c[3] == major]
            others = [c for c in course if c[3] != major]
            picks = rng.sample(in_major, min(len(in_major), rng.randint(2, 5)))
            picks += rng.sample(others, rng.randint(1, 3))
            strength = rng.random()  # stronger students collect better grades
            for c in sorted(picks, key=lambda c: c[0]):
                grade = rng.choices(GRADES, weights=(2 + 6 * strength, 4, 3, 1, 1 - 0.8 * strength))[0]
                taken.append(grade)
                enrollment.append((student_id, c[0], rng.choice(terms), grade))
        # GPA agrees with the grades stored in enrollment; NULL for students without grades.
        gpa = round(sum(_GRADE_POINTS[g] for g in taken) / len(taken), 2) if taken else None
        student.append((student_id, name, major, start, gpa, rng.choices(
            COUNTRIES, weights=(40, 6, 10, 9, 5, 5, 4, 5, 3, 3))[0]))
    return {"department": department, "instructor": instructor, "course": course,
            "student": student, "enrollment": enrollment}


QUESTIONS = [
    # Single-table lookups and counts.
    ("How many students are enrolled at the university?", "SELECT count(*) FROM student"),
    ("Which courses are worth four credits?", "SELECT title FROM course WHERE credits = 4"),
    ("In which building is the History department?",
     "SELECT building FROM department WHERE name = 'History'"),
    ("How many instructors hold the rank of full professor?",
     "SELECT count(*) FROM instructor WHERE academic_rank = 'Professor'"),
    ("What is the highest GPA of any student?", "SELECT max(gpa) FROM student"),
    ("List all the different home countries of our students.",
     "SELECT DISTINCT home_country FROM student"),
    ("Which students have a GPA of at least 3.75?", "SELECT name FROM student WHERE gpa >= 3.75"),
    ("How many courses are offered at the 400 level?", "SELECT count(*) FROM course WHERE level = 400"),
    ("What is the total budget of all departments combined?", "SELECT sum(budget) FROM department"),
    ("Give the names of departments founded before 1930.",
     "SELECT name FROM department WHERE founded_year < 1930"),
    ("Which students started between 2020 and 2021?",
     "SELECT name FROM student WHERE enrollment_year BETWEEN 2020 AND 2021"),
    ("Show the department names sorted by budget, largest first.",
     "SELECT name FROM department ORDER BY budget DESC"),
    # Grouping, ordering, two-table joins.
    ("How many instructors are there of each rank?",
     "SELECT academic_rank, count(*) FROM instructor GROUP BY academic_rank"),
    ("Which 100-level courses carry four credits? Give their codes and titles.",
     "SELECT code, title FROM course WHERE level = 100 AND credits = 4"),
    ("List the titles of the courses taught by the Mathematics department.",
     "SELECT T1.title FROM course AS T1 JOIN department AS T2 ON T1.department_id = T2.department_id "
     "WHERE T2.name = 'Mathematics'"),
    ("What is the average salary of instructors in each department? Show department names.",
     "SELECT T2.name, avg(T1.salary) FROM instructor AS T1 JOIN department AS T2 "
     "ON T1.department_id = T2.department_id GROUP BY T1.department_id"),
    ("Which courses have a title that mentions History?",
     "SELECT title FROM course WHERE title LIKE '%History%'"),
    ("Who are the three best-paid instructors?",
     "SELECT name FROM instructor ORDER BY salary DESC LIMIT 3"),
    ("How many students come from each country?",
     "SELECT home_country, count(*) FROM student GROUP BY home_country"),
    ("Which countries send more than 15 students?",
     "SELECT home_country FROM student GROUP BY home_country HAVING count(*) > 15"),
    ("What are the lowest, average and highest GPAs among students?",
     "SELECT min(gpa), avg(gpa), max(gpa) FROM student"),
    ("Show the code and credits of every 100-level course.",
     "SELECT code, credits FROM course WHERE level = 100"),
    ("What courses does Anika Okafor teach?",
     "SELECT T1.title FROM course AS T1 JOIN instructor AS T2 ON T1.instructor_id = T2.instructor_id "
     "WHERE T2.name = 'Anika Okafor'"),
    ("How many students are majoring in each department? Give department names.",
     "SELECT T2.name, count(*) FROM student AS T1 JOIN department AS T2 "
     "ON T1.major_department_id = T2.department_id GROUP BY T1.major_department_id"),
    ("How many enrollments received each letter grade?",
     "SELECT grade, count(*) FROM enrollment GROUP BY grade"),
    ("Which students got an A in Algorithms?",
     "SELECT T1.name FROM student AS T1 JOIN enrollment AS T2 ON T1.student_id = T2.student_id "
     "JOIN course AS T3 ON T2.course_id = T3.course_id WHERE T3.title = 'Algorithms' AND T2.grade = 'A'"),
    ("Which instructors were hired after 2010 and earn less than 85000?",
     "SELECT name FROM instructor WHERE hire_year > 2010 AND salary < 85000"),
    ("What is the average GPA of students who started in each year?",
     "SELECT enrollment_year, avg(gpa) FROM student GROUP BY enrollment_year"),
    ("Show the names and GPAs of the students from India.",
     "SELECT name, gpa FROM student WHERE home_country = 'India'"),
    ("What is the average number of credits of the courses in each department? Give department ids.",
     "SELECT department_id, avg(credits) FROM course GROUP BY department_id"),
    ("Which department does Ruth Jansen teach in?",
     "SELECT T2.name FROM instructor AS T1 JOIN department AS T2 ON T1.department_id = T2.department_id "
     "WHERE T1.name = 'Ruth Jansen'"),
    ("Which courses belong to departments housed in the Old Quad?",
     "SELECT T1.title FROM course AS T1 JOIN department AS T2 ON T1.department_id = T2.department_id "
     "WHERE T2.building = 'Old Quad'"),
    ("List the codes of the 300-level courses in order.",
     "SELECT code FROM course WHERE level = 300 ORDER BY code"),
    ("In which semesters have students taken Linear Algebra?",
     "SELECT DISTINCT T1.semester FROM enrollment AS T1 JOIN course AS T2 ON T1.course_id = T2.course_id "
     "WHERE T2.title = 'Linear Algebra'"),
    # Nested queries, set operations, HAVING.
    ("Which instructors are not teaching any course?",
     "SELECT name FROM instructor WHERE instructor_id NOT IN (SELECT instructor_id FROM course)"),
    ("Which students have a GPA above the average?",
     "SELECT name FROM student WHERE gpa > (SELECT avg(gpa) FROM student)"),
    ("Which home country has the most students?",
     "SELECT home_country FROM student GROUP BY home_country ORDER BY count(*) DESC LIMIT 1"),
    ("Which students have not enrolled in any course yet?",
     "SELECT name FROM student WHERE student_id NOT IN (SELECT student_id FROM enrollment)"),
    ("Which buildings house more than one department?",
     "SELECT building FROM department GROUP BY building HAVING count(*) > 1"),
    ("Which ranks include both instructors hired before 2000 and instructors hired after 2020?",
     "SELECT academic_rank FROM instructor WHERE hire_year < 2000 "
     "INTERSECT SELECT academic_rank FROM instructor WHERE hire_year > 2020"),
    ("Which countries have students who started in 2019 or in 2024?",
     "SELECT home_country FROM student WHERE enrollment_year = 2019 "
     "UNION SELECT home_country FROM student WHERE enrollment_year = 2024"),
    ("Which courses has nobody ever failed?",
     "SELECT title FROM course WHERE course_id NOT IN (SELECT course_id FROM enrollment WHERE grade = 'F')"),
    # Three-table joins, grouped rankings, several nested parts.
    ("Which course has the most students enrolled? Give its title and the number of students.",
     "SELECT T2.title, count(*) FROM enrollment AS T1 JOIN course AS T2 ON T1.course_id = T2.course_id "
     "GROUP BY T1.course_id ORDER BY count(*) DESC LIMIT 1"),
    ("Which department's courses have the most enrollments in total?",
     "SELECT T3.name FROM enrollment AS T1 JOIN course AS T2 ON T1.course_id = T2.course_id "
     "JOIN department AS T3 ON T2.department_id = T3.department_id GROUP BY T2.department_id "
     "ORDER BY count(*) DESC LIMIT 1"),
    ("Which instructors teach courses that students from Brazil have taken?",
     "SELECT DISTINCT T4.name FROM enrollment AS T1 JOIN student AS T2 ON T1.student_id = T2.student_id "
     "JOIN course AS T3 ON T1.course_id = T3.course_id JOIN instructor AS T4 "
     "ON T3.instructor_id = T4.instructor_id WHERE T2.home_country = 'Brazil'"),
    ("Which students took courses both in Computer Science and in Biology?",
     "SELECT T1.name FROM student AS T1 JOIN enrollment AS T2 ON T1.student_id = T2.student_id "
     "JOIN course AS T3 ON T2.course_id = T3.course_id JOIN department AS T4 "
     "ON T3.department_id = T4.department_id WHERE T4.name = 'Computer Science' "
     "INTERSECT SELECT T1.name FROM student AS T1 JOIN enrollment AS T2 ON T1.student_id = T2.student_id "
     "JOIN course AS T3 ON T2.course_id = T3.course_id JOIN department AS T4 "
     "ON T3.department_id = T4.department_id WHERE T4.name = 'Biology'"),
    ("For each instructor who teaches, how many students have they taught in total? Most first.",
     "SELECT T3.name, count(*) FROM enrollment AS T1 JOIN course AS T2 ON T1.course_id = T2.course_id "
     "JOIN instructor AS T3 ON T2.instructor_id = T3.instructor_id GROUP BY T2.instructor_id "
     "ORDER BY count(*) DESC"),
    ("Which Economics majors have a GPA above 3.5?",
     "SELECT T1.name FROM student AS T1 JOIN department AS T2 ON T1.major_department_id = T2.department_id "
     "WHERE T2.name = 'Economics' AND T1.gpa > 3.5"),
    ("Which departments pay their instructors more than the university-wide average salary?",
     "SELECT T2.name FROM instructor AS T1 JOIN department AS T2 ON T1.department_id = T2.department_id "
     "GROUP BY T1.department_id HAVING avg(T1.salary) > (SELECT avg(salary) FROM instructor)"),
    ("How many credits has the student Camila Zhang earned, counting only courses she passed?",
     "SELECT sum(T3.credits) FROM student AS T1 JOIN enrollment AS T2 ON T1.student_id = T2.student_id "
     "JOIN course AS T3 ON T2.course_id = T3.course_id WHERE T1.name = 'Camila Zhang' AND T2.grade != 'F'"),
    ("What is the budget per instructor for each department?",
     "SELECT T1.name, T1.budget / count(*) FROM department AS T1 JOIN instructor AS T2 "
     "ON T1.department_id = T2.department_id GROUP BY T1.department_id"),
    ("Which students majoring in Physics never took a Physics course?",
     "SELECT T1.name FROM student AS T1 JOIN department AS T2 ON T1.major_department_id = T2.department_id "
     "WHERE T2.name = 'Physics' EXCEPT SELECT T1.name FROM student AS T1 JOIN enrollment AS T2 "
     "ON T1.student_id = T2.student_id JOIN course AS T3 ON T2.course_id = T3.course_id "
     "JOIN department AS T4 ON T3.department_id = T4.department_id WHERE T4.name = 'Physics'"),
]
