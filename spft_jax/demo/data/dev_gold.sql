SELECT count(*) FROM club	football_league
SELECT name FROM stadium WHERE surface = 'Artificial'	football_league
SELECT count(*) FROM player WHERE position = 'Goalkeeper'	football_league
SELECT capacity FROM stadium WHERE name = 'Kingsport Arena'	football_league
SELECT manager_name FROM club WHERE name = 'Northgate City'	football_league
SELECT max(attendance) FROM game	football_league
SELECT count(*) FROM game WHERE home_goals = 0 AND away_goals = 0	football_league
SELECT name FROM club WHERE founded_year > 1920	football_league
SELECT name FROM player WHERE birth_date BETWEEN '2005-01-01' AND '2005-12-31'	football_league
SELECT count(*) FROM goal WHERE is_penalty = 1	football_league
SELECT DISTINCT nationality FROM player	football_league
SELECT avg(market_value) FROM player	football_league
SELECT name FROM stadium ORDER BY opened_year	football_league
SELECT count(*) FROM game WHERE game_date = '2024-04-06'	football_league
SELECT position, count(*) FROM player GROUP BY position	football_league
SELECT name FROM player ORDER BY market_value DESC LIMIT 1	football_league
SELECT T1.name, T1.shirt_number FROM player AS T1 JOIN club AS T2 ON T1.club_id = T2.club_id WHERE T2.name = 'Westhaven Albion'	football_league
SELECT T2.name FROM club AS T1 JOIN stadium AS T2 ON T1.stadium_id = T2.stadium_id WHERE T1.name = 'Millbrook Rangers'	football_league
SELECT club_id, count(*) FROM player WHERE nationality != 'England' GROUP BY club_id	football_league
SELECT season, avg(attendance) FROM game GROUP BY season	football_league
SELECT name FROM club WHERE name LIKE '%United' OR name LIKE '%City'	football_league
SELECT game_id, home_goals + away_goals FROM game ORDER BY home_goals + away_goals DESC LIMIT 5	football_league
SELECT T2.name, sum(T1.market_value) FROM player AS T1 JOIN club AS T2 ON T1.club_id = T2.club_id GROUP BY T1.club_id	football_league
SELECT nationality FROM player GROUP BY nationality HAVING count(*) > 15	football_league
SELECT max(birth_date), min(birth_date) FROM player WHERE position = 'Forward'	football_league
SELECT T1.game_date, T1.home_goals, T1.away_goals FROM game AS T1 JOIN club AS T2 ON T1.home_club_id = T2.club_id WHERE T2.name = 'Redcliffe Town'	football_league
SELECT avg(minute) FROM goal WHERE minute <= 45	football_league
SELECT T2.name, count(*) FROM goal AS T1 JOIN player AS T2 ON T1.player_id = T2.player_id GROUP BY T1.player_id ORDER BY count(*) DESC	football_league
SELECT name FROM stadium WHERE capacity BETWEEN 15000 AND 30000	football_league
SELECT game_id FROM game WHERE season = '2023-24' AND home_goals - away_goals >= 3	football_league
SELECT nationality, avg(market_value) FROM player GROUP BY nationality	football_league
SELECT count(*) FROM goal WHERE minute > 80	football_league
SELECT name, capacity FROM stadium WHERE surface = 'Hybrid'	football_league
SELECT season, count(*) FROM game GROUP BY season	football_league
SELECT T1.name FROM club AS T1 JOIN stadium AS T2 ON T1.stadium_id = T2.stadium_id WHERE T2.name = 'Harbour Road'	football_league
SELECT name FROM player ORDER BY birth_date LIMIT 10	football_league
SELECT season, avg(home_goals) FROM game GROUP BY season	football_league
SELECT name, club_id FROM player WHERE shirt_number = 10	football_league
SELECT name FROM stadium WHERE stadium_id NOT IN (SELECT stadium_id FROM club)	football_league
SELECT name FROM player WHERE market_value > (SELECT avg(market_value) FROM player)	football_league
SELECT nationality FROM player GROUP BY nationality ORDER BY count(*) DESC LIMIT 1	football_league
SELECT name FROM player WHERE player_id NOT IN (SELECT player_id FROM goal)	football_league
SELECT T2.name FROM club AS T1 JOIN stadium AS T2 ON T1.stadium_id = T2.stadium_id GROUP BY T1.stadium_id HAVING count(*) > 1	football_league
SELECT city FROM club INTERSECT SELECT city FROM stadium WHERE surface = 'Grass'	football_league
SELECT city FROM club EXCEPT SELECT city FROM stadium	football_league
SELECT game_date, season FROM game WHERE attendance = (SELECT max(attendance) FROM game)	football_league
SELECT name FROM player WHERE position = 'Defender' AND market_value > (SELECT max(market_value) FROM player WHERE position = 'Goalkeeper')	football_league
SELECT count(*) FROM goal AS T1 JOIN game AS T2 ON T1.game_id = T2.game_id WHERE T2.season = '2023-24' GROUP BY T1.player_id ORDER BY count(*) DESC LIMIT 1	football_league
SELECT T2.name FROM game AS T1 JOIN club AS T2 ON T1.home_club_id = T2.club_id GROUP BY T1.home_club_id ORDER BY sum(T1.home_goals) DESC LIMIT 1	football_league
SELECT T3.name, count(*) FROM goal AS T1 JOIN player AS T2 ON T1.player_id = T2.player_id JOIN club AS T3 ON T2.club_id = T3.club_id GROUP BY T2.club_id ORDER BY count(*) DESC	football_league
SELECT T3.name FROM goal AS T1 JOIN game AS T2 ON T1.game_id = T2.game_id JOIN player AS T3 ON T1.player_id = T3.player_id WHERE T2.season = '2022-23' INTERSECT SELECT T3.name FROM goal AS T1 JOIN game AS T2 ON T1.game_id = T2.game_id JOIN player AS T3 ON T1.player_id = T3.player_id WHERE T2.season = '2023-24'	football_league
SELECT T2.name FROM goal AS T1 JOIN player AS T2 ON T1.player_id = T2.player_id WHERE T2.position = 'Defender' GROUP BY T1.player_id HAVING count(*) >= 2	football_league
SELECT T3.name, avg(T1.attendance) FROM game AS T1 JOIN club AS T2 ON T1.home_club_id = T2.club_id JOIN stadium AS T3 ON T2.stadium_id = T3.stadium_id GROUP BY T2.stadium_id	football_league
SELECT DISTINCT T2.name FROM goal AS T1 JOIN player AS T2 ON T1.player_id = T2.player_id JOIN club AS T3 ON T2.club_id = T3.club_id WHERE T3.name = 'Kingsport United' AND T1.is_penalty = 1	football_league
SELECT T2.name FROM player AS T1 JOIN club AS T2 ON T1.club_id = T2.club_id GROUP BY T1.club_id ORDER BY avg(T1.market_value) DESC LIMIT 1	football_league
SELECT name FROM club EXCEPT SELECT T2.name FROM game AS T1 JOIN club AS T2 ON T1.home_club_id = T2.club_id WHERE T1.season = '2022-23' AND T1.home_goals < T1.away_goals	football_league
SELECT T2.name, count(*) FROM game AS T1 JOIN club AS T2 ON T1.away_club_id = T2.club_id WHERE T1.away_goals > T1.home_goals GROUP BY T1.away_club_id ORDER BY count(*) DESC	football_league
SELECT game_id FROM game WHERE attendance > (SELECT avg(attendance) FROM game WHERE season = '2023-24')	football_league
SELECT DISTINCT T3.name FROM goal AS T1 JOIN game AS T2 ON T1.game_id = T2.game_id JOIN player AS T3 ON T1.player_id = T3.player_id JOIN club AS T4 ON T2.home_club_id = T4.club_id JOIN stadium AS T5 ON T4.stadium_id = T5.stadium_id WHERE T5.name = 'Albion Park' AND T3.club_id = T2.away_club_id	football_league
SELECT count(*) FROM property	real_estate
SELECT name FROM office WHERE city = 'Brighton'	real_estate
SELECT count(*) FROM property WHERE property_type = 'Studio'	real_estate
SELECT max(sale_price) FROM sale	real_estate
SELECT address FROM property WHERE bedrooms >= 5	real_estate
SELECT count(*) FROM listing WHERE status = 'Active'	real_estate
SELECT address FROM property WHERE year_built < 1900	real_estate
SELECT avg(floor_area_sqm) FROM property	real_estate
SELECT DISTINCT property_type FROM property	real_estate
SELECT name FROM agent WHERE hire_date BETWEEN '2023-01-01' AND '2023-12-31'	real_estate
SELECT count(*) FROM sale WHERE sale_date BETWEEN '2023-01-01' AND '2023-12-31'	real_estate
SELECT phone FROM agent WHERE name = 'Victor Fontaine'	real_estate
SELECT name FROM office ORDER BY opened_year	real_estate
SELECT city, count(*) FROM property GROUP BY city	real_estate
SELECT status, avg(asking_price) FROM listing GROUP BY status	real_estate
SELECT address, city FROM property ORDER BY floor_area_sqm DESC LIMIT 1	real_estate
SELECT T1.name, T1.commission_rate FROM agent AS T1 JOIN office AS T2 ON T1.office_id = T2.office_id WHERE T2.name = 'Old Town Estates'	real_estate
SELECT T2.name, count(*) FROM agent AS T1 JOIN office AS T2 ON T1.office_id = T2.office_id GROUP BY T1.office_id	real_estate
SELECT address FROM property WHERE address LIKE '%Road'	real_estate
SELECT property_type, avg(bedrooms) FROM property GROUP BY property_type	real_estate
SELECT listing_id, asking_price FROM listing ORDER BY asking_price DESC LIMIT 3	real_estate
SELECT min(sale_price), max(sale_price), avg(sale_price) FROM sale	real_estate
SELECT district FROM property GROUP BY district HAVING count(*) > 15	real_estate
SELECT T1.listing_id, T1.asking_price / T2.floor_area_sqm FROM listing AS T1 JOIN property AS T2 ON T1.property_id = T2.property_id WHERE T1.status = 'Active'	real_estate
SELECT address FROM property WHERE district = 'Hove' AND has_parking = 1 AND property_type LIKE '%House'	real_estate
SELECT listing_id, count(*) FROM viewing GROUP BY listing_id	real_estate
SELECT T1.list_date, T1.asking_price FROM listing AS T1 JOIN property AS T2 ON T1.property_id = T2.property_id WHERE T2.district = 'Southsea' AND T2.property_type = 'Flat'	real_estate
SELECT buyer_name, sale_price FROM sale WHERE sale_date BETWEEN '2024-01-01' AND '2024-03-31'	real_estate
SELECT T2.name, count(*) FROM listing AS T1 JOIN agent AS T2 ON T1.agent_id = T2.agent_id GROUP BY T1.agent_id	real_estate
SELECT district, avg(floor_area_sqm) FROM property WHERE city = 'Portsmouth' GROUP BY district	real_estate
SELECT T1.sale_id FROM sale AS T1 JOIN listing AS T2 ON T1.listing_id = T2.listing_id WHERE T1.sale_price > T2.asking_price	real_estate
SELECT address, year_built FROM property WHERE district = 'Fratton'	real_estate
SELECT property_type, count(*) FROM property WHERE has_parking = 1 GROUP BY property_type	real_estate
SELECT T2.name FROM agent AS T1 JOIN office AS T2 ON T1.office_id = T2.office_id WHERE T1.name = 'Omar Richter'	real_estate
SELECT agent_id, avg(asking_price) FROM listing GROUP BY agent_id	real_estate
SELECT visitor_name, interest_level FROM viewing WHERE listing_id = 25	real_estate
SELECT address, district FROM property WHERE city = 'Winchester' AND year_built > 2000	real_estate
SELECT address FROM property WHERE property_id NOT IN (SELECT property_id FROM listing)	real_estate
SELECT address FROM property WHERE floor_area_sqm > (SELECT avg(floor_area_sqm) FROM property)	real_estate
SELECT district FROM property GROUP BY district ORDER BY count(*) DESC LIMIT 1	real_estate
SELECT name FROM agent WHERE agent_id NOT IN (SELECT agent_id FROM listing WHERE status = 'Active')	real_estate
SELECT property_type FROM property WHERE city = 'Winchester' INTERSECT SELECT property_type FROM property WHERE city = 'Brighton'	real_estate
SELECT district FROM property WHERE property_type = 'Detached House' EXCEPT SELECT district FROM property WHERE property_type = 'Studio'	real_estate
SELECT listing_id FROM viewing EXCEPT SELECT listing_id FROM viewing WHERE interest_level > 3	real_estate
SELECT listing_id FROM listing WHERE listing_id NOT IN (SELECT listing_id FROM viewing)	real_estate
SELECT T3.name FROM sale AS T1 JOIN listing AS T2 ON T1.listing_id = T2.listing_id JOIN agent AS T3 ON T2.agent_id = T3.agent_id GROUP BY T2.agent_id ORDER BY sum(T1.sale_price) DESC LIMIT 1	real_estate
SELECT T3.city, avg(T1.sale_price) FROM sale AS T1 JOIN listing AS T2 ON T1.listing_id = T2.listing_id JOIN property AS T3 ON T2.property_id = T3.property_id GROUP BY T3.city ORDER BY avg(T1.sale_price) DESC	real_estate
SELECT T4.name, count(*) FROM sale AS T1 JOIN listing AS T2 ON T1.listing_id = T2.listing_id JOIN agent AS T3 ON T2.agent_id = T3.agent_id JOIN office AS T4 ON T3.office_id = T4.office_id GROUP BY T3.office_id	real_estate
SELECT T3.address, T1.sale_price FROM sale AS T1 JOIN listing AS T2 ON T1.listing_id = T2.listing_id JOIN property AS T3 ON T2.property_id = T3.property_id WHERE T3.property_type = 'Detached House' AND T1.sale_price > 900000	real_estate
SELECT T2.address FROM listing AS T1 JOIN property AS T2 ON T1.property_id = T2.property_id WHERE T1.status = 'Withdrawn' INTERSECT SELECT T2.address FROM listing AS T1 JOIN property AS T2 ON T1.property_id = T2.property_id WHERE T1.status != 'Withdrawn'	real_estate
SELECT T3.district FROM sale AS T1 JOIN listing AS T2 ON T1.listing_id = T2.listing_id JOIN property AS T3 ON T2.property_id = T3.property_id GROUP BY T3.district ORDER BY avg(T1.sale_price / T3.floor_area_sqm) DESC LIMIT 1	real_estate
SELECT T3.name FROM viewing AS T1 JOIN listing AS T2 ON T1.listing_id = T2.listing_id JOIN agent AS T3 ON T2.agent_id = T3.agent_id GROUP BY T2.agent_id HAVING count(*) > 10	real_estate
SELECT T3.address FROM sale AS T1 JOIN listing AS T2 ON T1.listing_id = T2.listing_id JOIN property AS T3 ON T2.property_id = T3.property_id WHERE T3.property_type = 'Flat' AND T1.sale_price > (SELECT avg(sale_price) FROM sale)	real_estate
SELECT T3.property_type, count(*) FROM viewing AS T1 JOIN listing AS T2 ON T1.listing_id = T2.listing_id JOIN property AS T3 ON T2.property_id = T3.property_id GROUP BY T3.property_type ORDER BY count(*) DESC	real_estate
SELECT T1.listing_id, T1.asking_price - T2.sale_price FROM listing AS T1 JOIN sale AS T2 ON T1.listing_id = T2.listing_id	real_estate
SELECT T1.name FROM agent AS T1 JOIN office AS T2 ON T1.office_id = T2.office_id WHERE T2.city = 'Brighton' AND T1.commission_rate > 1.5	real_estate
SELECT T2.name FROM agent AS T1 JOIN office AS T2 ON T1.office_id = T2.office_id GROUP BY T1.office_id HAVING avg(T1.commission_rate) > (SELECT avg(commission_rate) FROM agent)	real_estate
