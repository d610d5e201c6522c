package keyctl

import (
	"context"
	"errors"
)

// open returns the backend the flags and the environment name: the store
// of --store (or $APIKEYS_STORE), else WorkOS. Opening a store counts
// against --timeout.
func (a *app) open(ctx context.Context, c *command, conn *connection) (Backend, error) {
	dsn := conn.store
	if dsn == "" {
		dsn = a.env(storeEnv)
	}
	if dsn == "" {
		return a.openWorkOS(conn)
	}
	a.noteSecret(dsnPassword(dsn))
	if conn.baseURL != "" || conn.apiKeyFile != "" {
		return nil, errors.New("--base-url and --api-key-file are for WorkOS: they do not go with --store")
	}
	s, err := a.storeFor(dsn)
	if err != nil {
		return nil, err
	}
	a.source = s.Name
	ctx, cancel := withTimeout(ctx, conn)
	defer cancel()
	b, err := s.Open(ctx, OpenRequest{DSN: dsn, Env: a.env, Creates: c.name == "create"})
	if err != nil && errors.Is(context.Cause(ctx), errTimedOut) {
		return nil, errors.New("no answer from " + s.Name + " within --timeout")
	}
	return b, err
}

// close closes b, saying so on stderr if that fails: what the command
// printed stands, and so does its exit status.
func (a *app) close(c *command, b Backend) {
	if err := b.Close(); err != nil {
		a.errorf(c, "closing the connection to %s: %v", a.source, err)
	}
}
