"""Stage 1's SQL synthesis: seed SQL turned into templates, filled on the training databases.

    templates.py    seed SQL -> templates with typed slots (slots.py)
    binding.py      which tables and columns a template's slots may take (foreign-key paths)
    filling.py      one filled query: slots bound to a database's names and values
    synthesize.py   the round's queries: templates sampled, filled, executed, kept or dropped
"""
