"""Expansion and risk triggers: rules as data, evaluation as of a date, stored events.

Public API: :func:`evaluate_triggers`, :func:`record_triggers`, :func:`open_triggers`,
:func:`load_events`, :class:`TriggerSettings`.
"""

from engine.triggers.evaluate import evaluate_triggers
from engine.triggers.features import StoreInputs, compute_features
from engine.triggers.settings import DEFAULT_TRIGGERS, TriggerDef, TriggerSettings
from engine.triggers.store_events import evaluate_and_record, load_events, open_triggers, record_triggers, set_status

__all__ = [
    "DEFAULT_TRIGGERS", "StoreInputs", "TriggerDef", "TriggerSettings", "compute_features", "evaluate_and_record",
    "evaluate_triggers", "load_events", "open_triggers", "record_triggers", "set_status",
]
