package sqlstore

import (
	"database/sql"
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// fuzzRow is a row of apikey_keys as the database hands it over.
type fuzzRow struct {
	id, perms, meta string
	times           [4]int64
}

func (r fuzzRow) Scan(dest ...any) error {
	strs := []string{r.id, "name", "organization", "org_1", "", "sk_...1234", r.perms, r.meta}
	for i, s := range strs {
		*dest[i].(*string) = s
	}
	for i, t := range r.times {
		*dest[len(strs)+i].(*int64) = t
	}
	// No limits and no quota: quota_test.go covers those columns.
	rest := dest[len(strs)+len(r.times):]
	*rest[0].(*string) = ""
	*rest[1].(*sql.NullInt64) = sql.NullInt64{}
	for _, d := range rest[2:] {
		*d.(*int64) = 0
	}
	return nil
}

// FuzzScanKey asserts what decoding a stored row guarantees on any content:
// no panic; a key or an error, never both nor neither; a decoded key keeps
// the row's ID, permissions and metadata that encode back to the same
// values; and its times encode back to the stored microseconds.
func FuzzScanKey(f *testing.F) {
	f.Add("key_1", `["posts:read"]`, `{"plan":"pro"}`, int64(1768478400000000), int64(0), int64(-1), int64(1))
	f.Add("key_2", `[]`, `null`, int64(0), int64(0), int64(0), int64(0))
	f.Add("", `null`, `{}`, int64(1), int64(2), int64(3), int64(4))
	f.Add("key_3", `["a",1]`, `{"a":1}`, int64(0), int64(0), int64(0), int64(0))
	f.Add("key_4", `[`, `x`, int64(0), int64(0), int64(0), int64(0))
	f.Fuzz(func(t *testing.T, id, perms, meta string, created, updated, expires, lastUsed int64) {
		row := fuzzRow{id: id, perms: perms, meta: meta, times: [4]int64{created, updated, expires, lastUsed}}
		k, err := scanKey(row, time.Now())
		if (k == nil) == (err == nil) {
			t.Fatalf("scanKey answered (%v, %v)", k, err)
		}
		if err != nil {
			return
		}
		if k.ID != id {
			t.Fatalf("ID %q decoded as %q", id, k.ID)
		}
		for name, v := range map[string]any{"permissions": k.Permissions, "metadata": k.Metadata} {
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("%s %v do not encode: %v", name, v, err)
			}
			again := reflect.New(reflect.TypeOf(v))
			if err := json.Unmarshal(b, again.Interface()); err != nil || !reflect.DeepEqual(again.Elem().Interface(), v) {
				t.Fatalf("%s %v encode to %s, which decodes to %v (%v)", name, v, b, again.Elem().Interface(), err)
			}
		}
		for i, tm := range []int64{micros(k.CreatedAt), micros(k.UpdatedAt), micros(k.ExpiresAt), micros(k.LastUsedAt)} {
			// The one instant that reads back as "never" is the zero time,
			// which micros stores as 0, never as itself.
			if tm != row.times[i] && !fromMicros(row.times[i]).IsZero() {
				t.Fatalf("time %d: stored %d, decoded %d", i, row.times[i], tm)
			}
		}
	})
}
