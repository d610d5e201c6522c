package apikey

import "time"

// MonthlyPeriod returns the monthly refill period (see Refill.Day) that
// holds t, for a refill on day of each month at 00:00 UTC: start, the last
// refill at or before t, and next, the first refill after t. A month
// shorter than day refills on its last day: day 31 refills on 30 April
// and on 28 or 29 February, and day 30 on those too. At the very instant
// of a refill, start is t.
//
// A day below 1 counts as 1 and one above 31 as 31; MonthlyPeriod never
// panics. It is pure, and the same for a t in any location.
//
// Stores compute their refills with it, so that every QuotaStore agrees on
// when a monthly refill falls due; the time between start and next is
// what QuotaDecision.Interval reports for a monthly refill.
func MonthlyPeriod(t time.Time, day int) (start, next time.Time) {
	day = min(max(day, 1), 31)
	t = t.UTC()
	y, m, _ := t.Date()
	this := monthlyRefillIn(y, m, day)
	if t.Before(this) {
		return monthlyRefillIn(y, m-1, day), this
	}
	return this, monthlyRefillIn(y, m+1, day)
}

// monthlyRefillIn returns the refill on day in the month m of year y, on
// the month's last day when it is shorter. m may run past December or
// before January: time.Date normalizes it into the year next or before.
func monthlyRefillIn(y int, m time.Month, day int) time.Time {
	first := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	last := first.AddDate(0, 1, -1).Day() // AddDate normalizes too: 1 March less a day
	return first.AddDate(0, 0, min(day, last)-1)
}
