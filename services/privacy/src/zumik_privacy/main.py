"""`zumik-privacy`: run the privacy service until SIGINT/SIGTERM.

FastStream's app handles the signals: the consumer stops taking commands, a command in progress
gets the broker's graceful timeout to finish (otherwise it is redelivered and resumes from its
claim), then the clients close.
"""

import logging
import sys

import uvloop
from pydantic import ValidationError

from zumik_privacy.app import build_privacy
from zumik_privacy.settings import get_settings

log = logging.getLogger("zumik_privacy")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = get_settings()
    except ValidationError as error:
        # Pydantic's own message quotes the input, secrets included: name the problems only.
        for problem in error.errors(include_input=False, include_url=False):
            where = ".".join(str(part) for part in problem["loc"]).upper() or "settings"
            log.error("invalid configuration: %s: %s", where, problem["msg"])
        sys.exit(2)
    uvloop.run(build_privacy(settings).app.run())


if __name__ == "__main__":
    main()
