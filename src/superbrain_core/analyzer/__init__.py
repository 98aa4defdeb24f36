"""The nightly analyzer: the batch loop over unprocessed messages, classifiers
(``classify/``), routing into the structured tables, the digest, ``explain`` and
the nightly run with its notifications.
"""
