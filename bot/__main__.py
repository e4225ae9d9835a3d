"""``python -m bot`` is the ``matchbot`` command."""

import sys

from bot.cli import main

sys.exit(main())
