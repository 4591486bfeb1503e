"""`zumik-privacy`: run the privacy service until SIGINT/SIGTERM.

FastStream's app handles the signals: the consumer stops taking commands, a command in progress
gets the broker's graceful timeout to finish (otherwise it is redelivered and resumes from its
claim), then the clients close.
"""

import logging

import uvloop
from zumik_observability.logs import configure_logging, settings_or_exit
from zumik_observability.tracing import configure_tracing, instrument_pymongo

from zumik_privacy.app import build_privacy
from zumik_privacy.settings import get_settings

log = logging.getLogger("zumik_privacy")


def main() -> None:
    configure_logging("zumik-privacy")
    configure_tracing("zumik-privacy")
    instrument_pymongo()
    settings = settings_or_exit(get_settings, log)
    service = build_privacy(settings)
    service.expose_health(settings.privacy_health_host, settings.privacy_health_port)
    uvloop.run(service.app.run())


if __name__ == "__main__":
    main()
