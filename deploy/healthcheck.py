"""Container HEALTHCHECK: exit 0 when the service's /readyz answers 200 on this host, else 1.

Runs inside the image (stdlib only); the port comes from SENTIMENT_PORT like the service's.
"""

from __future__ import annotations

import os
import sys
import urllib.request


def main() -> int:
    host = os.environ.get("SENTIMENT_HOST", "127.0.0.1")
    host = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
    url = f"http://{host}:{os.environ.get('SENTIMENT_PORT', '3000')}/readyz"
    try:
        with urllib.request.urlopen(url, timeout=2.5) as resp:
            return 0 if resp.status == 200 else 1
    except OSError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
