SELECT count(*) FROM book	public_library
SELECT name FROM branch WHERE open_weekends = 1	public_library
SELECT title FROM book WHERE pages > 800	public_library
SELECT count(*) FROM member WHERE membership_type = 'Student'	public_library
SELECT avg(pages) FROM book	public_library
SELECT DISTINCT genre FROM book	public_library
SELECT name FROM author WHERE birth_year < 1930	public_library
SELECT count(*) FROM loan WHERE return_date IS NULL	public_library
SELECT max(fine) FROM loan	public_library
SELECT name FROM branch ORDER BY opened_year	public_library
SELECT name FROM member WHERE join_date >= '2024-01-01'	public_library
SELECT count(DISTINCT nationality) FROM author	public_library
SELECT title FROM book WHERE publication_year BETWEEN 1990 AND 1995	public_library
SELECT count(*) FROM loan WHERE loan_date BETWEEN '2023-01-01' AND '2023-12-31'	public_library
SELECT sum(fine) FROM loan	public_library
SELECT genre, count(*) FROM book GROUP BY genre	public_library
SELECT title FROM book ORDER BY pages DESC LIMIT 1	public_library
SELECT name, city FROM member WHERE membership_type = 'Senior'	public_library
SELECT T1.title FROM book AS T1 JOIN author AS T2 ON T1.author_id = T2.author_id WHERE T2.name = 'Margaret Ellison'	public_library
SELECT title FROM book WHERE title LIKE '%History%'	public_library
SELECT T2.name, count(*) FROM book AS T1 JOIN branch AS T2 ON T1.branch_id = T2.branch_id GROUP BY T1.branch_id	public_library
SELECT T2.membership_type, avg(T1.fine) FROM loan AS T1 JOIN member AS T2 ON T1.member_id = T2.member_id GROUP BY T2.membership_type	public_library
SELECT name FROM author ORDER BY birth_year DESC LIMIT 5	public_library
SELECT DISTINCT T2.name FROM loan AS T1 JOIN member AS T2 ON T1.member_id = T2.member_id WHERE T1.loan_date BETWEEN '2024-06-01' AND '2024-06-30'	public_library
SELECT genre, count(*) FROM book WHERE publication_year > 2000 GROUP BY genre	public_library
SELECT min(pages), max(pages), avg(pages) FROM book	public_library
SELECT genre FROM book GROUP BY genre HAVING avg(pages) > 500	public_library
SELECT city, count(*) FROM member GROUP BY city	public_library
SELECT name, city FROM branch ORDER BY opened_year DESC LIMIT 1	public_library
SELECT T1.title FROM book AS T1 JOIN loan AS T2 ON T1.book_id = T2.book_id WHERE T2.return_date IS NULL	public_library
SELECT title, publication_year FROM book WHERE genre = 'Poetry' ORDER BY publication_year DESC	public_library
SELECT T2.name FROM book AS T1 JOIN author AS T2 ON T1.author_id = T2.author_id GROUP BY T1.author_id HAVING count(*) > 8	public_library
SELECT T2.name, count(*) FROM member AS T1 JOIN branch AS T2 ON T1.home_branch_id = T2.branch_id GROUP BY T1.home_branch_id	public_library
SELECT loan_date, due_date FROM loan WHERE return_date > due_date	public_library
SELECT name FROM member WHERE membership_type = 'Family' AND city = 'Port Ellis'	public_library
SELECT title, pages FROM book WHERE genre = 'Children'	public_library
SELECT name, membership_type FROM member WHERE join_date BETWEEN '2016-01-01' AND '2016-12-31'	public_library
SELECT T2.name, count(*) FROM loan AS T1 JOIN member AS T2 ON T1.member_id = T2.member_id GROUP BY T1.member_id	public_library
SELECT genre, avg(pages) FROM book GROUP BY genre	public_library
SELECT T2.city FROM book AS T1 JOIN branch AS T2 ON T1.branch_id = T2.branch_id WHERE T1.title = 'Murder at the Opera'	public_library
SELECT name, birth_year FROM author WHERE nationality = 'British' ORDER BY birth_year	public_library
SELECT count(*) FROM book AS T1 JOIN author AS T2 ON T1.author_id = T2.author_id WHERE T2.nationality = 'Swedish'	public_library
SELECT name FROM author WHERE author_id NOT IN (SELECT author_id FROM book)	public_library
SELECT title FROM book WHERE pages > (SELECT avg(pages) FROM book)	public_library
SELECT genre FROM book GROUP BY genre ORDER BY count(*) DESC LIMIT 1	public_library
SELECT name FROM member WHERE member_id NOT IN (SELECT member_id FROM loan)	public_library
SELECT city FROM branch INTERSECT SELECT city FROM member	public_library
SELECT genre FROM book WHERE publication_year < 1960 INTERSECT SELECT genre FROM book WHERE publication_year > 2015	public_library
SELECT city FROM member EXCEPT SELECT city FROM branch	public_library
SELECT count(*) FROM book WHERE book_id NOT IN (SELECT book_id FROM loan)	public_library
SELECT T2.name, sum(T1.fine) FROM loan AS T1 JOIN member AS T2 ON T1.member_id = T2.member_id GROUP BY T1.member_id ORDER BY sum(T1.fine) DESC LIMIT 1	public_library
SELECT T3.name FROM loan AS T1 JOIN book AS T2 ON T1.book_id = T2.book_id JOIN branch AS T3 ON T2.branch_id = T3.branch_id GROUP BY T2.branch_id ORDER BY count(*) LIMIT 1	public_library
SELECT DISTINCT T4.name FROM loan AS T1 JOIN member AS T2 ON T1.member_id = T2.member_id JOIN book AS T3 ON T1.book_id = T3.book_id JOIN author AS T4 ON T3.author_id = T4.author_id WHERE T2.membership_type = 'Family'	public_library
SELECT T3.title FROM loan AS T1 JOIN member AS T2 ON T1.member_id = T2.member_id JOIN book AS T3 ON T1.book_id = T3.book_id WHERE T2.membership_type = 'Student' INTERSECT SELECT T3.title FROM loan AS T1 JOIN member AS T2 ON T1.member_id = T2.member_id JOIN book AS T3 ON T1.book_id = T3.book_id WHERE T2.membership_type = 'Senior'	public_library
SELECT T3.nationality, count(*) FROM loan AS T1 JOIN book AS T2 ON T1.book_id = T2.book_id JOIN author AS T3 ON T2.author_id = T3.author_id GROUP BY T3.nationality ORDER BY count(*) DESC	public_library
SELECT title FROM book WHERE genre = 'Mystery' AND book_id NOT IN (SELECT book_id FROM loan)	public_library
SELECT name FROM member WHERE member_id IN (SELECT member_id FROM loan) EXCEPT SELECT T2.name FROM loan AS T1 JOIN member AS T2 ON T1.member_id = T2.member_id WHERE T1.fine > 0	public_library
SELECT T3.genre FROM loan AS T1 JOIN member AS T2 ON T1.member_id = T2.member_id JOIN book AS T3 ON T1.book_id = T3.book_id WHERE T2.membership_type = 'Student' GROUP BY T3.genre ORDER BY count(*) DESC LIMIT 1	public_library
SELECT T2.name, avg(T1.pages) FROM book AS T1 JOIN author AS T2 ON T1.author_id = T2.author_id GROUP BY T1.author_id HAVING avg(T1.pages) > (SELECT avg(pages) FROM book)	public_library
SELECT T2.name FROM book AS T1 JOIN branch AS T2 ON T1.branch_id = T2.branch_id WHERE T2.city = 'Riverton' OR T2.city = 'Northfield' GROUP BY T1.branch_id HAVING count(*) > 15	public_library
SELECT count(*) FROM doctor	hospital_clinic
SELECT name FROM department WHERE floor = 4	hospital_clinic
SELECT count(*) FROM patient WHERE insurance = 'Unity Care'	hospital_clinic
SELECT phone_extension FROM department WHERE name = 'Cardiology'	hospital_clinic
SELECT name FROM doctor WHERE seniority = 'Consultant'	hospital_clinic
SELECT avg(annual_salary) FROM doctor	hospital_clinic
SELECT count(*) FROM appointment WHERE attended = 0	hospital_clinic
SELECT name FROM medication WHERE unit_price > 2	hospital_clinic
SELECT name FROM patient WHERE birth_date < '1945-01-01'	hospital_clinic
SELECT name FROM doctor WHERE hire_date >= '2020-01-01'	hospital_clinic
SELECT DISTINCT reason FROM appointment	hospital_clinic
SELECT count(*) FROM appointment WHERE appointment_date BETWEEN '2024-01-01' AND '2024-03-31'	hospital_clinic
SELECT name FROM medication ORDER BY name	hospital_clinic
SELECT city, count(*) FROM patient GROUP BY city	hospital_clinic
SELECT name FROM doctor ORDER BY annual_salary DESC LIMIT 1	hospital_clinic
SELECT name, annual_salary FROM doctor WHERE seniority = 'Resident'	hospital_clinic
SELECT T1.name FROM doctor AS T1 JOIN department AS T2 ON T1.department_id = T2.department_id WHERE T2.name = 'Neurology'	hospital_clinic
SELECT T2.name, count(*) FROM doctor AS T1 JOIN department AS T2 ON T1.department_id = T2.department_id GROUP BY T1.department_id	hospital_clinic
SELECT seniority, avg(annual_salary) FROM doctor GROUP BY seniority	hospital_clinic
SELECT name FROM patient WHERE name LIKE 'M%'	hospital_clinic
SELECT name FROM medication ORDER BY unit_price LIMIT 3	hospital_clinic
SELECT manufacturer, count(*) FROM medication GROUP BY manufacturer	hospital_clinic
SELECT sum(fee) FROM appointment WHERE attended = 1	hospital_clinic
SELECT insurance FROM patient GROUP BY insurance HAVING count(*) > 40	hospital_clinic
SELECT DISTINCT T1.appointment_date FROM appointment AS T1 JOIN patient AS T2 ON T1.patient_id = T2.patient_id WHERE T2.city = 'Greenvale'	hospital_clinic
SELECT T2.name, count(*) FROM appointment AS T1 JOIN doctor AS T2 ON T1.doctor_id = T2.doctor_id GROUP BY T1.doctor_id	hospital_clinic
SELECT min(fee), max(fee), avg(fee) FROM appointment	hospital_clinic
SELECT sex, count(*) FROM patient GROUP BY sex	hospital_clinic
SELECT DISTINCT T1.name FROM medication AS T1 JOIN prescription AS T2 ON T1.medication_id = T2.medication_id WHERE T2.days = 90	hospital_clinic
SELECT name, phone_extension FROM department WHERE floor = 1 OR floor = 2 ORDER BY name	hospital_clinic
SELECT name FROM patient WHERE sex = 'F' AND city = 'Millbrook' AND insurance = 'Self-pay'	hospital_clinic
SELECT name, birth_date FROM patient WHERE city = 'Stonebridge'	hospital_clinic
SELECT reason, count(*) FROM appointment GROUP BY reason	hospital_clinic
SELECT T1.name FROM doctor AS T1 JOIN department AS T2 ON T1.department_id = T2.department_id WHERE T2.name = 'Cardiology' AND T1.seniority = 'Consultant'	hospital_clinic
SELECT doctor_id, sum(fee) FROM appointment GROUP BY doctor_id	hospital_clinic
SELECT name FROM patient ORDER BY birth_date LIMIT 5	hospital_clinic
SELECT manufacturer, avg(unit_price) FROM medication GROUP BY manufacturer	hospital_clinic
SELECT DISTINCT T1.name FROM medication AS T1 JOIN prescription AS T2 ON T1.medication_id = T2.medication_id WHERE T1.manufacturer = 'Kestrel Labs'	hospital_clinic
SELECT name FROM medication WHERE medication_id NOT IN (SELECT medication_id FROM prescription)	hospital_clinic
SELECT name FROM doctor WHERE annual_salary > (SELECT avg(annual_salary) FROM doctor)	hospital_clinic
SELECT city FROM patient GROUP BY city ORDER BY count(*) DESC LIMIT 1	hospital_clinic
SELECT name FROM patient WHERE patient_id NOT IN (SELECT patient_id FROM appointment)	hospital_clinic
SELECT reason FROM appointment WHERE appointment_date < '2024-01-01' INTERSECT SELECT reason FROM appointment WHERE appointment_date >= '2024-01-01'	hospital_clinic
SELECT manufacturer FROM medication WHERE unit_price < 0.15 INTERSECT SELECT manufacturer FROM medication WHERE unit_price > 1	hospital_clinic
SELECT seniority FROM doctor GROUP BY seniority ORDER BY count(*) DESC LIMIT 1	hospital_clinic
SELECT T3.name FROM appointment AS T1 JOIN doctor AS T2 ON T1.doctor_id = T2.doctor_id JOIN department AS T3 ON T2.department_id = T3.department_id GROUP BY T2.department_id ORDER BY count(*) LIMIT 1	hospital_clinic
SELECT T3.name, sum(T1.fee) FROM appointment AS T1 JOIN doctor AS T2 ON T1.doctor_id = T2.doctor_id JOIN department AS T3 ON T2.department_id = T3.department_id WHERE T1.attended = 1 GROUP BY T2.department_id	hospital_clinic
SELECT T2.name, sum(T1.fee) FROM appointment AS T1 JOIN patient AS T2 ON T1.patient_id = T2.patient_id GROUP BY T1.patient_id ORDER BY sum(T1.fee) DESC LIMIT 1	hospital_clinic
SELECT T1.name, T1.manufacturer FROM medication AS T1 JOIN prescription AS T2 ON T1.medication_id = T2.medication_id GROUP BY T2.medication_id ORDER BY count(*) DESC LIMIT 1	hospital_clinic
SELECT DISTINCT T3.name FROM prescription AS T1 JOIN appointment AS T2 ON T1.appointment_id = T2.appointment_id JOIN patient AS T3 ON T2.patient_id = T3.patient_id JOIN medication AS T4 ON T1.medication_id = T4.medication_id WHERE T4.name = 'Metformin'	hospital_clinic
SELECT T2.name FROM appointment AS T1 JOIN doctor AS T2 ON T1.doctor_id = T2.doctor_id JOIN patient AS T3 ON T1.patient_id = T3.patient_id WHERE T3.city = 'Ashford' INTERSECT SELECT T2.name FROM appointment AS T1 JOIN doctor AS T2 ON T1.doctor_id = T2.doctor_id JOIN patient AS T3 ON T1.patient_id = T3.patient_id WHERE T3.city = 'Fairhaven'	hospital_clinic
SELECT name FROM doctor EXCEPT SELECT T2.name FROM appointment AS T1 JOIN doctor AS T2 ON T1.doctor_id = T2.doctor_id WHERE T1.attended = 0	hospital_clinic
SELECT T2.name FROM doctor AS T1 JOIN department AS T2 ON T1.department_id = T2.department_id GROUP BY T1.department_id HAVING avg(T1.annual_salary) > (SELECT avg(annual_salary) FROM doctor)	hospital_clinic
SELECT T2.insurance, count(*) FROM appointment AS T1 JOIN patient AS T2 ON T1.patient_id = T2.patient_id GROUP BY T2.insurance ORDER BY count(*) DESC	hospital_clinic
SELECT T1.appointment_id, T1.days * T2.unit_price FROM prescription AS T1 JOIN medication AS T2 ON T1.medication_id = T2.medication_id JOIN appointment AS T3 ON T1.appointment_id = T3.appointment_id JOIN doctor AS T4 ON T3.doctor_id = T4.doctor_id JOIN department AS T5 ON T4.department_id = T5.department_id WHERE T5.name = 'Cardiology'	hospital_clinic
SELECT name FROM doctor WHERE seniority = 'Consultant' AND annual_salary > (SELECT max(annual_salary) FROM doctor WHERE seniority = 'Resident')	hospital_clinic
SELECT count(*) FROM appointment AS T1 JOIN doctor AS T2 ON T1.doctor_id = T2.doctor_id JOIN department AS T3 ON T2.department_id = T3.department_id WHERE T3.name = 'Pediatrics' AND T1.attended = 0	hospital_clinic
SELECT count(*) FROM student	university_courses
SELECT title FROM course WHERE credits = 4	university_courses
SELECT building FROM department WHERE name = 'History'	university_courses
SELECT count(*) FROM instructor WHERE academic_rank = 'Professor'	university_courses
SELECT max(gpa) FROM student	university_courses
SELECT DISTINCT home_country FROM student	university_courses
SELECT name FROM student WHERE gpa >= 3.75	university_courses
SELECT count(*) FROM course WHERE level = 400	university_courses
SELECT sum(budget) FROM department	university_courses
SELECT name FROM department WHERE founded_year < 1930	university_courses
SELECT name FROM student WHERE enrollment_year BETWEEN 2020 AND 2021	university_courses
SELECT name FROM department ORDER BY budget DESC	university_courses
SELECT academic_rank, count(*) FROM instructor GROUP BY academic_rank	university_courses
SELECT code, title FROM course WHERE level = 100 AND credits = 4	university_courses
SELECT T1.title FROM course AS T1 JOIN department AS T2 ON T1.department_id = T2.department_id WHERE T2.name = 'Mathematics'	university_courses
SELECT T2.name, avg(T1.salary) FROM instructor AS T1 JOIN department AS T2 ON T1.department_id = T2.department_id GROUP BY T1.department_id	university_courses
SELECT title FROM course WHERE title LIKE '%History%'	university_courses
SELECT name FROM instructor ORDER BY salary DESC LIMIT 3	university_courses
SELECT home_country, count(*) FROM student GROUP BY home_country	university_courses
SELECT home_country FROM student GROUP BY home_country HAVING count(*) > 15	university_courses
SELECT min(gpa), avg(gpa), max(gpa) FROM student	university_courses
SELECT code, credits FROM course WHERE level = 100	university_courses
SELECT T1.title FROM course AS T1 JOIN instructor AS T2 ON T1.instructor_id = T2.instructor_id WHERE T2.name = 'Anika Okafor'	university_courses
SELECT T2.name, count(*) FROM student AS T1 JOIN department AS T2 ON T1.major_department_id = T2.department_id GROUP BY T1.major_department_id	university_courses
SELECT grade, count(*) FROM enrollment GROUP BY grade	university_courses
SELECT T1.name FROM student AS T1 JOIN enrollment AS T2 ON T1.student_id = T2.student_id JOIN course AS T3 ON T2.course_id = T3.course_id WHERE T3.title = 'Algorithms' AND T2.grade = 'A'	university_courses
SELECT name FROM instructor WHERE hire_year > 2010 AND salary < 85000	university_courses
SELECT enrollment_year, avg(gpa) FROM student GROUP BY enrollment_year	university_courses
SELECT name, gpa FROM student WHERE home_country = 'India'	university_courses
SELECT department_id, avg(credits) FROM course GROUP BY department_id	university_courses
SELECT T2.name FROM instructor AS T1 JOIN department AS T2 ON T1.department_id = T2.department_id WHERE T1.name = 'Ruth Jansen'	university_courses
SELECT T1.title FROM course AS T1 JOIN department AS T2 ON T1.department_id = T2.department_id WHERE T2.building = 'Old Quad'	university_courses
SELECT code FROM course WHERE level = 300 ORDER BY code	university_courses
SELECT DISTINCT T1.semester FROM enrollment AS T1 JOIN course AS T2 ON T1.course_id = T2.course_id WHERE T2.title = 'Linear Algebra'	university_courses
SELECT name FROM instructor WHERE instructor_id NOT IN (SELECT instructor_id FROM course)	university_courses
SELECT name FROM student WHERE gpa > (SELECT avg(gpa) FROM student)	university_courses
SELECT home_country FROM student GROUP BY home_country ORDER BY count(*) DESC LIMIT 1	university_courses
SELECT name FROM student WHERE student_id NOT IN (SELECT student_id FROM enrollment)	university_courses
SELECT building FROM department GROUP BY building HAVING count(*) > 1	university_courses
SELECT academic_rank FROM instructor WHERE hire_year < 2000 INTERSECT SELECT academic_rank FROM instructor WHERE hire_year > 2020	university_courses
SELECT home_country FROM student WHERE enrollment_year = 2019 UNION SELECT home_country FROM student WHERE enrollment_year = 2024	university_courses
SELECT title FROM course WHERE course_id NOT IN (SELECT course_id FROM enrollment WHERE grade = 'F')	university_courses
SELECT T2.title, count(*) FROM enrollment AS T1 JOIN course AS T2 ON T1.course_id = T2.course_id GROUP BY T1.course_id ORDER BY count(*) DESC LIMIT 1	university_courses
SELECT T3.name FROM enrollment AS T1 JOIN course AS T2 ON T1.course_id = T2.course_id JOIN department AS T3 ON T2.department_id = T3.department_id GROUP BY T2.department_id ORDER BY count(*) DESC LIMIT 1	university_courses
SELECT DISTINCT T4.name FROM enrollment AS T1 JOIN student AS T2 ON T1.student_id = T2.student_id JOIN course AS T3 ON T1.course_id = T3.course_id JOIN instructor AS T4 ON T3.instructor_id = T4.instructor_id WHERE T2.home_country = 'Brazil'	university_courses
SELECT T1.name FROM student AS T1 JOIN enrollment AS T2 ON T1.student_id = T2.student_id JOIN course AS T3 ON T2.course_id = T3.course_id JOIN department AS T4 ON T3.department_id = T4.department_id WHERE T4.name = 'Computer Science' INTERSECT SELECT T1.name FROM student AS T1 JOIN enrollment AS T2 ON T1.student_id = T2.student_id JOIN course AS T3 ON T2.course_id = T3.course_id JOIN department AS T4 ON T3.department_id = T4.department_id WHERE T4.name = 'Biology'	university_courses
SELECT T3.name, count(*) FROM enrollment AS T1 JOIN course AS T2 ON T1.course_id = T2.course_id JOIN instructor AS T3 ON T2.instructor_id = T3.instructor_id GROUP BY T2.instructor_id ORDER BY count(*) DESC	university_courses
SELECT T1.name FROM student AS T1 JOIN department AS T2 ON T1.major_department_id = T2.department_id WHERE T2.name = 'Economics' AND T1.gpa > 3.5	university_courses
SELECT T2.name FROM instructor AS T1 JOIN department AS T2 ON T1.department_id = T2.department_id GROUP BY T1.department_id HAVING avg(T1.salary) > (SELECT avg(salary) FROM instructor)	university_courses
SELECT sum(T3.credits) FROM student AS T1 JOIN enrollment AS T2 ON T1.student_id = T2.student_id JOIN course AS T3 ON T2.course_id = T3.course_id WHERE T1.name = 'Camila Zhang' AND T2.grade != 'F'	university_courses
SELECT T1.name, T1.budget / count(*) FROM department AS T1 JOIN instructor AS T2 ON T1.department_id = T2.department_id GROUP BY T1.department_id	university_courses
SELECT T1.name FROM student AS T1 JOIN department AS T2 ON T1.major_department_id = T2.department_id WHERE T2.name = 'Physics' EXCEPT SELECT T1.name FROM student AS T1 JOIN enrollment AS T2 ON T1.student_id = T2.student_id JOIN course AS T3 ON T2.course_id = T3.course_id JOIN department AS T4 ON T3.department_id = T4.department_id WHERE T4.name = 'Physics'	university_courses
SELECT count(*) FROM airport	airline_flights
SELECT name FROM airport WHERE country = 'United Kingdom'	airline_flights
SELECT max(seat_capacity) FROM aircraft	airline_flights
SELECT count(*) FROM flight WHERE status = 'Cancelled'	airline_flights
SELECT tail_number FROM aircraft WHERE manufacturer = 'Boeing'	airline_flights
SELECT name FROM airport WHERE elevation_m < 0	airline_flights
SELECT count(*) FROM passenger WHERE frequent_flyer = 1	airline_flights
SELECT avg(base_fare) FROM flight	airline_flights
SELECT DISTINCT model FROM aircraft	airline_flights
SELECT flight_number FROM flight WHERE departure_date = '2024-04-01'	airline_flights
SELECT count(*) FROM flight WHERE duration_min > 360	airline_flights
SELECT name FROM passenger WHERE birth_date > '2005-12-31'	airline_flights
SELECT airport_code FROM airport ORDER BY elevation_m DESC	airline_flights
SELECT country, count(*) FROM airport GROUP BY country	airline_flights
SELECT tail_number, model FROM aircraft ORDER BY year_built LIMIT 1	airline_flights
SELECT DISTINCT T1.flight_number FROM flight AS T1 JOIN airport AS T2 ON T1.origin_code = T2.airport_code WHERE T2.city = 'Copenhagen'	airline_flights
SELECT travel_class, count(*) FROM booking GROUP BY travel_class	airline_flights
SELECT travel_class, avg(price) FROM booking GROUP BY travel_class	airline_flights
SELECT airport_code FROM airport WHERE name LIKE '%International%'	airline_flights
SELECT T2.model, count(*) FROM flight AS T1 JOIN aircraft AS T2 ON T1.aircraft_id = T2.aircraft_id GROUP BY T2.model	airline_flights
SELECT seat, price FROM booking ORDER BY price DESC LIMIT 5	airline_flights
SELECT DISTINCT flight_number FROM flight WHERE status = 'Delayed' AND departure_date BETWEEN '2024-05-01' AND '2024-05-31'	airline_flights
SELECT min(duration_min), max(duration_min), avg(duration_min) FROM flight	airline_flights
SELECT nationality FROM passenger GROUP BY nationality HAVING count(*) > 15	airline_flights
SELECT T2.city, count(*) FROM flight AS T1 JOIN airport AS T2 ON T1.destination_code = T2.airport_code GROUP BY T2.city	airline_flights
SELECT DISTINCT T2.name FROM booking AS T1 JOIN passenger AS T2 ON T1.passenger_id = T2.passenger_id WHERE T1.travel_class = 'Business'	airline_flights
SELECT sum(checked_bags) * 23 FROM booking	airline_flights
SELECT model, seat_capacity FROM aircraft WHERE manufacturer = 'Airbus'	airline_flights
SELECT T2.tail_number, count(*) FROM flight AS T1 JOIN aircraft AS T2 ON T1.aircraft_id = T2.aircraft_id GROUP BY T1.aircraft_id	airline_flights
SELECT flight_id, departure_date FROM flight WHERE origin_code = 'CPH' AND destination_code = 'JFK'	airline_flights
SELECT origin_code, avg(duration_min) FROM flight GROUP BY origin_code	airline_flights
SELECT name FROM airport ORDER BY elevation_m DESC LIMIT 3	airline_flights
SELECT T2.name FROM booking AS T1 JOIN passenger AS T2 ON T1.passenger_id = T2.passenger_id WHERE T1.seat = '1A'	airline_flights
SELECT nationality, count(*) FROM passenger WHERE frequent_flyer = 1 GROUP BY nationality	airline_flights
SELECT name FROM airport WHERE airport_code NOT IN (SELECT origin_code FROM flight)	airline_flights
SELECT flight_id FROM flight WHERE base_fare > (SELECT avg(base_fare) FROM flight)	airline_flights
SELECT destination_code FROM flight GROUP BY destination_code ORDER BY count(*) DESC LIMIT 1	airline_flights
SELECT name FROM passenger WHERE passenger_id NOT IN (SELECT passenger_id FROM booking)	airline_flights
SELECT origin_code FROM flight WHERE status = 'Delayed' INTERSECT SELECT destination_code FROM flight WHERE status = 'Delayed'	airline_flights
SELECT manufacturer FROM aircraft WHERE seat_capacity > 250 UNION SELECT manufacturer FROM aircraft WHERE seat_capacity < 100	airline_flights
SELECT tail_number FROM aircraft WHERE aircraft_id NOT IN (SELECT aircraft_id FROM flight WHERE status = 'Cancelled')	airline_flights
SELECT T2.name, sum(T1.price) FROM booking AS T1 JOIN passenger AS T2 ON T1.passenger_id = T2.passenger_id GROUP BY T1.passenger_id ORDER BY sum(T1.price) DESC LIMIT 1	airline_flights
SELECT T2.city FROM flight AS T1 JOIN airport AS T2 ON T1.origin_code = T2.airport_code GROUP BY T2.city ORDER BY count(*) DESC LIMIT 1	airline_flights
SELECT DISTINCT T3.name FROM booking AS T1 JOIN flight AS T2 ON T1.flight_id = T2.flight_id JOIN passenger AS T3 ON T1.passenger_id = T3.passenger_id JOIN airport AS T4 ON T2.destination_code = T4.airport_code WHERE T4.city = 'New York'	airline_flights
SELECT T3.name FROM booking AS T1 JOIN flight AS T2 ON T1.flight_id = T2.flight_id JOIN passenger AS T3 ON T1.passenger_id = T3.passenger_id JOIN aircraft AS T4 ON T2.aircraft_id = T4.aircraft_id WHERE T4.manufacturer = 'Airbus' INTERSECT SELECT T3.name FROM booking AS T1 JOIN flight AS T2 ON T1.flight_id = T2.flight_id JOIN passenger AS T3 ON T1.passenger_id = T3.passenger_id JOIN aircraft AS T4 ON T2.aircraft_id = T4.aircraft_id WHERE T4.manufacturer = 'Boeing'	airline_flights
SELECT T3.country, sum(T1.price) FROM booking AS T1 JOIN flight AS T2 ON T1.flight_id = T2.flight_id JOIN airport AS T3 ON T2.destination_code = T3.airport_code GROUP BY T3.country ORDER BY sum(T1.price) DESC	airline_flights
SELECT T2.name FROM booking AS T1 JOIN passenger AS T2 ON T1.passenger_id = T2.passenger_id WHERE T2.frequent_flyer = 1 GROUP BY T1.passenger_id HAVING count(*) > 3	airline_flights
SELECT DISTINCT T2.name, T3.name FROM flight AS T1 JOIN airport AS T2 ON T1.origin_code = T2.airport_code JOIN airport AS T3 ON T1.destination_code = T3.airport_code WHERE T1.flight_number = 'NX116'	airline_flights
SELECT T2.tail_number, T2.model FROM flight AS T1 JOIN aircraft AS T2 ON T1.aircraft_id = T2.aircraft_id GROUP BY T1.aircraft_id ORDER BY count(*) DESC LIMIT 1	airline_flights
SELECT DISTINCT T2.name FROM booking AS T1 JOIN passenger AS T2 ON T1.passenger_id = T2.passenger_id WHERE T1.price > (SELECT avg(price) FROM booking WHERE travel_class = 'Business')	airline_flights
SELECT country FROM airport EXCEPT SELECT T2.country FROM flight AS T1 JOIN airport AS T2 ON T1.origin_code = T2.airport_code	airline_flights
SELECT count(*) FROM booking AS T1 JOIN flight AS T2 ON T1.flight_id = T2.flight_id WHERE T2.status = 'Cancelled' AND T1.travel_class = 'Economy'	airline_flights
SELECT T3.manufacturer, avg(T1.checked_bags) FROM booking AS T1 JOIN flight AS T2 ON T1.flight_id = T2.flight_id JOIN aircraft AS T3 ON T2.aircraft_id = T3.aircraft_id GROUP BY T3.manufacturer	airline_flights
SELECT count(*) FROM product	online_retail
SELECT name FROM product WHERE discontinued = 1	online_retail
SELECT count(*) FROM customer WHERE country = 'Canada'	online_retail
SELECT price FROM product WHERE name = 'Espresso Machine'	online_retail
SELECT name FROM product WHERE price < 15	online_retail
SELECT count(*) FROM orders WHERE status = 'Cancelled'	online_retail
SELECT avg(rating) FROM review	online_retail
SELECT DISTINCT brand FROM product	online_retail
SELECT name FROM product WHERE stock_quantity = 0	online_retail
SELECT email FROM customer WHERE signup_date < '2021-01-01'	online_retail
SELECT count(*) FROM orders WHERE order_date BETWEEN '2023-12-01' AND '2023-12-31'	online_retail
SELECT name FROM category ORDER BY name	online_retail
SELECT count(*) FROM review WHERE rating = 1	online_retail
SELECT country, count(*) FROM customer GROUP BY country	online_retail
SELECT name FROM product ORDER BY price DESC LIMIT 3	online_retail
SELECT first_name, last_name FROM customer WHERE city = 'Dublin'	online_retail
SELECT T1.name FROM product AS T1 JOIN category AS T2 ON T1.category_id = T2.category_id WHERE T2.name = 'Kitchen'	online_retail
SELECT T2.name, count(*) FROM product AS T1 JOIN category AS T2 ON T1.category_id = T2.category_id GROUP BY T1.category_id	online_retail
SELECT brand, avg(price) FROM product GROUP BY brand	online_retail
SELECT name FROM product WHERE name LIKE '%Lamp%'	online_retail
SELECT status, count(*) FROM orders GROUP BY status	online_retail
SELECT brand FROM product GROUP BY brand HAVING count(*) > 5	online_retail
SELECT product_id, quantity * unit_price FROM order_item WHERE order_id = 42	online_retail
SELECT T2.last_name FROM orders AS T1 JOIN customer AS T2 ON T1.customer_id = T2.customer_id WHERE T1.order_date BETWEEN '2024-02-12' AND '2024-02-18'	online_retail
SELECT customer_id, count(*) FROM orders GROUP BY customer_id	online_retail
SELECT min(price), max(price), avg(price) FROM product WHERE discontinued = 0	online_retail
SELECT DISTINCT T1.name FROM product AS T1 JOIN order_item AS T2 ON T1.product_id = T2.product_id WHERE T2.unit_price < T1.price	online_retail
SELECT sum(shipping_cost) FROM orders WHERE status = 'Delivered'	online_retail
SELECT name, price FROM product WHERE brand = 'Sonique'	online_retail
SELECT product_id, count(*) FROM review GROUP BY product_id	online_retail
SELECT status, avg(shipping_cost) FROM orders GROUP BY status	online_retail
SELECT name FROM product WHERE stock_quantity < 20 AND discontinued = 0	online_retail
SELECT first_name, last_name, city FROM customer WHERE signup_date >= '2024-01-01'	online_retail
SELECT T1.rating FROM review AS T1 JOIN product AS T2 ON T1.product_id = T2.product_id WHERE T2.name = 'Smart Watch'	online_retail
SELECT name FROM product WHERE product_id NOT IN (SELECT product_id FROM order_item)	online_retail
SELECT name FROM product WHERE price > (SELECT avg(price) FROM product)	online_retail
SELECT city FROM customer GROUP BY city ORDER BY count(*) DESC LIMIT 1	online_retail
SELECT email FROM customer WHERE customer_id NOT IN (SELECT customer_id FROM orders)	online_retail
SELECT brand FROM product WHERE price < 20 INTERSECT SELECT brand FROM product WHERE price > 100	online_retail
SELECT country FROM customer GROUP BY country HAVING count(DISTINCT city) > 1	online_retail
SELECT product_id FROM review WHERE rating = 5 EXCEPT SELECT product_id FROM review WHERE rating = 1	online_retail
SELECT T2.name, sum(T1.quantity) FROM order_item AS T1 JOIN product AS T2 ON T1.product_id = T2.product_id GROUP BY T1.product_id ORDER BY sum(T1.quantity) DESC LIMIT 1	online_retail
SELECT T3.name, sum(T1.quantity * T1.unit_price) FROM order_item AS T1 JOIN product AS T2 ON T1.product_id = T2.product_id JOIN category AS T3 ON T2.category_id = T3.category_id GROUP BY T2.category_id ORDER BY sum(T1.quantity * T1.unit_price) DESC	online_retail
SELECT DISTINCT T4.first_name, T4.last_name FROM order_item AS T1 JOIN product AS T2 ON T1.product_id = T2.product_id JOIN category AS T3 ON T2.category_id = T3.category_id JOIN orders AS T5 ON T1.order_id = T5.order_id JOIN customer AS T4 ON T5.customer_id = T4.customer_id WHERE T3.name = 'Toys'	online_retail
SELECT T2.name FROM review AS T1 JOIN product AS T2 ON T1.product_id = T2.product_id GROUP BY T1.product_id HAVING count(*) >= 7 ORDER BY avg(T1.rating) DESC LIMIT 1	online_retail
SELECT T3.first_name, T3.last_name FROM order_item AS T1 JOIN orders AS T2 ON T1.order_id = T2.order_id JOIN customer AS T3 ON T2.customer_id = T3.customer_id WHERE T2.status = 'Delivered' GROUP BY T2.customer_id ORDER BY sum(T1.quantity * T1.unit_price) DESC LIMIT 1	online_retail
SELECT T3.email FROM order_item AS T1 JOIN orders AS T2 ON T1.order_id = T2.order_id JOIN customer AS T3 ON T2.customer_id = T3.customer_id JOIN product AS T4 ON T1.product_id = T4.product_id WHERE T4.brand = 'Voltra' INTERSECT SELECT T3.email FROM order_item AS T1 JOIN orders AS T2 ON T1.order_id = T2.order_id JOIN customer AS T3 ON T2.customer_id = T3.customer_id JOIN product AS T4 ON T1.product_id = T4.product_id WHERE T4.brand = 'Culina'	online_retail
SELECT T3.name, avg(T1.rating) FROM review AS T1 JOIN product AS T2 ON T1.product_id = T2.product_id JOIN category AS T3 ON T2.category_id = T3.category_id GROUP BY T2.category_id	online_retail
SELECT DISTINCT T1.name FROM product AS T1 JOIN order_item AS T2 ON T1.product_id = T2.product_id JOIN orders AS T3 ON T2.order_id = T3.order_id WHERE T1.discontinued = 1 AND T3.order_date BETWEEN '2023-07-01' AND '2023-12-31'	online_retail
SELECT DISTINCT T2.last_name FROM review AS T1 JOIN customer AS T2 ON T1.customer_id = T2.customer_id WHERE T2.country = 'United States' OR T2.country = 'Australia'	online_retail
SELECT T1.order_id FROM orders AS T1 JOIN order_item AS T2 ON T1.order_id = T2.order_id WHERE T1.shipping_cost = 0 GROUP BY T1.order_id HAVING sum(T2.quantity) > 2	online_retail
SELECT T2.name FROM product AS T1 JOIN category AS T2 ON T1.category_id = T2.category_id GROUP BY T1.category_id HAVING avg(T1.price) > (SELECT avg(price) FROM product)	online_retail
SELECT count(*) FROM festival	music_festival
SELECT name FROM festival WHERE country = 'Germany'	music_festival
SELECT count(*) FROM artist WHERE genre = 'Electronic'	music_festival
SELECT max(capacity) FROM festival	music_festival
SELECT name FROM artist WHERE member_count = 1	music_festival
SELECT name FROM stage WHERE is_indoor = 1	music_festival
SELECT start_date FROM festival WHERE name = 'Coastline Festival'	music_festival
SELECT count(*) FROM performance WHERE is_headliner = 1	music_festival
SELECT name FROM artist WHERE formed_year < 1995	music_festival
SELECT DISTINCT genre FROM artist	music_festival
SELECT avg(fee) FROM performance	music_festival
SELECT name FROM festival WHERE start_date BETWEEN '2024-06-01' AND '2024-08-31'	music_festival
SELECT name FROM festival ORDER BY capacity DESC	music_festival
SELECT country, count(*) FROM artist GROUP BY country	music_festival
SELECT name, city FROM festival ORDER BY days DESC LIMIT 1	music_festival
SELECT T1.name FROM stage AS T1 JOIN festival AS T2 ON T1.festival_id = T2.festival_id WHERE T2.name = 'Harbor Sounds'	music_festival
SELECT T2.name, count(*) FROM stage AS T1 JOIN festival AS T2 ON T1.festival_id = T2.festival_id GROUP BY T1.festival_id	music_festival
SELECT name FROM artist WHERE name LIKE 'The Velvet%'	music_festival
SELECT ticket_type, sum(quantity) FROM ticket_sale GROUP BY ticket_type	music_festival
SELECT performance_id, fee FROM performance ORDER BY fee DESC LIMIT 3	music_festival
SELECT genre, avg(member_count) FROM artist GROUP BY genre	music_festival
SELECT genre FROM artist GROUP BY genre HAVING count(*) > 8	music_festival
SELECT T1.performance_date FROM performance AS T1 JOIN artist AS T2 ON T1.artist_id = T2.artist_id WHERE T2.name = 'The Glass Foxes'	music_festival
SELECT min(price), max(price), avg(price) FROM ticket_sale	music_festival
SELECT name FROM stage WHERE is_indoor = 0 AND capacity > 10000	music_festival
SELECT sale_id, price * quantity FROM ticket_sale	music_festival
SELECT T2.name, count(*) FROM performance AS T1 JOIN artist AS T2 ON T1.artist_id = T2.artist_id GROUP BY T1.artist_id	music_festival
SELECT name, city FROM festival WHERE start_date BETWEEN '2023-01-01' AND '2023-12-31'	music_festival
SELECT is_indoor, count(*) FROM stage GROUP BY is_indoor	music_festival
SELECT name FROM festival ORDER BY capacity LIMIT 1	music_festival
SELECT name FROM artist WHERE country = 'Brazil' AND genre = 'Jazz'	music_festival
SELECT DISTINCT T1.ticket_type, T1.price FROM ticket_sale AS T1 JOIN festival AS T2 ON T1.festival_id = T2.festival_id WHERE T2.name = 'Polar Beats'	music_festival
SELECT artist_id, sum(fee) FROM performance GROUP BY artist_id	music_festival
SELECT name FROM artist WHERE artist_id NOT IN (SELECT artist_id FROM performance)	music_festival
SELECT name FROM festival WHERE capacity > (SELECT avg(capacity) FROM festival)	music_festival
SELECT country FROM artist GROUP BY country ORDER BY count(*) DESC LIMIT 1	music_festival
SELECT genre FROM artist WHERE member_count = 1 INTERSECT SELECT genre FROM artist WHERE member_count >= 5	music_festival
SELECT country FROM festival EXCEPT SELECT country FROM artist	music_festival
SELECT name FROM stage GROUP BY name HAVING count(*) > 2	music_festival
SELECT name FROM festival WHERE festival_id NOT IN (SELECT festival_id FROM ticket_sale WHERE ticket_type = 'VIP')	music_festival
SELECT T3.name, sum(T1.fee) FROM performance AS T1 JOIN stage AS T2 ON T1.stage_id = T2.stage_id JOIN festival AS T3 ON T2.festival_id = T3.festival_id GROUP BY T2.festival_id ORDER BY sum(T1.fee) DESC LIMIT 1	music_festival
SELECT T3.name FROM performance AS T1 JOIN stage AS T2 ON T1.stage_id = T2.stage_id JOIN artist AS T3 ON T1.artist_id = T3.artist_id JOIN festival AS T4 ON T2.festival_id = T4.festival_id WHERE T4.name = 'Electric Meadow' AND T1.is_headliner = 1	music_festival
SELECT T2.name FROM ticket_sale AS T1 JOIN festival AS T2 ON T1.festival_id = T2.festival_id GROUP BY T1.festival_id ORDER BY sum(T1.price * T1.quantity) DESC LIMIT 1	music_festival
SELECT T2.name FROM performance AS T1 JOIN artist AS T2 ON T1.artist_id = T2.artist_id WHERE T1.performance_date < '2024-01-01' INTERSECT SELECT T2.name FROM performance AS T1 JOIN artist AS T2 ON T1.artist_id = T2.artist_id WHERE T1.performance_date >= '2024-01-01'	music_festival
SELECT T4.name, T3.genre, count(*) FROM performance AS T1 JOIN stage AS T2 ON T1.stage_id = T2.stage_id JOIN artist AS T3 ON T1.artist_id = T3.artist_id JOIN festival AS T4 ON T2.festival_id = T4.festival_id GROUP BY T4.name, T3.genre	music_festival
SELECT T2.name FROM performance AS T1 JOIN artist AS T2 ON T1.artist_id = T2.artist_id GROUP BY T1.artist_id HAVING count(*) > 2	music_festival
SELECT T2.country FROM performance AS T1 JOIN artist AS T2 ON T1.artist_id = T2.artist_id GROUP BY T2.country ORDER BY sum(T1.fee) DESC LIMIT 1	music_festival
SELECT DISTINCT T3.name FROM performance AS T1 JOIN stage AS T2 ON T1.stage_id = T2.stage_id JOIN artist AS T3 ON T1.artist_id = T3.artist_id JOIN festival AS T4 ON T2.festival_id = T4.festival_id WHERE T3.genre = 'Soul' AND T4.country != 'Canada'	music_festival
SELECT DISTINCT T2.name FROM performance AS T1 JOIN artist AS T2 ON T1.artist_id = T2.artist_id WHERE T1.fee > (SELECT avg(fee) FROM performance WHERE is_headliner = 1)	music_festival
SELECT T2.name, sum(T1.quantity) FROM ticket_sale AS T1 JOIN festival AS T2 ON T1.festival_id = T2.festival_id GROUP BY T1.festival_id ORDER BY sum(T1.quantity) DESC	music_festival
SELECT DISTINCT T2.name, T4.name FROM performance AS T1 JOIN stage AS T2 ON T1.stage_id = T2.stage_id JOIN artist AS T3 ON T1.artist_id = T3.artist_id JOIN festival AS T4 ON T2.festival_id = T4.festival_id WHERE T3.genre = 'Metal'	music_festival
SELECT T2.is_indoor, avg(T1.fee) FROM performance AS T1 JOIN stage AS T2 ON T1.stage_id = T2.stage_id GROUP BY T2.is_indoor	music_festival
