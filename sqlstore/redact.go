package sqlstore

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// String describes the Store by its database, without the password or any
// other parameter of the DSN, and by the prefix of its keys. The pepper of
// its hasher and the password are never part of it.
func (s *Store) String() string {
	if s == nil {
		return "sqlstore.Store(nil)"
	}
	return "sqlstore.Store{" + s.where + ", keys: " + s.set.format.Prefix + "…}"
}

// GoString is String, for %#v.
func (s *Store) GoString() string { return s.String() }

// Format prints String for every verb: fmt's default formatting of the
// struct would print the pepper and the DSN's password held in its fields
// for verbs such as %x or %s, which do not call String.
func (s *Store) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		_, _ = io.WriteString(f, strconv.Quote(s.String()))
		return
	}
	_, _ = io.WriteString(f, s.String())
}

// LogValue logs the database and the key prefix, never a secret.
func (s *Store) LogValue() slog.Value {
	if s == nil {
		return slog.StringValue("<nil>")
	}
	return slog.GroupValue(slog.String("database", s.where), slog.String("key_prefix", s.set.format.Prefix))
}

// postgresWhere names a PostgreSQL database as postgres://USER@HOST:PORT/DB:
// the DSN's password and query parameters (which may hold a password too)
// are left out.
func postgresWhere(c *pgx.ConnConfig) string {
	u := url.URL{Scheme: "postgres", User: url.User(c.User), Host: net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port))), Path: "/" + c.Database}
	return u.String()
}

// sqliteWhere names a SQLite database by its path, without the DSN's query
// parameters.
func sqliteWhere(dsn string) string {
	path, _, _ := strings.Cut(dsn, "?")
	return path
}
