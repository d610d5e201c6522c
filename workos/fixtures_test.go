package workos

// Fixtures: WorkOS answers as its API reference and its official SDKs'
// test fixtures show them, byte for byte, including their quirks (a
// Unicode ellipsis in obfuscated_value, missing expires_at, an
// agent_registration_id beside api_key).
const (
	fixtureValidateOrg = `{
  "api_key": {
    "object": "api_key",
    "id": "api_key_01H5JQDV7R7ATEYZDEG0W5PRYS",
    "owner": {
      "type": "organization",
      "id": "org_01H5JQDV7R7ATEYZDEG0W5PRYS"
    },
    "name": "Test Api Key",
    "obfuscated_value": "sk_…PRYS",
    "last_used_at": null,
    "permissions": ["read", "write"],
    "created_at": "2023-07-18T02:07:19.911Z",
    "updated_at": "2023-07-18T02:07:19.911Z"
  }
}`
	fixtureValidateUser = `{
  "api_key": {
    "object": "api_key",
    "id": "api_key_01H5JQDV7R7ATEYZDEG0W5PRYS",
    "owner": {
      "type": "user",
      "id": "user_01H5JQDV7R7ATEYZDEG0W5PRYS",
      "organization_id": "org_01H5JQDV7R7ATEYZDEG0W5PRYS"
    },
    "name": "Test User Api Key",
    "obfuscated_value": "sk_…PRYS",
    "last_used_at": null,
    "permissions": ["read", "write"],
    "created_at": "2023-07-18T02:07:19.911Z",
    "updated_at": "2023-07-18T02:07:19.911Z"
  }
}`
	fixtureValidateSpec = `{
  "api_key": {
    "object": "api_key",
    "id": "api_key_01EHZNVPK3SFK441A1RGBFSHRT",
    "owner": {
      "type": "organization",
      "id": "org_01EHZNVPK3SFK441A1RGBFSHRT"
    },
    "name": "Production API Key",
    "obfuscated_value": "sk_...3456",
    "last_used_at": null,
    "expires_at": null,
    "permissions": [
      "posts:read",
      "posts:write"
    ],
    "created_at": "2026-01-15T12:00:00.000Z",
    "updated_at": "2026-01-15T12:00:00.000Z"
  },
  "agent_registration_id": "agent_reg_01EHZNVPK3SFK441A1RGBFSHRT"
}`
	fixtureValidateNull = `{"api_key": null}`
	fixtureList         = `{
  "object": "list",
  "data": [
    {
      "object": "api_key",
      "id": "api_key_01H5JQDV7R7ATEYZDEG0W5PRYS",
      "owner": {
        "type": "organization",
        "id": "org_01EHT88Z8J8795GZNQ4ZP1J81T"
      },
      "name": "Production Key",
      "obfuscated_value": "sk_…PRYS",
      "last_used_at": "2023-07-20T10:30:00.000Z",
      "permissions": ["read", "write"],
      "created_at": "2023-07-18T02:07:19.911Z",
      "updated_at": "2023-07-18T02:07:19.911Z"
    },
    {
      "object": "api_key",
      "id": "api_key_01H5JQDV7R7ATEYZDEG0W5PRYT",
      "owner": {
        "type": "organization",
        "id": "org_01EHT88Z8J8795GZNQ4ZP1J81T"
      },
      "name": "Development Key",
      "obfuscated_value": "sk_…PRYT",
      "last_used_at": null,
      "permissions": ["read"],
      "created_at": "2023-07-19T02:07:19.911Z",
      "updated_at": "2023-07-19T02:07:19.911Z"
    }
  ],
  "list_metadata": {
    "before": null,
    "after": "api_key_01H5JQDV7R7ATEYZDEG0W5PRYT"
  }
}`
	fixtureCreateNode = `{
  "object": "api_key",
  "id": "api_key_01H5JQDV7R7ATEYZDEG0W5PRYV",
  "owner": {
    "type": "organization",
    "id": "org_01EHT88Z8J8795GZNQ4ZP1J81T"
  },
  "name": "New API Key",
  "obfuscated_value": "sk_…9789",
  "value": "sk_live_abc123xyz789",
  "last_used_at": null,
  "permissions": ["read", "write"],
  "created_at": "2023-07-20T02:07:19.911Z",
  "updated_at": "2023-07-20T02:07:19.911Z"
}`
	fixtureCreateSpec = `{
  "object": "api_key",
  "id": "api_key_01EHZNVPK3SFK441A1RGBFSHRT",
  "owner": {
    "type": "organization",
    "id": "org_01EHZNVPK3SFK441A1RGBFSHRT"
  },
  "name": "Production API Key",
  "obfuscated_value": "sk_...3456",
  "last_used_at": null,
  "expires_at": "2030-01-01T00:00:00.000Z",
  "permissions": [
    "posts:read",
    "posts:write"
  ],
  "created_at": "2026-01-15T12:00:00.000Z",
  "updated_at": "2026-01-15T12:00:00.000Z",
  "value": "sk_abcdefghijklmnop123456"
}`
	fixtureErrExpired = `{"code":"api_key_already_expired","message":"API key is already expired"}`
)
