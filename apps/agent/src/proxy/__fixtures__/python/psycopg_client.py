"""What a psycopg 3 application does, through the agent or directly: prints the results as JSON.

psycopg 3 binds parameters server-side, prepares a statement after its fifth execution, pipelines, reads
binary results on request, fetches through server-side (DECLAREd) cursors and copies in both directions.
"""
import json
import sys

import psycopg


def main(url: str) -> dict:
    out: dict = {}
    with psycopg.connect(url) as conn:
        cur = conn.cursor()
        out["rows"] = cur.execute("select * from accounts where id <= %s order by id", (2,)).fetchall()
        out["prepared"] = [
            cur.execute("select id, email, tags from accounts where id = %s", (i,)).fetchone() for i in range(1, 8)
        ]
        with conn.pipeline():
            counted = conn.execute("select count(*) from accounts")
            emailed = conn.execute("select email from accounts where id = 3")
            conn.execute("insert into imports values (100, 'piped')")
        out["pipeline"] = [counted.fetchone(), emailed.fetchone()]
        out["binary"] = conn.cursor(binary=True).execute("select * from accounts where id = 4").fetchone()
        with conn.cursor(name="server_side") as server:
            server.execute("select id, email from accounts where id <= 3 order by id")
            out["server_cursor"] = server.fetchall()
        with cur.copy("copy imports (id, name) from stdin") as copy:
            for i in range(1, 4):
                copy.write_row((i, f"row {i}"))
        with cur.copy("copy (select id, name from imports order by id) to stdout") as copy:
            out["copy_out"] = list(copy.rows())
        conn.rollback()
        try:
            cur.execute("select 1 / %s::int", (0,))
        except psycopg.Error as error:
            out["error"] = f"{error.sqlstate}: {error}"
        conn.rollback()
        out["after_error"] = cur.execute("select 42").fetchone()
    return out


print(json.dumps(main(sys.argv[1]), default=str, sort_keys=True))
