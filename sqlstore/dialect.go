package sqlstore

import (
	"embed"
	"io/fs"
	"strconv"
	"strings"
)

//go:embed migrations
var migrations embed.FS

// dialect holds what differs between PostgreSQL and SQLite. Queries are
// written once, with ? placeholders.
type dialect struct {
	name       string // "postgres" or "sqlite"
	driver     string // the database/sql driver
	migrations fs.FS
	spend      string // Spend's statement
}

var (
	postgres = dialect{name: "postgres", driver: "pgx", migrations: sub("migrations/postgres"), spend: spendFor("postgres")}
	sqlite   = dialect{name: "sqlite", driver: "sqlite", migrations: sub("migrations/sqlite"), spend: spendFor("sqlite")}
)

func sub(dir string) fs.FS {
	f, err := fs.Sub(migrations, dir)
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return f
}

// bind rewrites ? placeholders as $1, $2… for PostgreSQL. No query of the
// package has a ? inside a literal.
func (d dialect) bind(query string) string {
	if !d.postgres() {
		return query
	}
	var b strings.Builder
	n := 0
	for _, part := range strings.Split(query, "?") {
		if n > 0 {
			b.WriteString("$" + strconv.Itoa(n))
		}
		b.WriteString(part)
		n++
	}
	return b.String()
}

func (d dialect) postgres() bool { return d.name == "postgres" }

// lockHead reads the token of the newest change and, on PostgreSQL, locks
// its row until the transaction ends. SQLite needs no lock: a write
// transaction holds the whole database from its start (_txlock=immediate).
func (d dialect) lockHead() string {
	if d.postgres() {
		return "SELECT token FROM apikey_changes_head WHERE id = 1 FOR UPDATE"
	}
	return "SELECT token FROM apikey_changes_head WHERE id = 1"
}
