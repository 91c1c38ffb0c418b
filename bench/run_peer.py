"""Run bench/app.py under a peer server that has no command line of its own.

    python run_peer.py bjoern|fastwsgi HOST PORT
"""

import sys

from app import app


def main() -> None:
    server, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if server == "bjoern":
        import bjoern
        bjoern.run(app, host, port)
    elif server == "fastwsgi":
        import fastwsgi
        fastwsgi.run(wsgi_app=app, host=host, port=port)
    else:
        sys.exit(f"unknown server {server!r}")


if __name__ == "__main__":
    main()
