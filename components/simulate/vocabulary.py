"""Words the synthetic catalog is written with: categories, their nouns, and title decorations."""

from __future__ import annotations

# (category, typical price in dollars, nouns an item title of that category ends with)
CATEGORIES: tuple[tuple[str, float, tuple[str, ...]], ...] = (
    ("Skincare", 24.0, ("Face Serum", "Moisturizer", "Cleanser", "Toner", "Eye Cream")),
    ("Makeup", 16.0, ("Lipstick", "Mascara", "Foundation", "Eyeliner", "Blush")),
    ("Hair Care", 13.0, ("Shampoo", "Conditioner", "Hair Mask", "Hair Oil", "Styling Gel")),
    ("Fragrance", 55.0, ("Eau de Parfum", "Body Mist", "Cologne", "Perfume Oil")),
    ("Bath & Body", 11.0, ("Body Wash", "Body Lotion", "Bath Salts", "Hand Cream", "Scrub")),
    ("Kitchen", 35.0, ("Chef Knife", "Frying Pan", "Cutting Board", "Saucepan", "Mixing Bowl")),
    ("Coffee & Tea", 15.0, ("Coffee Beans", "Green Tea", "Espresso Pods", "Herbal Tea")),
    ("Audio", 60.0, ("Wireless Earbuds", "Bluetooth Speaker", "Headphones", "Soundbar")),
    ("Computer Accessories", 30.0, ("Keyboard", "Wireless Mouse", "Laptop Stand", "USB Hub")),
    ("Home Decor", 28.0, ("Throw Pillow", "Scented Candle", "Wall Clock", "Table Lamp")),
    ("Bedding", 45.0, ("Duvet Cover", "Pillowcase Set", "Fitted Sheet", "Weighted Blanket")),
    ("Fitness", 25.0, ("Yoga Mat", "Resistance Bands", "Dumbbell Set", "Jump Rope")),
    ("Outdoor", 50.0, ("Camping Tent", "Sleeping Bag", "Hiking Backpack", "Headlamp")),
    ("Toys", 20.0, ("Building Blocks", "Puzzle", "Plush Bear", "Board Game", "Toy Car")),
    ("Pet Supplies", 18.0, ("Dog Toy", "Cat Litter", "Pet Bed", "Dog Leash", "Cat Scratcher")),
    ("Office", 9.0, ("Notebook", "Gel Pens", "Desk Organizer", "Stapler", "Sticky Notes")),
    ("Garden", 22.0, ("Plant Pot", "Garden Hose", "Pruning Shears", "Watering Can")),
    ("Apparel", 26.0, ("T-Shirt", "Hoodie", "Rain Jacket", "Baseball Cap", "Leggings")),
    ("Footwear", 65.0, ("Running Shoes", "Sneakers", "Slippers", "Hiking Boots", "Sandals")),
    ("Pantry", 8.0, ("Granola", "Dark Chocolate", "Trail Mix", "Protein Bar", "Olive Oil")),
)

ADJECTIVES = (
    "Classic", "Ultra", "Organic", "Premium", "Everyday", "Gentle", "Compact", "Deluxe",
    "Essential", "Pro", "Natural", "Lightweight", "Soft", "Bold", "Fresh", "Vintage", "Smart",
    "Eco", "Mini", "Advanced",
)  # fmt: skip

VARIANTS = (
    "Pack of 2", "Pack of 3", "Travel Size", "Family Size", "Black", "White", "Navy", "Rose",
    "Large", "Small", "Refill", "Gift Set", "Limited Edition", "Unscented", "Value Pack", "XL",
)  # fmt: skip

# Brand names are a prefix and a suffix, so there are more distinct brands than categories need.
BRAND_PREFIXES = (
    "Lu", "Ve", "Ka", "No", "Zen", "Ori", "Bel", "Sa", "Tre", "Mo", "Al", "Fi", "Ra", "Co", "Ne",
    "Vi",
)  # fmt: skip
BRAND_SUFFIXES = ("ma", "ra", "vo", "lix", "tta", "ren", "dia", "sto", "nique", "ya", "bo", "lina")
