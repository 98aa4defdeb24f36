"""Build a classifier by name from the environment (CLI, CronJob, notebooks).

Construction validates every setting the classifier needs, so a misconfigured
run fails before it claims a single message.
"""

from __future__ import annotations

from superbrain_core.analyzer.classify.pool import DEFAULT_CONNECTIONS
from superbrain_core.analyzer.classify.schema import Classifier
from superbrain_core.errors import ConfigError

#: Names accepted by ``superbrain batch --classifier`` (env ``SUPERBRAIN_CLASSIFIER``).
CLASSIFIER_NAMES = ("rules", "webhook", "openai")


def make_classifier(name: str, *, connections: int = DEFAULT_CONNECTIONS) -> Classifier:
    """The classifier called ``name``, configured from the environment.

    ``connections``: the keep-alive pool an HTTP classifier keeps, sized to the
    batch's concurrency so that no worker waits for a connection and none sits
    idle (default: the default concurrency).
    """
    key = name.strip().lower()
    if key == "rules":
        from superbrain_core.analyzer.classify.rules import RulesClassifier

        return RulesClassifier()
    if key == "webhook":
        from superbrain_core.analyzer.classify.webhook import WebhookClassifier

        return WebhookClassifier.from_env(connections=connections)
    if key == "openai":
        from superbrain_core.analyzer.classify.openai import OpenAIClassifier

        return OpenAIClassifier.from_env(connections=connections)
    raise ConfigError(
        f"unknown classifier {name!r}: expected one of {', '.join(CLASSIFIER_NAMES)}",
        variable="SUPERBRAIN_CLASSIFIER",
    )
