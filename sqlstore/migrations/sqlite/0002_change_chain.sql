-- Each change names the change before it (prev_token is that change's
-- token), so that a watcher can tell a change it never saw (a restore from
-- a backup, a table reset, a change pruned while it was away) from a
-- sequence number that was never used (a rolled-back change, the numbers
-- PostgreSQL skips after a crash): the first breaks the chain, the second
-- does not.
ALTER TABLE apikey_changes ADD COLUMN token TEXT NOT NULL DEFAULT '';
ALTER TABLE apikey_changes ADD COLUMN prev_token TEXT NOT NULL DEFAULT '';

-- The newest change, in one row that every change's transaction locks and
-- rewrites: changes commit one at a time, in the order of their sequence
-- numbers, so that a watcher that has read a change has read every change
-- before it.
CREATE TABLE apikey_changes_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   INTEGER NOT NULL,
    token TEXT NOT NULL
);
INSERT INTO apikey_changes_head (id, seq, token) SELECT 1, COALESCE(MAX(seq), 0), '' FROM apikey_changes;

-- What every process sharing the database must agree on: key_prefix, the
-- prefix of the keys the store issues.
CREATE TABLE apikey_settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
