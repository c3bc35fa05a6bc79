/* Every bound Tern puts on its input, in one place, each with its source.
 * A parser or session that needs a bound takes it from here. */
#ifndef TERN_LIMITS_H
#define TERN_LIMITS_H

/* SMTP */
#define SMTP_CMD_LINE_MAX      2048   /* RFC 5321 4.5.3.1.4: 512, raised for ESMTP params */
#define SMTP_TEXT_LINE_MAX     (1024 * 1024) /* RFC 5321 4.5.3.1.6 says 1000; real mail has longer lines, bounded by message size */
#define SMTP_RCPT_MAX          100    /* RFC 5321 4.5.3.1.8: at least 100 recipients */
#define SMTP_MAX_ERRORS        20     /* 5xx replies before we hang up (Postfix smtpd_hard_error_limit) */
#define SMTP_JUNK_COMMANDS_MAX 100    /* NOOP/RSET/VRFY/HELP before each counts as an error (Postfix smtpd_junk_command_limit) */
#define SMTP_TIMEOUT_SEC       300    /* RFC 5321 4.5.3.2.7: server timeout 5 minutes */
#define SMTP_ADDR_MAX          320    /* RFC 5321 4.5.3.1.1-3: 64 local-part + @ + 255 domain */
#define SMTP_AUTH_LINE_MAX     24800  /* RFC 4954 4: a SASL line may exceed the command limit; holds a 16 KiB OAuth token in base64 */
#define SMTP_RECEIVED_HOPS_MAX 100    /* RFC 5321 6.3: loop detection by counting Received */
#define SMTP_BDAT_CHUNK_MAX    (64ULL * 1024 * 1024) /* one BDAT chunk; the message is bounded by max_message_size */

/* POP3 */
#define POP3_CMD_LINE_MAX      255    /* RFC 2449 section 4: 255 octets including CRLF */
#define POP3_AUTH_LINE_MAX     24800  /* RFC 5034 4: AUTH responses may exceed 255 octets; holds a 16 KiB OAuth token in base64 */
#define POP3_MAX_ERRORS        10
#define POP3_TIMEOUT_SEC       600    /* RFC 1939 3: inactivity autologout timer at least 10 minutes */
#define POP3_MAX_MESSAGES      1000000 /* messages listed in one maildrop snapshot */

/* Authentication */
#define AUTH_USER_MAX          320    /* an address */
#define AUTH_PASS_MAX          1024
#define AUTH_FAIL_DELAY_MS     1500   /* the same delay for every failure, user known or not */
#define AUTH_PREAUTH_TIMEOUT_SEC 60   /* time allowed before a session authenticates (POP3) */

/* Config and directory */
#define CONF_LINE_MAX          4096
#define CONF_FILE_MAX          (1024 * 1024)
#define DOMAIN_MAX             255    /* RFC 1035 2.3.4 */
#define LOCALPART_MAX          64     /* RFC 5321 4.5.3.1.1 */
#define ADDRESS_MAX            (LOCALPART_MAX + 1 + DOMAIN_MAX)
#define PASSWORD_HASH_MAX      512
#define IMPORT_LINE_MAX        4096   /* one line of a Dovecot passwd-file */

/* Network */
#define NET_READ_CHUNK         16384  /* bytes read from a socket at once */
#define NET_OUTPUT_HIGH        (256 * 1024) /* stop producing output above this many queued bytes */
#define NET_LISTEN_BACKLOG     1024
#define TLS_HANDSHAKE_TIMEOUT_SEC 30

/* DNS (src/dns) */
#define DNS_NAME_MAX           253    /* RFC 1035 2.3.4: 255 octets on the wire, presentation form without the dot */
#define DNS_MX_MAX             32     /* MX records kept per domain, the most preferred (more are dropped) */
#define DNS_ADDR_MAX           16     /* addresses kept per name, A and AAAA together */
#define DNS_TXT_MAX            32     /* TXT records kept per name */
#define DNS_TXT_LEN_MAX        4096   /* one TXT record, its strings joined (SPF, DMARC, DKIM keys fit) */
#define DNS_TLSA_MAX           16
#define DNS_TLSA_DATA_MAX      64     /* RFC 6698 2.1.3: a SHA2-512 digest; full certificates (matching type 0) are not kept */
#define DNS_TIMEOUT_MS         10000  /* default per lookup */

#endif
