"""What a pg8000 application does, through the agent or directly: prints the results as JSON.

pg8000 is pure Python: it sends a Flush right behind its password, binds every parameter server-side,
names each statement it prepares and runs COPY FROM STDIN through the extended protocol, with a Sync right
behind the Execute (the server ignores it in copy-in mode, and answers it when the COPY fails at once).
"""
import io
import json
import sys
from urllib.parse import unquote, urlparse

import pg8000


def main(url: str) -> dict:
    target = urlparse(url)
    conn = pg8000.connect(
        user=unquote(target.username),
        password=unquote(target.password) if target.password else None,
        host="127.0.0.1",
        port=target.port,
        database=target.path[1:],
    )
    cur = conn.cursor()
    out: dict = {}
    cur.execute("select id, name, email, balance, tags, active, ratio from accounts where id <= %s order by id", (3,))
    out["rows"] = [[str(v) for v in row] for row in cur.fetchall()]
    cur.execute("select count(*), max(name) from accounts where id > %s", (1,))
    out["aggregates"] = [str(v) for v in cur.fetchone()]
    cur.executemany("insert into imports values (%s, %s)", [(i, "pg8000") for i in range(1, 4)])
    cur.execute("select count(*) from imports")
    out["inserted"] = str(cur.fetchone()[0])
    cur.execute("copy imports from stdin", stream=io.BytesIO(b"10\tcopied\n11\tcopied\n"))
    cur.execute("select count(*) from imports where name = 'copied'")
    out["copied"] = str(cur.fetchone()[0])
    conn.rollback()
    # A COPY that fails right after the server asked for data (a view takes no COPY): an error, and the
    # connection goes on.
    try:
        cur.execute("copy imports_view from stdin", stream=io.BytesIO(b"12\tnever\n"))
        out["copy_into_view"] = "no error"
    except pg8000.ProgrammingError as error:
        out["copy_into_view"] = str(error.args[0].get("C") if isinstance(error.args[0], dict) else error.args[2])
    conn.rollback()
    cur.execute("select count(*) from imports")
    out["after_failed_copy"] = str(cur.fetchone()[0])
    conn.rollback()
    conn.close()
    return out


print(json.dumps(main(sys.argv[1]), sort_keys=True))
