"""`zumik-notifier`: run the notifier until SIGINT/SIGTERM.

FastStream's app handles the signals: consumers stop taking messages, in-flight deliveries get the
broker's graceful timeout to finish (the rest are redelivered later), then the clients close.
"""

import gc
import logging

import uvloop
from zumik_observability.logs import configure_logging, settings_or_exit
from zumik_observability.tracing import configure_tracing, instrument_pymongo

from zumik_notifier.app import build_notifier, enabled_channels
from zumik_notifier.settings import get_settings

log = logging.getLogger("zumik_notifier")


def main() -> None:
    configure_logging("zumik-notifier")
    configure_tracing("zumik-notifier")
    instrument_pymongo()
    settings = settings_or_exit(get_settings, log)
    channels = enabled_channels(settings)
    if not channels:
        log.warning("no channel configured (RESEND_API_KEY, OPS_WEBHOOK_URL): events are only read")
    log.info("starting; channels: %s", ", ".join(channels) or "none")
    notifier = build_notifier(settings, channels, wait_for_broker=True)
    notifier.expose_health(settings.notifier_health_host, settings.notifier_health_port)
    gc.collect()  # nothing unreachable gets pinned
    gc.freeze()  # start-up's objects stay out of every collection (as in zumik_api.main)
    uvloop.run(notifier.app.run())


if __name__ == "__main__":
    main()
