"""Ways to get a running deployment: ``local`` (a miniature on this machine), ``aws``, ``url``."""
