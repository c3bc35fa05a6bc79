#!/bin/sh
# make run: sets up run/ (config, data, certificate, demo domain and user)
# the first time, keeps it afterwards, prints the client settings and
# starts the server in the foreground.
set -eu
cd "$(dirname "$0")/.."

RUN=run
TERN=build/tern
CONF=$RUN/tern.conf
HOST=mail.example.test
DOMAIN=example.test
USER_ADDR=demo@$DOMAIN

mkdir -p "$RUN"
chmod 700 "$RUN"

if [ ! -f "$CONF" ]; then
	cat > "$CONF" <<CONF
# Tern configuration written by 'make run'.  Reference: docs/CONFIG.md
[server]
hostname = $HOST
data_dir = $PWD/$RUN/data
log_level = info

[tls]
cert = $PWD/$RUN/cert.pem
key = $PWD/$RUN/key.pem
min_version = 1.2

[listen]
imap = 127.0.0.1:1143
imaps = 127.0.0.1:1993
pop3 = 127.0.0.1:1110
pop3s = 127.0.0.1:1995
smtp = 127.0.0.1:2525
submission = 127.0.0.1:1587
submissions = 127.0.0.1:1465
http = 127.0.0.1:8080           # autoconfig for mail clients (80 in production)
https = 127.0.0.1:8443          # autoconfig, Autodiscover (443 in production)

[auth]
allow_plaintext = never        # never | loopback | always; never: no password before TLS

[limits]
max_message_size = 50M
CONF
	echo "run: wrote $CONF"
fi

# run/ made before Tern had an HTTP listener: add the two ports
if ! grep -q '^https *=' "$CONF"; then
	sed -i 's|^\[listen\]$|[listen]\nhttp = 127.0.0.1:8080\nhttps = 127.0.0.1:8443|' "$CONF"
	echo "run: added http (8080) and https (8443) to $CONF"
fi

if [ ! -f "$RUN/cert.pem" ]; then
	openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=$HOST" \
		-addext "subjectAltName=DNS:$HOST,DNS:localhost,IP:127.0.0.1" \
		-keyout "$RUN/key.pem" -out "$RUN/cert.pem" 2>/dev/null
	chmod 600 "$RUN/key.pem"
	echo "run: made a self-signed certificate for $HOST ($RUN/cert.pem)"
fi

if ! "$TERN" --config "$CONF" domain list | grep -qx "$DOMAIN"; then
	"$TERN" --config "$CONF" domain add "$DOMAIN"
fi
if ! "$TERN" --config "$CONF" user show "$USER_ADDR" >/dev/null 2>&1; then
	pw=$(head -c 12 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 16)
	printf '%s\n' "$pw" | "$TERN" --config "$CONF" user add "$USER_ADDR" --password-stdin
	umask 077
	printf '%s\n' "$pw" > "$RUN/demo-password"
	echo "run: created $USER_ADDR"
fi
pw=$(cat "$RUN/demo-password" 2>/dev/null || echo "(see $RUN/demo-password)")

"$TERN" --config "$CONF" config check >/dev/null

cat <<TABLE

  Tern is starting.  Client settings for $USER_ADDR (password: $pw)

  Protocol          Server      Port  Encryption  User name
  ----------------  ----------  ----  ----------  ------------------
  IMAP              127.0.0.1   1993  SSL/TLS     $USER_ADDR
  IMAP              127.0.0.1   1143  STARTTLS    $USER_ADDR
  POP3              127.0.0.1   1995  SSL/TLS     $USER_ADDR
  POP3              127.0.0.1   1110  STARTTLS    $USER_ADDR
  SMTP (sending)    127.0.0.1   1587  STARTTLS    $USER_ADDR
  SMTP (sending)    127.0.0.1   1465  SSL/TLS     $USER_ADDR
  SMTP (receiving)  127.0.0.1   2525  STARTTLS    (no login; mail for $DOMAIN)

  What mail clients fetch to configure themselves (docs/OPERATIONS.md):
    Thunderbird  http://127.0.0.1:8080/mail/config-v1.1.xml?emailaddress=$USER_ADDR
                 https://localhost:8443/.well-known/autoconfig/mail/config-v1.1.xml
    Outlook      https://localhost:8443/autodiscover/autodiscover.xml (POST)
    Health       https://localhost:8443/healthz
  The users' settings page (sign in as $USER_ADDR): https://localhost:8443/settings
  Try: curl --cacert $RUN/cert.pem "https://localhost:8443/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=$USER_ADDR"

  The certificate is self-signed for $HOST: accept it in your client, or
  trust $RUN/cert.pem.
  Stop with Ctrl-C.  Data stays in $RUN/ for the next 'make run'.

TABLE
exec "$TERN" serve --config "$CONF"
