-- Rate limits and a quota of credits per key.
-- limits: the key's rate limits as a JSON array ('' or '[]' for none).
-- quota_remaining: the credits left; NULL means the key has no quota.
-- quota_refill_amount, quota_refill_interval: the count a refill tops up to
-- and the microseconds between refills; 0 and 0 without refill.
-- quota_refilled_at: the last refill, or when the quota was set
-- (microseconds since the Unix epoch); refills advance it by whole intervals.
ALTER TABLE apikey_keys ADD COLUMN limits TEXT NOT NULL DEFAULT '';
ALTER TABLE apikey_keys ADD COLUMN quota_remaining INTEGER CHECK (quota_remaining >= 0);
ALTER TABLE apikey_keys ADD COLUMN quota_refill_amount INTEGER NOT NULL DEFAULT 0;
ALTER TABLE apikey_keys ADD COLUMN quota_refill_interval INTEGER NOT NULL DEFAULT 0;
ALTER TABLE apikey_keys ADD COLUMN quota_refilled_at INTEGER NOT NULL DEFAULT 0;
