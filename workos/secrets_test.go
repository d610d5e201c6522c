package workos

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/workos/workostest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNoSecretsLeak drives every client path, successes and failures, and
// checks that no key value, created value or the secret appears in an
// error, a log line or a printed result.
func TestNoSecretsLeak(t *testing.T) {
	const value = "sk_live_LEAKCHECK_value_0123456789"
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var seen []string
	record := func(vs ...any) {
		for _, v := range vs {
			switch v := v.(type) {
			case error:
				if v != nil {
					seen = append(seen, v.Error(), fmt.Sprintf("%+v %#v", v, v))
				}
			case nil:
			default:
				seen = append(seen, fmt.Sprintf("%v %+v %#v", v, v, v))
			}
		}
	}
	echo := func(status int) workostest.Fault {
		// A hostile or buggy server that echoes what it was sent.
		return func(w http.ResponseWriter, r *http.Request) bool {
			body := new(bytes.Buffer)
			_, _ = body.ReadFrom(r.Body)
			msg := strings.NewReplacer(`"`, `'`).Replace(body.String() + " " + r.Header.Get("Authorization"))
			return workostest.Reply(status, `{"message":"`+msg+`","code":"`+msg+`","errors":[{"field":"`+msg+`","code":"x"}]}`,
				"X-Request-ID", r.Header.Get("Authorization"))(w, r)
		}
	}
	statuses := []int{200, 400, 401, 403, 404, 409, 422, 429, 500, 503}
	var created []string
	for _, status := range statuses {
		f := workostest.NewServer(t)
		f.AddKey(value, "k", "org_1", "p")
		c := newClient(t, f, WithLogger(logger))
		ctx := context.Background()

		f.Fail(echo(status))
		record(c.Validate(ctx, value))
		f.Fail(echo(status), echo(status), echo(status), echo(status))
		record(c.CreateOrganizationKey(ctx, "org_1", CreateKeyParams{Name: "n"}))
		f.Fail(echo(status), echo(status), echo(status), echo(status))
		record(c.ExpireKey(ctx, "api_key_0001"))
		f.Fail(echo(status), echo(status), echo(status), echo(status))
		record(c.DeleteKey(ctx, "api_key_0001"))
		for k, err := range c.ListOrganizationKeys(ctx, "org_1", nil) {
			record(k, err)
		}
		f.Fail(nil, echo(status), echo(status), echo(status), echo(status))
		rot, err := c.RotateKey(ctx, value, RotateOptions{})
		record(rot, err)
		if rot != nil {
			created = append(created, rot.New.Value)
		}
		// Successful paths too.
		f2 := workostest.NewServer(t)
		f2.AddKey(value, "k", "org_1", "p")
		c2 := newClient(t, f2, WithLogger(logger))
		ck, err := c2.CreateOrganizationKey(ctx, "org_1", CreateKeyParams{Name: "n"})
		require.NoError(t, err)
		created = append(created, ck.Value)
		record(ck, *ck)
		logger.Info("created", "key", ck)
		rot, err = c2.RotateKey(ctx, value, RotateOptions{})
		require.NoError(t, err)
		created = append(created, rot.New.Value)
		record(rot, *rot, rot.New)
		logger.Info("rotated", "new", rot.New)
	}
	// Construction errors.
	_, err := New(testSecret+" x", WithBaseURL("ftp://"+testSecret))
	record(err)
	_, err = New(testSecret, WithBaseURL("https://user:"+testSecret+"@h/"))
	record(err)
	_, err = New(testSecret, WithBaseURL("https://h/?k="+testSecret))
	record(err)

	require.NotEmpty(t, created)
	all := strings.Join(seen, "\n") + "\n" + logs.String()
	for _, secret := range append([]string{value, testSecret}, created...) {
		if i := strings.Index(all, secret); i >= 0 {
			t.Errorf("leaked %q in: …%s…", secret, all[max(0, i-200):min(len(all), i+100)])
		}
	}
	assert.True(t, errors.Is(apikey.ErrInvalidKey, apikey.ErrInvalidKey))
}

// TestPrintingHidesSecrets: the values that hold the WorkOS secret key, a
// webhook secret or a new key's value print, log and encode without it, by
// every route a program might take: fmt with any verb, slog's text and
// JSON handlers (the JSON one json.Marshals nested values), json.Marshal.
func TestPrintingHidesSecrets(t *testing.T) {
	const newValue = "sk_NEWVALUE_secret_0123456789"
	client, err := New(testSecret, WithBaseURL("https://workos.example"))
	require.NoError(t, err)
	hooks, err := NewWebhookHandler(webhookSecret, &recordingInvalidator{})
	require.NoError(t, err)
	created := CreatedKey{Key: &apikey.Key{ID: "api_key_new", Name: "n"}, Value: newValue}
	rot := &Rotation{New: created, Old: &apikey.Key{ID: "api_key_old"}, OldExpiresAt: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	// Copies, as a program gets them by dereferencing, or by holding the
	// values in a struct (made through reflect: vet rightly refuses a plain
	// copy of a value holding a sync.Once).
	type holder struct {
		Client Client
		Hooks  WebhookHandler
	}
	held := &holder{}
	reflect.ValueOf(&held.Client).Elem().Set(reflect.ValueOf(client).Elem())
	reflect.ValueOf(&held.Hooks).Elem().Set(reflect.ValueOf(hooks).Elem())
	clientCopy := reflect.ValueOf(client).Elem().Interface()
	hooksCopy := reflect.ValueOf(hooks).Elem().Interface()

	subjects := []struct {
		name   string
		v      any
		secret string
		shows  string // something useful the output still carries
	}{
		{"*Client", client, testSecret, "workos.example"},
		{"*WebhookHandler", hooks, webhookSecret, redacted},
		{"Client", clientCopy, testSecret, ""},
		{"WebhookHandler", hooksCopy, webhookSecret, ""},
		{"struct holding both by value", reflect.ValueOf(held).Elem().Interface(), testSecret + " " + webhookSecret, ""},
		{"pointer to a struct holding both by value", held, testSecret + " " + webhookSecret, ""},
		{"[]any of copies", []any{clientCopy, hooksCopy}, testSecret + " " + webhookSecret, ""},
		{"secret", secret(testSecret), testSecret, redacted},
		{"CreatedKey", created, newValue, "api_key_new"},
		{"*CreatedKey", &created, newValue, "api_key_new"},
		{"*Rotation", rot, newValue, "api_key_new"},
		{"Rotation", *rot, newValue, "api_key_new"},
		{"[]any", []any{client, hooks, created, rot}, newValue, "api_key_new"},
	}
	render := map[string]func(v any) string{
		"slog text": func(v any) string {
			var b bytes.Buffer
			slog.New(slog.NewTextHandler(&b, nil)).Info("m", "v", v)
			return b.String()
		},
		"slog JSON": func(v any) string {
			var b bytes.Buffer
			slog.New(slog.NewJSONHandler(&b, nil)).Info("m", "v", v)
			return b.String()
		},
		"json.Marshal": func(v any) string {
			b, err := json.Marshal(v)
			require.NoError(t, err)
			return string(b)
		},
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		render["fmt "+verb] = func(v any) string { return fmt.Sprintf(verb, v) }
	}
	for _, sub := range subjects {
		for how, r := range render {
			t.Run(sub.name+" "+how, func(t *testing.T) {
				out := r(sub.v)
				for _, s := range strings.Fields(sub.secret) {
					for _, leak := range []string{s, hex.EncodeToString([]byte(s)), strings.ToUpper(hex.EncodeToString([]byte(s)))} {
						assert.NotContains(t, out, leak)
					}
				}
				if sub.shows != "" && (strings.HasPrefix(how, "fmt %v") || how == "slog text" || how == "slog JSON") {
					assert.Contains(t, out, sub.shows)
				}
			})
		}
	}
	t.Run("the value is still there to use", func(t *testing.T) {
		assert.Equal(t, newValue, rot.New.Value)
		assert.Equal(t, testSecret, client.secret.reveal())
	})
}

// TestPartialSecretEchoIsRedacted: a server that echoes a cut copy of the
// secret key (its first 24 bytes, say) into a message, code or request ID
// leaves none of it in the error.
func TestPartialSecretEchoIsRedacted(t *testing.T) {
	part := testSecret[:24]
	f := workostest.NewServer(t)
	f.Fail(workostest.Reply(400, `{"message":"bad key `+part+`…","code":"`+part+`"}`, "X-Request-ID", "req_"+part))
	err := newClient(t, f).DeleteKey(context.Background(), "api_key_1")
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, redacted, ae.Message)
	assert.Equal(t, redacted, ae.Code)
	assert.Equal(t, redacted, ae.RequestID)
	assert.NotContains(t, err.Error(), part[8:])
}
