"""superbrain_core: save every Telegram update raw now, structure it later.

The public surface is re-exported here; optional integrations (aiogram,
Postgres, Supabase, pandas) live in their own modules and import their
dependencies only when used.
"""

from superbrain_core.analyzer.batch import BatchOptions, BatchReport, run_batch
from superbrain_core.analyzer.classify import (
    Classification,
    Classifier,
    ClassifierError,
    ClassifierInput,
    ItemType,
)
from superbrain_core.analyzer.classify.factory import make_classifier
from superbrain_core.analyzer.explain import Explanation, explain_message
from superbrain_core.analyzer.nightly import NightlyResult, NightlySettings, run_nightly
from superbrain_core.capture import Capturer, CaptureTally
from superbrain_core.errors import (
    ConfigError,
    InputError,
    NotAnUpdateError,
    RunLockHeld,
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
    RouteOutcome,
    RoutingEntry,
    StoreStats,
)
from superbrain_core.settings import Settings
from superbrain_core.storage import CaptureOptions, Store, open_store
from superbrain_core.telegram import normalize_message, normalize_update

__version__ = "0.1.0"

__all__ = [
    "BatchOptions",
    "BatchReport",
    "BotResponse",
    "BotResponseIn",
    "CaptureOptions",
    "CaptureOutcome",
    "CaptureResult",
    "CaptureTally",
    "Capturer",
    "ChainReply",
    "Classification",
    "Classifier",
    "ClassifierError",
    "ClassifierInput",
    "ConfigError",
    "Explanation",
    "FileDescriptor",
    "FileStatus",
    "FileStore",
    "ForwardOrigin",
    "InputError",
    "ItemType",
    "LocalFileStore",
    "MessageChain",
    "NightlyResult",
    "NightlySettings",
    "NormalizedMessage",
    "NormalizedUpdate",
    "NotAnUpdateError",
    "RawFile",
    "RawMessage",
    "RawUpdate",
    "RouteOutcome",
    "RoutingEntry",
    "RunLockHeld",
    "Settings",
    "StorageError",
    "Store",
    "StoreStats",
    "StoredBlob",
    "SuperbrainError",
    "TransientStorageError",
    "__version__",
    "attach_bytes",
    "explain_message",
    "make_classifier",
    "normalize_message",
    "normalize_update",
    "open_store",
    "run_batch",
    "run_nightly",
]
