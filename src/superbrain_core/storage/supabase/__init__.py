"""The Supabase backend: PostgREST ``rpc`` calls to the same SQL functions the
Postgres backend uses, keyset-paged past the 1,000-row cap (extra ``supabase``)."""

from superbrain_core.storage.supabase.store import SupabaseStore

__all__ = ["SupabaseStore"]
