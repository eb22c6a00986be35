"""helpdesk: the reference help desk backend, a real target that behaves like the course's Rails apps.

Run it with ``python -m helpdesk serve --database-url URL`` (see ``docs/helpdesk.md``).
"""

__version__ = "1.0.0"
