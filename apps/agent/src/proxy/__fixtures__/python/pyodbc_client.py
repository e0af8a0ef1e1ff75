"""What an ODBC application (Excel, Power BI, Tableau) does through psqlODBC, through the agent or directly:
prints the results as JSON. psqlODBC wraps statements in savepoints, and with UseDeclareFetch reads every
result through DECLARE ... CURSOR WITH HOLD and FETCH, a few rows at a time.
"""
import json
import sys
from urllib.parse import unquote, urlparse

import pyodbc


def main(url: str, options: str) -> dict:
    target = urlparse(url)
    conn = pyodbc.connect(
        "DRIVER={PostgreSQL Unicode};SERVER=127.0.0.1;"
        f"PORT={target.port};DATABASE={target.path[1:]};UID={unquote(target.username)};"
        f"PWD={unquote(target.password or '')};SSLmode=disable;{options}",
        autocommit=False,
    )
    cur = conn.cursor()
    out: dict = {}
    cur.execute("select * from accounts where id <= ? order by id", 3)
    out["rows"] = [[str(v) for v in row] for row in cur.fetchall()]
    cur.execute("select count(*), sum(balance), max(name) from accounts where id > ?", 1)
    out["aggregates"] = [str(v) for v in cur.fetchone()]
    cur.executemany("insert into imports values (?, ?)", [(i, "odbc") for i in range(1, 6)])
    try:
        cur.execute("select 1 / 0")
    except pyodbc.Error as error:
        out["error"] = str(error.args[0])
    # The driver rolled back to its savepoint: the transaction and its inserts go on.
    cur.execute("select count(*) from imports")
    out["after_error"] = str(cur.fetchone()[0])
    conn.rollback()
    out["tables"] = sorted(t.table_name for t in cur.tables(schema="public", tableType="TABLE"))
    out["columns"] = [[c.column_name, c.type_name] for c in cur.columns(table="accounts")]
    conn.close()
    return out


print(json.dumps({options: main(sys.argv[1], options) for options in ["", "UseDeclareFetch=1;Fetch=2;"]}, sort_keys=True))
