"""Missing-code alerts: the alert queue in the journal, e-mail rendering and delivery, reminders, daily digest.

The pipeline queues an alert when it holds a shipment (:meth:`ordersyncd.journal.Journal.queue_alert`) and
resolves it when the shipment is sent; the :class:`AlertDispatcher` task of the daemon delivers what is due.
"""

from .conditions import CODES_MISSING
from .dispatcher import AlertDispatcher
from .settings import AlertConfig, AlertSettings, SmtpSettings, load_alert_config

__all__ = [
    "CODES_MISSING",
    "AlertConfig",
    "AlertDispatcher",
    "AlertSettings",
    "SmtpSettings",
    "load_alert_config",
]
