"""What a pg8000 application does, through the agent or directly: prints the results as JSON.

pg8000 is pure Python: it sends a Flush right behind its password, binds every parameter server-side and
names each statement it prepares.
"""
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
    conn.rollback()
    conn.close()
    return out


print(json.dumps(main(sys.argv[1]), sort_keys=True))
