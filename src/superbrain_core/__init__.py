"""superbrain_core: save every Telegram update raw now, structure it later.

The public surface is re-exported here; optional integrations (aiogram,
Postgres, Supabase, pandas) live in their own modules and import their
dependencies only when used.
"""

from superbrain_core.capture import Capturer, CaptureTally
from superbrain_core.errors import (
    ConfigError,
    InputError,
    NotAnUpdateError,
    StorageError,
    SuperbrainError,
    TransientStorageError,
)
from superbrain_core.files import FileStore, LocalFileStore, StoredBlob, attach_bytes
from superbrain_core.models import (
    BotResponse,
    BotResponseIn,
    CaptureOutcome,
    CaptureResult,
    ChainReply,
    FileDescriptor,
    FileStatus,
    ForwardOrigin,
    MessageChain,
    NormalizedMessage,
    NormalizedUpdate,
    RawFile,
    RawMessage,
    RawUpdate,
    StoreStats,
)
from superbrain_core.settings import Settings
from superbrain_core.storage import CaptureOptions, Store, open_store
from superbrain_core.telegram import normalize_message, normalize_update

__version__ = "0.1.0"

__all__ = [
    "BotResponse",
    "BotResponseIn",
    "CaptureOptions",
    "CaptureOutcome",
    "CaptureResult",
    "CaptureTally",
    "Capturer",
    "ChainReply",
    "ConfigError",
    "FileDescriptor",
    "FileStatus",
    "FileStore",
    "ForwardOrigin",
    "InputError",
    "LocalFileStore",
    "MessageChain",
    "NormalizedMessage",
    "NormalizedUpdate",
    "NotAnUpdateError",
    "RawFile",
    "RawMessage",
    "RawUpdate",
    "Settings",
    "StorageError",
    "Store",
    "StoreStats",
    "StoredBlob",
    "SuperbrainError",
    "TransientStorageError",
    "__version__",
    "attach_bytes",
    "normalize_message",
    "normalize_update",
    "open_store",
]
