# Sourced by the load scripts: the auth scenario's consumer, plugins and token, in one place.

# The YAML that ends a bench kong.yml: one consumer, jwt + rate-limiting (never limiting) on
# the route named `auth`, and key-auth + acl + rate-limiting on the route named `keyauth`.
auth_yaml() {
  cat <<'YAML'
consumers:
  - username: bench
    jwt_secrets: [{ key: bench-key, secret: bench-secret }]
    keyauth_credentials: [{ key: bench-api-key }]
    acls: [{ group: bench }]
plugins:
  - { name: jwt, route: auth }
  - { name: rate-limiting, route: auth, config: { second: 1000000000, limit_by: consumer } }
  - { name: key-auth, route: keyauth }
  - { name: acl, route: keyauth, config: { allow: [bench] } }
  - { name: rate-limiting, route: keyauth, config: { second: 1000000000, limit_by: consumer } }
YAML
}

# The API key of the keyauth scenario, as a request header.
KEYAUTH_HEADER="apikey: bench-api-key"

# A token for that consumer: HS256 over {"iss":"bench-key"} with secret bench-secret.
auth_token() {
  local h p
  b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
  h=$(printf '{"alg":"HS256","typ":"JWT"}' | b64url); p=$(printf '{"iss":"bench-key"}' | b64url)
  printf '%s.%s.%s' "$h" "$p" "$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -hmac bench-secret -binary | b64url)"
}
