"""What an asyncpg application does, through the agent or directly: prints the results as JSON.

asyncpg speaks the binary format for every type it knows, prepares every statement (named, cached),
reads cursors in a transaction and copies rows in with binary COPY.
"""
import asyncio
import io
import json
import sys

import asyncpg


async def main(url: str) -> dict:
    conn = await asyncpg.connect(url)
    out: dict = {}
    rows = await conn.fetch("select * from accounts where id <= $1 order by id", 2)
    out["rows"] = [dict(r) for r in rows]
    out["count"] = await conn.fetchval("select count(*) from accounts where balance > $1", 10)
    statement = await conn.prepare("select id, email, tags from accounts where id = $1")
    out["prepared"] = [dict(await statement.fetchrow(i)) for i in (1, 2, 3)]
    async with conn.transaction():
        out["cursor"] = [dict(r) async for r in conn.cursor("select id, email from accounts order by id", prefetch=2)]
    await conn.copy_records_to_table("imports", records=[(i, f"row {i}") for i in range(1, 6)])
    await conn.executemany("insert into imports values ($1, $2)", [(i, "many") for i in range(6, 9)])
    buffer = io.BytesIO()
    await conn.copy_from_query("select id, name from imports order by id", output=buffer)
    out["copy_out"] = buffer.getvalue().decode()
    try:
        await conn.fetch("select 1 / $1::int", 0)
    except asyncpg.PostgresError as error:
        out["error"] = f"{error.sqlstate}: {error}"
    out["after_error"] = await conn.fetchval("select 42")
    await conn.execute("delete from imports where id > 0")
    await conn.close()
    return out


print(json.dumps(asyncio.run(main(sys.argv[1])), default=str, sort_keys=True))
