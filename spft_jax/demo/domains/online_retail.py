"""An online shop: product categories, products, customers, orders, order lines and reviews."""

from __future__ import annotations

import random

from spft_jax.demo.values import add_days, money, people, random_date

DB_ID = "online_retail"
SEED = 5505

SCHEMA = (
    """CREATE TABLE category (
        category_id INTEGER PRIMARY KEY,
        name TEXT NOT NULL
    )""",
    """CREATE TABLE product (
        product_id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        category_id INTEGER NOT NULL,
        brand TEXT,
        price REAL NOT NULL,
        stock_quantity INTEGER,
        discontinued INTEGER NOT NULL,
        FOREIGN KEY (category_id) REFERENCES category(category_id)
    )""",
    """CREATE TABLE customer (
        customer_id INTEGER PRIMARY KEY,
        first_name TEXT NOT NULL,
        last_name TEXT NOT NULL,
        email TEXT,
        city TEXT,
        country TEXT,
        signup_date TEXT
    )""",
    """CREATE TABLE orders (
        order_id INTEGER PRIMARY KEY,
        customer_id INTEGER NOT NULL,
        order_date TEXT NOT NULL,
        status TEXT,
        shipping_cost REAL,
        FOREIGN KEY (customer_id) REFERENCES customer(customer_id)
    )""",
    """CREATE TABLE order_item (
        order_id INTEGER NOT NULL,
        product_id INTEGER NOT NULL,
        quantity INTEGER NOT NULL,
        unit_price REAL NOT NULL,
        PRIMARY KEY (order_id, product_id),
        FOREIGN KEY (order_id) REFERENCES orders(order_id),
        FOREIGN KEY (product_id) REFERENCES product(product_id)
    )""",
    """CREATE TABLE review (
        review_id INTEGER PRIMARY KEY,
        product_id INTEGER NOT NULL,
        customer_id INTEGER NOT NULL,
        rating INTEGER NOT NULL,
        review_date TEXT,
        FOREIGN KEY (product_id) REFERENCES product(product_id),
        FOREIGN KEY (customer_id) REFERENCES customer(customer_id)
    )""",
)

NATURAL_NAMES = {"orders": "order", "order_item": "order item"}
TIME_COLUMNS = frozenset({"customer.signup_date", "orders.order_date", "review.review_date"})
BOOLEAN_COLUMNS = frozenset({"product.discontinued"})

CATALOGUE = (
    # category, [(product name, brand, price)]
    ("Electronics", (
        ("Wireless Earbuds", "Sonique", 79.0), ("Bluetooth Speaker", "Sonique", 49.5),
        ("Noise Cancelling Headphones", "Sonique", 219.0), ("Smart Watch", "Voltra", 189.0),
        ("USB-C Charger", "Voltra", 24.99), ("Portable SSD 1TB", "Pixelon", 109.0),
        ("HD Webcam", "Pixelon", 59.0), ("Mechanical Keyboard", "Pixelon", 94.0),
        ("Wireless Mouse", "Voltra", 29.99), ("E-Reader", "Voltra", 129.0))),
    ("Kitchen", (
        ("Chef's Knife", "Culina", 64.0), ("Cast Iron Skillet", "Hearth & Co", 42.0),
        ("French Press", "Hearth & Co", 27.5), ("Electric Kettle", "Culina", 39.0),
        ("Blender", "Culina", 89.0), ("Bamboo Cutting Board", "Hearth & Co", 19.99),
        ("Stand Mixer", "Culina", 299.0), ("Espresso Machine", "Culina", 349.0))),
    ("Home", (
        ("Wool Throw Blanket", "Nordhem", 58.0), ("Soy Scented Candle", "Nordhem", 16.5),
        ("LED Desk Lamp", "Lumen Works", 36.0), ("Oak Wall Clock", "Nordhem", 45.0),
        ("Woven Storage Basket", "Nordhem", 22.0), ("Linen Curtains", "Nordhem", 74.0),
        ("Floor Lamp", "Lumen Works", 119.0))),
    ("Sports", (
        ("Yoga Mat", "Peakform", 32.0), ("Trail Running Shoes", "Peakform", 124.0),
        ("Adjustable Dumbbell Set", "Ironline", 199.0), ("Insulated Water Bottle", "Peakform", 21.0),
        ("Cycling Helmet", "Ironline", 69.0), ("Tennis Racket", "Peakform", 139.0),
        ("Resistance Bands", "Ironline", 18.0), ("Foam Roller", "Peakform", 25.0))),
    ("Books", (
        ("Weeknight Dinners Cookbook", "Pageturn Press", 28.0),
        ("Portugal Travel Guide", "Pageturn Press", 19.5),
        ("Beginner's Guide to Watercolor", "Pageturn Press", 24.0),
        ("Dotted Notebook Set", "Inkwell", 14.0), ("Fountain Pen", "Inkwell", 48.0),
        ("Weekly Planner", "Inkwell", 17.0))),
    ("Beauty", (
        ("Daily Face Moisturizer", "Verde Skin", 26.0), ("Mineral Sunscreen SPF 50", "Verde Skin", 21.5),
        ("Solid Shampoo Bar", "Verde Skin", 12.0), ("Lip Balm Trio", "Verde Skin", 9.5),
        ("Hair Dryer", "Voltra", 85.0))),
    ("Toys", (
        ("Wooden Puzzle", "Little Maple", 18.0), ("Building Blocks Set", "Little Maple", 54.0),
        ("Plush Bear", "Little Maple", 22.0), ("Harbor Traders Board Game", "Tabletop Guild", 39.0),
        ("Stunt Kite", "Skyward", 34.0), ("Remote Control Car", "Skyward", 64.0))),
    ("Garden", (
        ("Pruning Shears", "Greenhand", 29.0), ("Expandable Garden Hose", "Greenhand", 44.0),
        ("Seed Starter Kit", "Greenhand", 19.0), ("Galvanized Watering Can", "Greenhand", 31.0),
        ("Cedar Bird Feeder", "Greenhand", 27.0), ("Folding Garden Chair", "Nordhem", 59.0))),
)
DISCONTINUED = {"HD Webcam", "Linen Curtains", "Foam Roller", "Weekly Planner", "Stunt Kite",
                "Floor Lamp"}

PLACES = (
    ("Manchester", "United Kingdom"), ("Leeds", "United Kingdom"), ("Bristol", "United Kingdom"),
    ("Dublin", "Ireland"), ("Cork", "Ireland"), ("Toronto", "Canada"), ("Vancouver", "Canada"),
    ("Austin", "United States"), ("Denver", "United States"), ("Seattle", "United States"),
    ("Sydney", "Australia"), ("Melbourne", "Australia"), ("Auckland", "New Zealand"),
)
STATUSES = ("Delivered", "Shipped", "Processing", "Cancelled")
FREE_SHIPPING_FROM = 50.0


def rows(rng: random.Random) -> dict[str, list[tuple]]:
    category = [(i + 1, c[0]) for i, c in enumerate(CATALOGUE)]
    product = []
    for category_id, (_, items) in enumerate(CATALOGUE, start=1):
        for name, brand, price in items:
            # A few products still on sale have sold out too.
            stock = 0 if name in DISCONTINUED or rng.random() < 0.08 else rng.randint(3, 240)
            product.append((len(product) + 1, name, category_id, brand, price, stock,
                            1 if name in DISCONTINUED else 0))
    # Shoppers favour some products; a few are never bought at all.
    popularity = [0.0 if rng.random() < 0.08 else 0.05 + rng.random() ** 2 for _ in product]
    popularity_2024 = [0.0 if p[6] else w for p, w in zip(product, popularity)]

    customer = []
    for customer_id, (full_name, _) in enumerate(people(rng, 130), start=1):
        first, last = full_name.split(" ")
        city, country = rng.choices(PLACES, weights=(9, 5, 4, 6, 2, 7, 4, 6, 4, 5, 5, 3, 2))[0]
        customer.append((customer_id, first, last, f"{first.lower()}.{last.lower()}@example.com",
                         city, country, random_date(rng, "2020-01-01", "2024-04-30")))
    shoppers = rng.sample(range(1, len(customer) + 1), 112)

    orders, order_item, bought = [], [], []
    for order_id in range(1, 311):
        customer_id = rng.choice(shoppers)
        day = random_date(rng, max(customer[customer_id - 1][6], "2023-01-01"), "2024-06-30")
        if day > "2024-06-16":
            status = rng.choice(("Processing", "Shipped"))
        else:
            status = rng.choices(("Delivered", "Cancelled"), weights=(9, 1))[0]
        subtotal = 0.0
        # Discontinued products left the shop at the end of 2023.
        weights = popularity if day < "2024-01-01" else popularity_2024
        for p in rng.choices(product, weights=weights, k=rng.choice((1, 1, 2, 2, 3, 4))):
            if any(line[0] == order_id and line[1] == p[0] for line in order_item[-4:]):
                continue  # the same product twice in one order is one line with a quantity
            quantity = rng.choice((1, 1, 1, 2, 3)) if p[4] < 40 else 1
            unit_price = money(p[4] * rng.choice((1.0, 1.0, 1.0, 0.9, 0.8)))
            order_item.append((order_id, p[0], quantity, unit_price))
            subtotal += quantity * unit_price
            if status == "Delivered":
                bought.append((customer_id, p[0], day))
        orders.append((order_id, customer_id, day, status,
                       0.0 if subtotal >= FREE_SHIPPING_FROM else 4.99))

    # Only customers who received a product review it, a few days to weeks after the order.
    review = []
    for customer_id, product_id, day in rng.sample(bought, 220):
        if any(r[1] == product_id and r[2] == customer_id for r in review):
            continue
        rating = rng.choices((5, 4, 3, 2, 1), weights=(40, 30, 14, 9, 7))[0]
        review.append((len(review) + 1, product_id, customer_id, rating,
                       add_days(day, rng.randint(4, 40))))
    return {"category": category, "product": product, "customer": customer, "orders": orders,
            "order_item": order_item, "review": review}


QUESTIONS = [
    # Single-table lookups and counts.
    ("How many products does the shop sell?", "SELECT count(*) FROM product"),
    ("Which products have been discontinued?", "SELECT name FROM product WHERE discontinued = 1"),
    ("How many customers live in Canada?", "SELECT count(*) FROM customer WHERE country = 'Canada'"),
    ("What is the price of the Espresso Machine?",
     "SELECT price FROM product WHERE name = 'Espresso Machine'"),
    ("List the names of products that cost less than 15 dollars.",
     "SELECT name FROM product WHERE price < 15"),
    ("How many orders were cancelled?", "SELECT count(*) FROM orders WHERE status = 'Cancelled'"),
    ("What is the average product rating given in reviews?", "SELECT avg(rating) FROM review"),
    ("Which brands does the shop carry?", "SELECT DISTINCT brand FROM product"),
    ("Which products are out of stock?", "SELECT name FROM product WHERE stock_quantity = 0"),
    ("Give the email addresses of customers who signed up before 2021.",
     "SELECT email FROM customer WHERE signup_date < '2021-01-01'"),
    ("How many orders were placed in December 2023?",
     "SELECT count(*) FROM orders WHERE order_date BETWEEN '2023-12-01' AND '2023-12-31'"),
    ("List the category names in alphabetical order.", "SELECT name FROM category ORDER BY name"),
    ("How many one-star reviews are there?", "SELECT count(*) FROM review WHERE rating = 1"),
    # Grouping, ordering, two-table joins.
    ("How many customers are there in each country?",
     "SELECT country, count(*) FROM customer GROUP BY country"),
    ("What are the three most expensive products?",
     "SELECT name FROM product ORDER BY price DESC LIMIT 3"),
    ("Show the first and last names of customers from Dublin.",
     "SELECT first_name, last_name FROM customer WHERE city = 'Dublin'"),
    ("List the products in the Kitchen category.",
     "SELECT T1.name FROM product AS T1 JOIN category AS T2 ON T1.category_id = T2.category_id "
     "WHERE T2.name = 'Kitchen'"),
    ("How many products are in each category? Show the category names.",
     "SELECT T2.name, count(*) FROM product AS T1 JOIN category AS T2 ON T1.category_id = T2.category_id "
     "GROUP BY T1.category_id"),
    ("What is the average price of each brand's products?",
     "SELECT brand, avg(price) FROM product GROUP BY brand"),
    ("Which products have Lamp in their name?", "SELECT name FROM product WHERE name LIKE '%Lamp%'"),
    ("How many orders are in each status?", "SELECT status, count(*) FROM orders GROUP BY status"),
    ("Which brands have more than five products?",
     "SELECT brand FROM product GROUP BY brand HAVING count(*) > 5"),
    ("What was the subtotal of each line in order 42, i.e. quantity times unit price?",
     "SELECT product_id, quantity * unit_price FROM order_item WHERE order_id = 42"),
    ("Which customers placed orders between 12 and 18 February 2024? Give their last names.",
     "SELECT T2.last_name FROM orders AS T1 JOIN customer AS T2 ON T1.customer_id = T2.customer_id "
     "WHERE T1.order_date BETWEEN '2024-02-12' AND '2024-02-18'"),
    ("How many orders did each customer place? Show the customer id and the count.",
     "SELECT customer_id, count(*) FROM orders GROUP BY customer_id"),
    ("What are the lowest, highest and average prices of products still on sale?",
     "SELECT min(price), max(price), avg(price) FROM product WHERE discontinued = 0"),
    ("Which products were sold at a discount, i.e. below their list price?",
     "SELECT DISTINCT T1.name FROM product AS T1 JOIN order_item AS T2 ON T1.product_id = T2.product_id "
     "WHERE T2.unit_price < T1.price"),
    ("How much did the shop charge in shipping in total for delivered orders?",
     "SELECT sum(shipping_cost) FROM orders WHERE status = 'Delivered'"),
    ("Show the name and price of every Sonique product.",
     "SELECT name, price FROM product WHERE brand = 'Sonique'"),
    ("How many reviews has each product received? Give product ids.",
     "SELECT product_id, count(*) FROM review GROUP BY product_id"),
    ("What is the average shipping cost for each order status?",
     "SELECT status, avg(shipping_cost) FROM orders GROUP BY status"),
    ("Which products still on sale have fewer than 20 units in stock?",
     "SELECT name FROM product WHERE stock_quantity < 20 AND discontinued = 0"),
    ("Which customers signed up in 2024? Show their names and cities.",
     "SELECT first_name, last_name, city FROM customer WHERE signup_date >= '2024-01-01'"),
    ("What ratings has the Smart Watch been given?",
     "SELECT T1.rating FROM review AS T1 JOIN product AS T2 ON T1.product_id = T2.product_id "
     "WHERE T2.name = 'Smart Watch'"),
    # Nested queries, set operations, HAVING.
    ("Which products have never been ordered?",
     "SELECT name FROM product WHERE product_id NOT IN (SELECT product_id FROM order_item)"),
    ("Which products cost more than the average product?",
     "SELECT name FROM product WHERE price > (SELECT avg(price) FROM product)"),
    ("Which city has the most customers?",
     "SELECT city FROM customer GROUP BY city ORDER BY count(*) DESC LIMIT 1"),
    ("Which customers have never placed an order? Give their emails.",
     "SELECT email FROM customer WHERE customer_id NOT IN (SELECT customer_id FROM orders)"),
    ("Which brands sell both products under 20 dollars and products over 100 dollars?",
     "SELECT brand FROM product WHERE price < 20 INTERSECT SELECT brand FROM product WHERE price > 100"),
    ("Which countries have customers in more than one city?",
     "SELECT country FROM customer GROUP BY country HAVING count(DISTINCT city) > 1"),
    ("Which product ids have received a five-star review but never a one-star review?",
     "SELECT product_id FROM review WHERE rating = 5 EXCEPT SELECT product_id FROM review WHERE rating = 1"),
    # Three-table joins, grouped rankings, several nested parts.
    ("Which product has sold the most units? Give its name and the number of units.",
     "SELECT T2.name, sum(T1.quantity) FROM order_item AS T1 JOIN product AS T2 "
     "ON T1.product_id = T2.product_id GROUP BY T1.product_id ORDER BY sum(T1.quantity) DESC LIMIT 1"),
    ("What is the total revenue per category, largest first?",
     "SELECT T3.name, sum(T1.quantity * T1.unit_price) FROM order_item AS T1 JOIN product AS T2 "
     "ON T1.product_id = T2.product_id JOIN category AS T3 ON T2.category_id = T3.category_id "
     "GROUP BY T2.category_id ORDER BY sum(T1.quantity * T1.unit_price) DESC"),
    ("Which customers have bought something from the Toys category? Show first and last names.",
     "SELECT DISTINCT T4.first_name, T4.last_name FROM order_item AS T1 JOIN product AS T2 "
     "ON T1.product_id = T2.product_id JOIN category AS T3 ON T2.category_id = T3.category_id "
     "JOIN orders AS T5 ON T1.order_id = T5.order_id JOIN customer AS T4 "
     "ON T5.customer_id = T4.customer_id WHERE T3.name = 'Toys'"),
    ("Which product has the best average rating among products with at least seven reviews?",
     "SELECT T2.name FROM review AS T1 JOIN product AS T2 ON T1.product_id = T2.product_id "
     "GROUP BY T1.product_id HAVING count(*) >= 7 ORDER BY avg(T1.rating) DESC LIMIT 1"),
    ("Which customer has spent the most money on delivered orders?",
     "SELECT T3.first_name, T3.last_name FROM order_item AS T1 JOIN orders AS T2 ON T1.order_id = T2.order_id "
     "JOIN customer AS T3 ON T2.customer_id = T3.customer_id WHERE T2.status = 'Delivered' "
     "GROUP BY T2.customer_id ORDER BY sum(T1.quantity * T1.unit_price) DESC LIMIT 1"),
    ("Which customers ordered both a Voltra product and a Culina product? Give their emails.",
     "SELECT T3.email FROM order_item AS T1 JOIN orders AS T2 ON T1.order_id = T2.order_id "
     "JOIN customer AS T3 ON T2.customer_id = T3.customer_id JOIN product AS T4 "
     "ON T1.product_id = T4.product_id WHERE T4.brand = 'Voltra' INTERSECT "
     "SELECT T3.email FROM order_item AS T1 JOIN orders AS T2 ON T1.order_id = T2.order_id "
     "JOIN customer AS T3 ON T2.customer_id = T3.customer_id JOIN product AS T4 "
     "ON T1.product_id = T4.product_id WHERE T4.brand = 'Culina'"),
    ("What is the average rating of products in each category?",
     "SELECT T3.name, avg(T1.rating) FROM review AS T1 JOIN product AS T2 ON T1.product_id = T2.product_id "
     "JOIN category AS T3 ON T2.category_id = T3.category_id GROUP BY T2.category_id"),
    ("Which discontinued products were ordered in the second half of 2023?",
     "SELECT DISTINCT T1.name FROM product AS T1 JOIN order_item AS T2 ON T1.product_id = T2.product_id "
     "JOIN orders AS T3 ON T2.order_id = T3.order_id WHERE T1.discontinued = 1 "
     "AND T3.order_date BETWEEN '2023-07-01' AND '2023-12-31'"),
    ("Which customers from the United States or Australia have written reviews? Show last names.",
     "SELECT DISTINCT T2.last_name FROM review AS T1 JOIN customer AS T2 ON T1.customer_id = T2.customer_id "
     "WHERE T2.country = 'United States' OR T2.country = 'Australia'"),
    ("Which orders qualified for free shipping and contained more than two items in total? "
     "Give order ids.",
     "SELECT T1.order_id FROM orders AS T1 JOIN order_item AS T2 ON T1.order_id = T2.order_id "
     "WHERE T1.shipping_cost = 0 GROUP BY T1.order_id HAVING sum(T2.quantity) > 2"),
    ("Which categories have products that on average cost more than the average product?",
     "SELECT T2.name FROM product AS T1 JOIN category AS T2 ON T1.category_id = T2.category_id "
     "GROUP BY T1.category_id HAVING avg(T1.price) > (SELECT avg(price) FROM product)"),
]
