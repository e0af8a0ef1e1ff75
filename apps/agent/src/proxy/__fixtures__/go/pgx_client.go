// What a pgx (v4) application does, through the agent or directly: prints what it reads, one line per step.
//
// pgx speaks the extended protocol only: it describes each statement first and asks for the binary format
// for every type it knows, caches prepared statements under generated names, pipelines a Batch before one
// Sync, copies rows in with binary COPY and cancels a query when its context ends.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v4"
)

func must(err error) {
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
}

func printRows(label string, rows pgx.Rows) {
	for rows.Next() {
		values, err := rows.Values()
		must(err)
		fmt.Printf("%s %v\n", label, values)
	}
	must(rows.Err())
}

func main() {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, os.Args[1])
	must(err)
	defer conn.Close(ctx)

	rows, err := conn.Query(ctx, "select * from accounts where id <= $1 order by id", 3)
	must(err)
	printRows("row", rows)

	// The statement cache prepares it once, then runs it by name.
	for i := 1; i <= 6; i++ {
		var id int32
		var email string
		var tags []string
		must(conn.QueryRow(ctx, "select id, email, tags from accounts where id = $1", i).Scan(&id, &email, &tags))
		fmt.Println("cached", id, email, tags)
	}

	// A pipeline: several statements, one Sync.
	batch := &pgx.Batch{}
	batch.Queue("select email, balance from accounts where id = $1", 4)
	batch.Queue("insert into imports values ($1, $2)", 100, "batched")
	batch.Queue("select count(*) from imports")
	results := conn.SendBatch(ctx, batch)
	var email string
	var balance float64
	must(results.QueryRow().Scan(&email, &balance))
	fmt.Println("batch", email, balance)
	tag, err := results.Exec()
	must(err)
	fmt.Println("batch", tag.String())
	var count int64
	must(results.QueryRow().Scan(&count))
	fmt.Println("batch count", count)
	must(results.Close())

	copied, err := conn.CopyFrom(ctx, pgx.Identifier{"imports"}, []string{"id", "name"},
		pgx.CopyFromRows([][]interface{}{{1, "one"}, {2, "two"}, {3, "three"}}))
	must(err)
	fmt.Println("copied", copied)

	tx, err := conn.Begin(ctx)
	must(err)
	rows, err = tx.Query(ctx, "select id, name, email from accounts where active order by id")
	must(err)
	printRows("tx", rows)
	must(tx.Rollback(ctx))

	_, err = conn.Exec(ctx, "select 1 / $1::int", 0)
	fmt.Println("error:", err)
	var answer int
	must(conn.QueryRow(ctx, "select 42").Scan(&answer))
	fmt.Println("after error", answer)

	timeout, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	started := time.Now()
	_, err = conn.Exec(timeout, "select pg_sleep(30)")
	cancel()
	fmt.Println("cancelled:", err != nil, time.Since(started) < 5*time.Second)
	// A cancelled query closes pgx's connection: a new one goes on.
	conn2, err := pgx.Connect(ctx, os.Args[1])
	must(err)
	defer conn2.Close(ctx)
	must(conn2.QueryRow(ctx, "select email from accounts where id = 8").Scan(&email))
	fmt.Println("reconnected", email)
	_, err = conn2.Exec(ctx, "delete from imports where id > 0")
	must(err)
}
