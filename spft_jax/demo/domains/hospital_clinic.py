"""An outpatient clinic: departments, doctors, patients, appointments and prescriptions."""

from __future__ import annotations

import random

from spft_jax.demo.values import money, people, random_date

DB_ID = "hospital_clinic"
SEED = 2202

SCHEMA = (
    """CREATE TABLE department (
        department_id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        floor INTEGER,
        phone_extension TEXT
    )""",
    """CREATE TABLE doctor (
        doctor_id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        department_id INTEGER NOT NULL,
        seniority TEXT,
        hire_date TEXT,
        annual_salary REAL,
        FOREIGN KEY (department_id) REFERENCES department(department_id)
    )""",
    """CREATE TABLE patient (
        patient_id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        sex TEXT,
        birth_date TEXT,
        city TEXT,
        insurance TEXT
    )""",
    """CREATE TABLE appointment (
        appointment_id INTEGER PRIMARY KEY,
        patient_id INTEGER NOT NULL,
        doctor_id INTEGER NOT NULL,
        appointment_date TEXT NOT NULL,
        reason TEXT,
        fee REAL,
        attended INTEGER NOT NULL,
        FOREIGN KEY (patient_id) REFERENCES patient(patient_id),
        FOREIGN KEY (doctor_id) REFERENCES doctor(doctor_id)
    )""",
    """CREATE TABLE medication (
        medication_id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        manufacturer TEXT,
        unit_price REAL
    )""",
    """CREATE TABLE prescription (
        appointment_id INTEGER NOT NULL,
        medication_id INTEGER NOT NULL,
        dosage_mg INTEGER,
        days INTEGER,
        PRIMARY KEY (appointment_id, medication_id),
        FOREIGN KEY (appointment_id) REFERENCES appointment(appointment_id),
        FOREIGN KEY (medication_id) REFERENCES medication(medication_id)
    )""",
)

NATURAL_NAMES = {
    "prescription.dosage_mg": "dosage in mg",
    "prescription.days": "number of days",
}
TIME_COLUMNS = frozenset({"doctor.hire_date", "patient.birth_date", "appointment.appointment_date"})
BOOLEAN_COLUMNS = frozenset({"appointment.attended"})

DEPARTMENTS = (
    # name, floor, phone extension, base fee, reasons for a visit, medications used (by name)
    ("General Practice", 0, "1001", 60.0,
     ("Annual check-up", "Fever", "Persistent cough", "Sore throat", "Fatigue"),
     ("Paracetamol", "Ibuprofen", "Amoxicillin", "Azithromycin", "Cetirizine")),
    ("Cardiology", 2, "2201", 140.0,
     ("Chest pain", "Blood pressure check", "Palpitations", "Shortness of breath"),
     ("Atorvastatin", "Lisinopril", "Amlodipine", "Bisoprolol", "Clopidogrel")),
    ("Pediatrics", 1, "1150", 80.0,
     ("Vaccination", "Fever", "Ear infection", "Growth check", "Rash"),
     ("Paracetamol", "Ibuprofen", "Amoxicillin", "Cetirizine")),
    ("Orthopedics", 3, "3310", 120.0,
     ("Knee pain", "Back pain", "Sprained ankle", "Fracture follow-up"),
     ("Ibuprofen", "Naproxen", "Diclofenac")),
    ("Dermatology", 1, "1420", 95.0,
     ("Rash", "Acne", "Mole check", "Eczema"),
     ("Hydrocortisone", "Cetirizine", "Doxycycline")),
    ("Neurology", 4, "4105", 150.0,
     ("Migraine", "Dizziness", "Numbness", "Memory problems"),
     ("Gabapentin", "Sumatriptan", "Naproxen")),
    ("Endocrinology", 4, "4230", 130.0,
     ("Diabetes review", "Thyroid check", "Fatigue"),
     ("Metformin", "Levothyroxine", "Insulin glargine")),
    ("Ophthalmology", 2, "2340", 110.0,
     ("Blurred vision", "Eye exam", "Dry eyes"),
     ("Latanoprost", "Timolol", "Artificial tears")),
)

MEDICATIONS = (
    # name, manufacturer, unit price, usual dose in mg
    ("Paracetamol", "Meridian Generics", 0.05, 500),
    ("Ibuprofen", "Meridian Generics", 0.08, 400),
    ("Amoxicillin", "Kestrel Labs", 0.35, 500),
    ("Azithromycin", "Kestrel Labs", 1.20, 250),
    ("Cetirizine", "Bluestone Pharma", 0.10, 10),
    ("Atorvastatin", "Norvale Pharma", 0.22, 20),
    ("Lisinopril", "Norvale Pharma", 0.15, 10),
    ("Amlodipine", "Meridian Generics", 0.12, 5),
    ("Bisoprolol", "Alder Therapeutics", 0.18, 5),
    ("Clopidogrel", "Alder Therapeutics", 0.40, 75),
    ("Naproxen", "Bluestone Pharma", 0.14, 250),
    ("Diclofenac", "Kestrel Labs", 0.20, 50),
    ("Hydrocortisone", "Bluestone Pharma", 0.55, 10),
    ("Doxycycline", "Kestrel Labs", 0.65, 100),
    ("Gabapentin", "Norvale Pharma", 0.45, 300),
    ("Sumatriptan", "Alder Therapeutics", 2.10, 50),
    ("Metformin", "Meridian Generics", 0.09, 850),
    ("Levothyroxine", "Norvale Pharma", 0.11, 1),
    ("Insulin glargine", "Alder Therapeutics", 3.40, 10),
    ("Latanoprost", "Bluestone Pharma", 2.75, 1),
    ("Timolol", "Bluestone Pharma", 1.30, 1),
    ("Artificial tears", "Meridian Generics", 0.30, 1),
    # Stocked but never prescribed in this data, for "never prescribed" questions.
    ("Omeprazole", "Kestrel Labs", 0.16, 20),
    ("Sertraline", "Alder Therapeutics", 0.38, 50),
    ("Salbutamol", "Norvale Pharma", 0.90, 1),
)

SENIORITY = ("Consultant", "Specialist", "Resident")
_SALARY = {"Consultant": (185_000, 260_000), "Specialist": (125_000, 180_000),
           "Resident": (62_000, 90_000)}
_FEE_FACTOR = {"Consultant": 1.5, "Specialist": 1.2, "Resident": 1.0}
CITIES = ("Ashford", "Greenvale", "Millbrook", "Stonebridge", "Fairhaven")
INSURERS = ("Unity Care", "BlueLeaf Health", "Medicare Plus", "Self-pay")


def rows(rng: random.Random) -> dict[str, list[tuple]]:
    department = [(i + 1, d[0], d[1], d[2]) for i, d in enumerate(DEPARTMENTS)]

    names = people(rng, 32 + 170)
    doctor = []
    for doctor_id, (name, _) in enumerate(names[:32], start=1):
        # Round-robin first so that every department has at least three doctors.
        dept = (doctor_id - 1) % len(DEPARTMENTS) + 1 if doctor_id <= 24 else rng.randint(1, 8)
        level = rng.choices(SENIORITY, weights=(3, 4, 3))[0]
        low, high = _SALARY[level]
        doctor.append((doctor_id, name, dept, level, random_date(rng, "1996-01-01", "2023-09-30"),
                       float(rng.randrange(low, high, 500))))

    patient = []
    for patient_id, (name, sex) in enumerate(names[32:], start=1):
        # About a fifth are children, so that Pediatrics has patients to see.
        born = (random_date(rng, "2008-01-01", "2021-12-31") if rng.random() < 0.2
                else random_date(rng, "1938-01-01", "2004-12-31"))
        patient.append((patient_id, name, sex, born,
                        rng.choices(CITIES, weights=(35, 25, 20, 12, 8))[0],
                        rng.choices(INSURERS, weights=(35, 30, 20, 15))[0]))
    children = [p[0] for p in patient if p[3] > "2006-06-30"]
    adults = [p[0] for p in patient if p[3] <= "2006-06-30"]
    seen_adults = rng.sample(adults, len(adults) - 12)  # a few registered patients never came

    medication_ids = {m[0]: i + 1 for i, m in enumerate(MEDICATIONS)}
    medication = [(i + 1, m[0], m[1], m[2]) for i, m in enumerate(MEDICATIONS)]

    appointment, prescription = [], []
    for appointment_id in range(1, 381):
        doc = rng.choice(doctor)
        dept = DEPARTMENTS[doc[2] - 1]
        patient_id = rng.choice(children if dept[0] == "Pediatrics" else seen_adults)
        day = random_date(rng, "2023-01-02", "2024-06-28")
        attended = 0 if rng.random() < 0.1 else 1
        fee = money(dept[3] * _FEE_FACTOR[doc[3]])
        appointment.append((appointment_id, patient_id, doc[0], day, rng.choice(dept[4]), fee,
                            attended))
        if attended and rng.random() < 0.6:
            for med in rng.sample(dept[5], rng.choice((1, 1, 2))):
                dose = MEDICATIONS[medication_ids[med] - 1][3]
                prescription.append((appointment_id, medication_ids[med],
                                     dose * rng.choice((1, 1, 2)), rng.choice((5, 7, 10, 14, 30, 90))))
    return {"department": department, "doctor": doctor, "patient": patient,
            "appointment": appointment, "medication": medication, "prescription": prescription}


QUESTIONS = [
    # Single-table lookups and counts.
    ("How many doctors work at the clinic?", "SELECT count(*) FROM doctor"),
    ("Which departments are on the fourth floor?", "SELECT name FROM department WHERE floor = 4"),
    ("How many patients are insured with Unity Care?",
     "SELECT count(*) FROM patient WHERE insurance = 'Unity Care'"),
    ("What is the phone extension of the Cardiology department?",
     "SELECT phone_extension FROM department WHERE name = 'Cardiology'"),
    ("List the names of all consultants.", "SELECT name FROM doctor WHERE seniority = 'Consultant'"),
    ("What is the average annual salary of a doctor?", "SELECT avg(annual_salary) FROM doctor"),
    ("How many appointments were missed?", "SELECT count(*) FROM appointment WHERE attended = 0"),
    ("Which medications cost more than two dollars per unit?",
     "SELECT name FROM medication WHERE unit_price > 2"),
    ("Show the names of patients born before 1945.",
     "SELECT name FROM patient WHERE birth_date < '1945-01-01'"),
    ("Which doctors were hired in 2020 or later?",
     "SELECT name FROM doctor WHERE hire_date >= '2020-01-01'"),
    ("What are the different reasons patients gave for their visits?",
     "SELECT DISTINCT reason FROM appointment"),
    ("How many appointments took place in the first quarter of 2024?",
     "SELECT count(*) FROM appointment WHERE appointment_date BETWEEN '2024-01-01' AND '2024-03-31'"),
    ("List the medication names in alphabetical order.", "SELECT name FROM medication ORDER BY name"),
    # Grouping, ordering, two-table joins.
    ("How many patients live in each city?", "SELECT city, count(*) FROM patient GROUP BY city"),
    ("Who is the highest-paid doctor?", "SELECT name FROM doctor ORDER BY annual_salary DESC LIMIT 1"),
    ("Show the name and salary of every resident doctor.",
     "SELECT name, annual_salary FROM doctor WHERE seniority = 'Resident'"),
    ("Which doctors work in Neurology?",
     "SELECT T1.name FROM doctor AS T1 JOIN department AS T2 ON T1.department_id = T2.department_id "
     "WHERE T2.name = 'Neurology'"),
    ("How many doctors does each department have? Give the department names.",
     "SELECT T2.name, count(*) FROM doctor AS T1 JOIN department AS T2 "
     "ON T1.department_id = T2.department_id GROUP BY T1.department_id"),
    ("What is the average salary for each seniority level?",
     "SELECT seniority, avg(annual_salary) FROM doctor GROUP BY seniority"),
    ("Which patients have a name starting with the letter M?",
     "SELECT name FROM patient WHERE name LIKE 'M%'"),
    ("Which three medications are the cheapest per unit?",
     "SELECT name FROM medication ORDER BY unit_price LIMIT 3"),
    ("List each manufacturer and how many of our medications it makes.",
     "SELECT manufacturer, count(*) FROM medication GROUP BY manufacturer"),
    ("What was the total fee charged for appointments that patients actually attended?",
     "SELECT sum(fee) FROM appointment WHERE attended = 1"),
    ("Which insurance providers cover more than 40 patients?",
     "SELECT insurance FROM patient GROUP BY insurance HAVING count(*) > 40"),
    ("On which dates did Greenvale patients have appointments?",
     "SELECT DISTINCT T1.appointment_date FROM appointment AS T1 JOIN patient AS T2 "
     "ON T1.patient_id = T2.patient_id WHERE T2.city = 'Greenvale'"),
    ("How many appointments did each doctor have? Show doctor names.",
     "SELECT T2.name, count(*) FROM appointment AS T1 JOIN doctor AS T2 ON T1.doctor_id = T2.doctor_id "
     "GROUP BY T1.doctor_id"),
    ("What is the lowest, highest and average appointment fee?",
     "SELECT min(fee), max(fee), avg(fee) FROM appointment"),
    ("How many female and how many male patients are there?",
     "SELECT sex, count(*) FROM patient GROUP BY sex"),
    ("Which medications were prescribed for 90 days at a time?",
     "SELECT DISTINCT T1.name FROM medication AS T1 JOIN prescription AS T2 "
     "ON T1.medication_id = T2.medication_id WHERE T2.days = 90"),
    ("For every department on floor 1 or 2, give the department name and its extension, sorted by name.",
     "SELECT name, phone_extension FROM department WHERE floor = 1 OR floor = 2 ORDER BY name"),
    ("Which female patients from Millbrook are self-paying?",
     "SELECT name FROM patient WHERE sex = 'F' AND city = 'Millbrook' AND insurance = 'Self-pay'"),
    ("List the names and birth dates of the patients who live in Stonebridge.",
     "SELECT name, birth_date FROM patient WHERE city = 'Stonebridge'"),
    ("How many appointments were booked for each reason?",
     "SELECT reason, count(*) FROM appointment GROUP BY reason"),
    ("Which consultants work in the Cardiology department?",
     "SELECT T1.name FROM doctor AS T1 JOIN department AS T2 ON T1.department_id = T2.department_id "
     "WHERE T2.name = 'Cardiology' AND T1.seniority = 'Consultant'"),
    ("What is the total fee charged by each doctor? Give the doctor ids.",
     "SELECT doctor_id, sum(fee) FROM appointment GROUP BY doctor_id"),
    ("Who are the five oldest patients?", "SELECT name FROM patient ORDER BY birth_date LIMIT 5"),
    ("What is the average unit price of the medications from each manufacturer?",
     "SELECT manufacturer, avg(unit_price) FROM medication GROUP BY manufacturer"),
    ("Which Kestrel Labs medications have been prescribed?",
     "SELECT DISTINCT T1.name FROM medication AS T1 JOIN prescription AS T2 "
     "ON T1.medication_id = T2.medication_id WHERE T1.manufacturer = 'Kestrel Labs'"),
    # Nested queries, set operations, HAVING.
    ("Which medications have never been prescribed?",
     "SELECT name FROM medication WHERE medication_id NOT IN (SELECT medication_id FROM prescription)"),
    ("Which doctors earn more than the average doctor?",
     "SELECT name FROM doctor WHERE annual_salary > (SELECT avg(annual_salary) FROM doctor)"),
    ("Which city do most of our patients come from?",
     "SELECT city FROM patient GROUP BY city ORDER BY count(*) DESC LIMIT 1"),
    ("Which patients are registered but have never had an appointment?",
     "SELECT name FROM patient WHERE patient_id NOT IN (SELECT patient_id FROM appointment)"),
    ("Which reasons for a visit were seen both in 2023 and in 2024?",
     "SELECT reason FROM appointment WHERE appointment_date < '2024-01-01' "
     "INTERSECT SELECT reason FROM appointment WHERE appointment_date >= '2024-01-01'"),
    ("Which manufacturers make medications costing under 15 cents as well as ones costing over "
     "a dollar?",
     "SELECT manufacturer FROM medication WHERE unit_price < 0.15 "
     "INTERSECT SELECT manufacturer FROM medication WHERE unit_price > 1"),
    ("Which seniority level has the most doctors?",
     "SELECT seniority FROM doctor GROUP BY seniority ORDER BY count(*) DESC LIMIT 1"),
    # Three-table joins, grouped rankings, several nested parts.
    ("Which department had the fewest appointments?",
     "SELECT T3.name FROM appointment AS T1 JOIN doctor AS T2 ON T1.doctor_id = T2.doctor_id "
     "JOIN department AS T3 ON T2.department_id = T3.department_id GROUP BY T2.department_id "
     "ORDER BY count(*) LIMIT 1"),
    ("How much fee income did each department bring in from attended appointments?",
     "SELECT T3.name, sum(T1.fee) FROM appointment AS T1 JOIN doctor AS T2 "
     "ON T1.doctor_id = T2.doctor_id JOIN department AS T3 ON T2.department_id = T3.department_id "
     "WHERE T1.attended = 1 GROUP BY T2.department_id"),
    ("Which patient has paid the most in appointment fees, and how much?",
     "SELECT T2.name, sum(T1.fee) FROM appointment AS T1 JOIN patient AS T2 "
     "ON T1.patient_id = T2.patient_id GROUP BY T1.patient_id ORDER BY sum(T1.fee) DESC LIMIT 1"),
    ("Which medication is prescribed most often, and who makes it?",
     "SELECT T1.name, T1.manufacturer FROM medication AS T1 JOIN prescription AS T2 "
     "ON T1.medication_id = T2.medication_id GROUP BY T2.medication_id ORDER BY count(*) DESC LIMIT 1"),
    ("Which patients were prescribed Metformin?",
     "SELECT DISTINCT T3.name FROM prescription AS T1 JOIN appointment AS T2 "
     "ON T1.appointment_id = T2.appointment_id JOIN patient AS T3 ON T2.patient_id = T3.patient_id "
     "JOIN medication AS T4 ON T1.medication_id = T4.medication_id WHERE T4.name = 'Metformin'"),
    ("Which doctors have seen patients from both Ashford and Fairhaven?",
     "SELECT T2.name FROM appointment AS T1 JOIN doctor AS T2 ON T1.doctor_id = T2.doctor_id "
     "JOIN patient AS T3 ON T1.patient_id = T3.patient_id WHERE T3.city = 'Ashford' "
     "INTERSECT SELECT T2.name FROM appointment AS T1 JOIN doctor AS T2 ON T1.doctor_id = T2.doctor_id "
     "JOIN patient AS T3 ON T1.patient_id = T3.patient_id WHERE T3.city = 'Fairhaven'"),
    ("Which doctors have never had a patient miss an appointment?",
     "SELECT name FROM doctor EXCEPT SELECT T2.name FROM appointment AS T1 JOIN doctor AS T2 "
     "ON T1.doctor_id = T2.doctor_id WHERE T1.attended = 0"),
    ("List the departments whose doctors earn more on average than the clinic-wide average salary.",
     "SELECT T2.name FROM doctor AS T1 JOIN department AS T2 ON T1.department_id = T2.department_id "
     "GROUP BY T1.department_id HAVING avg(T1.annual_salary) > (SELECT avg(annual_salary) FROM doctor)"),
    ("For each insurance provider, how many appointments did its patients book? Order from most "
     "to fewest.",
     "SELECT T2.insurance, count(*) FROM appointment AS T1 JOIN patient AS T2 "
     "ON T1.patient_id = T2.patient_id GROUP BY T2.insurance ORDER BY count(*) DESC"),
    ("What is the total cost of each prescription written in cardiology, counting one unit a day? "
     "Show the appointment id and the cost.",
     "SELECT T1.appointment_id, T1.days * T2.unit_price FROM prescription AS T1 JOIN medication AS T2 "
     "ON T1.medication_id = T2.medication_id JOIN appointment AS T3 "
     "ON T1.appointment_id = T3.appointment_id JOIN doctor AS T4 ON T3.doctor_id = T4.doctor_id "
     "JOIN department AS T5 ON T4.department_id = T5.department_id WHERE T5.name = 'Cardiology'"),
    ("Which consultants earn more than every resident?",
     "SELECT name FROM doctor WHERE seniority = 'Consultant' AND annual_salary > "
     "(SELECT max(annual_salary) FROM doctor WHERE seniority = 'Resident')"),
    ("How many Pediatrics appointments did patients miss?",
     "SELECT count(*) FROM appointment AS T1 JOIN doctor AS T2 ON T1.doctor_id = T2.doctor_id "
     "JOIN department AS T3 ON T2.department_id = T3.department_id "
     "WHERE T3.name = 'Pediatrics' AND T1.attended = 0"),
]
