package sqlstore

import (
	"log/slog"
	"time"

	"github.com/apikeyauth/apikey"
)

// Option configures a Store in Open.
type Option func(*settings)

type settings struct {
	format       apikey.KeyFormat
	formatGiven  bool // by WithKeyFormat; otherwise the database's is taken
	hasher       apikey.Hasher
	lastUsedEach time.Duration
	pollEach     time.Duration
	now          func() time.Time
	logger       *slog.Logger
}

// The defaults of the options.
const (
	// DefaultPrefix starts the keys a Store issues.
	DefaultPrefix = "sk_"
	// DefaultLastUsedInterval is how often, at most, a key's last use is
	// written, and how often queued uses are flushed.
	DefaultLastUsedInterval = time.Minute
	// DefaultPollInterval is how often a watching Store reads the changes
	// table.
	DefaultPollInterval = time.Second
)

func defaultSettings() settings {
	return settings{
		format:       apikey.KeyFormat{Prefix: DefaultPrefix},
		lastUsedEach: DefaultLastUsedInterval,
		pollEach:     DefaultPollInterval,
		now:          time.Now,
		logger:       slog.Default(),
	}
}

// WithKeyFormat sets the format of the keys Create and Rotate issue. Give
// the same format's Check to apikey.WithFormatCheck, so that mistyped and
// made-up keys are refused before any lookup. The database records the
// format of its keys (see Migrate): a Store given another one refuses to
// migrate or issue keys, with ErrKeyFormatMismatch. Default: the format the
// database records when Open reads it, else the prefix "sk_".
func WithKeyFormat(f apikey.KeyFormat) Option {
	return func(s *settings) { s.format, s.formatGiven = f, true }
}

// WithHasher sets how values are turned into the digests the database
// keeps; see apikey.NewHMACHasher for a peppered one. Every process that
// shares a database must use the same. Default: SHA-256.
func WithHasher(h apikey.Hasher) Option { return func(s *settings) { s.hasher = h } }

// WithLastUsedInterval sets how often, at most, a key's last use is written
// to the database, and how often the queued uses are written in one batch.
// Default: 1 minute.
func WithLastUsedInterval(d time.Duration) Option {
	return func(s *settings) { s.lastUsedEach = d }
}

// WithPollInterval sets how often a watching Store reads the changes table,
// which bounds how long a change made by another process can go unseen.
// Default: 1 second.
func WithPollInterval(d time.Duration) Option { return func(s *settings) { s.pollEach = d } }

// WithClock sets the clock for expiry checks and timestamps; tests use it.
// Default: time.Now.
func WithClock(now func() time.Time) Option { return func(s *settings) { s.now = now } }

// WithLogger sets where the Store reports database trouble met off the
// request path (writing last uses, reading changes). It logs key IDs and
// errors, never a key value. Default: slog.Default().
func WithLogger(l *slog.Logger) Option { return func(s *settings) { s.logger = l } }

func (s *settings) check() error {
	switch {
	case s.format.CheckPrefix() != nil:
		return s.format.CheckPrefix()
	case s.lastUsedEach <= 0:
		return misconfigured("the last-used interval must be positive, not %v", s.lastUsedEach)
	case s.pollEach <= 0:
		return misconfigured("the poll interval must be positive, not %v", s.pollEach)
	case s.now == nil:
		return misconfigured("the clock is nil")
	case s.logger == nil:
		return misconfigured("the logger is nil")
	}
	return nil
}
