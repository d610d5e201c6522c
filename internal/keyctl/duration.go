package keyctl

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// days is a flag.Value for durations that also take days and weeks, as
// rotation periods are spoken of: "90d", "2w", "1d12h", or any Go duration
// such as "36h" or "90m". Negative durations are refused.
type days struct{ d *time.Duration }

func (v days) String() string {
	if v.d == nil || *v.d == 0 {
		return "" // the flag package then prints no default
	}
	return formatDays(*v.d)
}

func (v days) Set(s string) error {
	d, err := parseDays(s)
	if err != nil {
		return err
	}
	*v.d = d
	return nil
}

// The errors of parseDays, which never quote what they were given: a key
// pasted in the wrong place must not be printed back.
var (
	errInvalidDuration = errors.New("invalid duration (examples: 90d, 2w, 36h, 1d12h)")
	errTooLong         = errors.New("the duration is too long")
)

// parseDays reads a duration with optional d (24h) and w (7d) units.
func parseDays(s string) (time.Duration, error) {
	if s == "" {
		return 0, errors.New("empty duration")
	}
	if strings.HasPrefix(s, "-") {
		return 0, errors.New("the duration is negative")
	}
	var total time.Duration
	for s != "" {
		i := strings.IndexAny(s, "dw")
		if i < 0 {
			d, err := time.ParseDuration(s)
			if err != nil {
				return 0, errInvalidDuration
			}
			total += d
			break
		}
		n, err := strconv.ParseUint(s[:i], 10, 32)
		if err != nil {
			return 0, errInvalidDuration
		}
		unit := 24 * time.Hour
		if s[i] == 'w' {
			unit *= 7
		}
		if n > uint64((1<<62)/unit) {
			return 0, errTooLong
		}
		total += time.Duration(n) * unit
		s = s[i+1:]
	}
	if total < 0 {
		return 0, errTooLong
	}
	return total, nil
}

// formatDays prints whole days as "90d", anything else as Go does.
func formatDays(d time.Duration) string {
	if d != 0 && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}
