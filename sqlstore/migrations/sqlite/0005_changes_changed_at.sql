-- Every change prunes the changes older than an hour
-- (DELETE FROM apikey_changes WHERE changed_at < ?): with this index it reads
-- only the rows it deletes, instead of the whole table, under the
-- transaction of every change of every process.
-- Additive: a process from before this migration reads and writes the table
-- as it did. The index is built in the migration's transaction, which holds
-- SQLite's write lock meanwhile, as every write does. IF NOT EXISTS, as on
-- PostgreSQL, where an operator may build it beforehand.
CREATE INDEX IF NOT EXISTS apikey_changes_changed_at ON apikey_changes (changed_at);
