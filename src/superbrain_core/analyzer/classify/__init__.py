"""Classifiers: turn a raw message (with its reply chain) into a :class:`Classification`."""

from superbrain_core.analyzer.classify.schema import (
    CONFIDENCE_THRESHOLD,
    DEFAULT_TIMEZONE,
    SCHEMA_VERSION,
    BatchClassifier,
    ChainMessage,
    Classification,
    Classifier,
    ClassifierError,
    ClassifierInput,
    EventKind,
    ItemType,
    json_schema,
)

__all__ = [
    "CONFIDENCE_THRESHOLD",
    "DEFAULT_TIMEZONE",
    "SCHEMA_VERSION",
    "BatchClassifier",
    "ChainMessage",
    "Classification",
    "Classifier",
    "ClassifierError",
    "ClassifierInput",
    "EventKind",
    "ItemType",
    "json_schema",
]
