"""`zumik-privacy`: run the privacy service until SIGINT/SIGTERM.

FastStream's app handles the signals: the consumer stops taking commands, a command in progress
gets the broker's graceful timeout to finish (otherwise it is redelivered and resumes from its
claim), then the clients close.
"""

import logging

import uvloop

from zumik_privacy.app import build_privacy
from zumik_privacy.settings import get_settings


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    uvloop.run(build_privacy(get_settings()).app.run())


if __name__ == "__main__":
    main()
