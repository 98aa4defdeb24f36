"""What the Postgres and Supabase backends share because they share one schema:
the bundled migrations, the codec that makes values storable in ``text``/``jsonb``,
row converters, and the arguments of the SQL functions they both call.

Neither backend imports the other; both import this package.
"""
