-- Monthly quota refills.
-- quota_refill_day: the day of the month (1 to 31) on which the quota is
-- topped up to quota_refill_amount, at 00:00 UTC, on the month's last day
-- when it is shorter; 0 for a refill every quota_refill_interval, or none.
-- A monthly refill's quota_refill_interval is 0, and its quota_refilled_at
-- the last refill (the start of its period) or when the quota was set.
ALTER TABLE apikey_keys ADD COLUMN quota_refill_day INTEGER NOT NULL DEFAULT 0
	CHECK (quota_refill_day BETWEEN 0 AND 31);
