"""The built-in demo: a day of sample messages (``samples``) captured, analysed
twice and explained (``scenario``), with no network and no token. Used by
``superbrain demo``, the notebook helper and the tests.
"""
