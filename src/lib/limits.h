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
#define SMTP_SUBMIT_HEADER_MAX (100 * 1024) /* RFC 6409 8: bytes of a submitted header section looked at (Postfix header_size_limit 102400) */
#define SMTP_FROM_FIELD_MAX    8192   /* a From value kept, unfolded: RFC 5322 2.1.1 lines are <= 998, so about eight folded lines */
#define SMTP_FROM_ADDRS_MAX    16     /* addresses in one From (RFC 5322 3.6.2 allows a list; mail clients send one) */

/* Outbound SMTP (src/mta) */
#define MTA_REPLY_LINE_MAX     2048   /* RFC 5321 4.5.3.1.5 says 512; peers send longer text, CRLF included */
#define MTA_REPLY_LINES_MAX    128    /* lines of one multi-line reply (an EHLO lists ~20) */
#define MTA_REPLY_TOTAL_MAX    (64 * 1024) /* bytes of one multi-line reply */
#define MTA_BDAT_CHUNK         (1024 * 1024) /* bytes per BDAT chunk: one reply per MiB */
#define MTA_READ_CHUNK         65536  /* bytes of the message file read at once */
#define MTA_CONNECT_TIMEOUT_SEC 30    /* Postfix smtp_connect_timeout */
#define MTA_TIMEOUT_GREETING   300    /* RFC 5321 4.5.3.2.1 */
#define MTA_TIMEOUT_MAIL       300    /* RFC 5321 4.5.3.2.2 (EHLO, STARTTLS, AUTH, RSET too) */
#define MTA_TIMEOUT_RCPT       300    /* RFC 5321 4.5.3.2.3 */
#define MTA_TIMEOUT_DATA       120    /* RFC 5321 4.5.3.2.4 */
#define MTA_TIMEOUT_BLOCK      180    /* RFC 5321 4.5.3.2.5: each data block sent */
#define MTA_TIMEOUT_DOT        600    /* RFC 5321 4.5.3.2.6 (and each BDAT reply) */

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

/* DKIM (src/mailauth/) */
#define DKIM_HEADER_MAX        (1024 * 1024) /* header section read to sign or verify; SMTP_TEXT_LINE_MAX, as the header is one long text */
#define DKIM_FIELDS_MAX        2000   /* header fields considered in one message (Received alone rarely passes SMTP_RECEIVED_HOPS_MAX) */
#define DKIM_SIGS_MAX          8      /* DKIM-Signature fields evaluated per message (RFC 6376 6.1: verifiers MAY limit the number) */
#define DKIM_TAGS_MAX          32     /* tags in one tag-list: RFC 6376 defines 15 for a signature, 6 for a key */
#define DKIM_H_MAX             64     /* names in h= (RFC 6376 5.4: signers choose; 64 allows oversigning of everything useful) */
#define DKIM_SELECTOR_MAX      63     /* one DNS label (RFC 1035 2.3.4); multi-label selectors are not used by Tern */
#define DKIM_KEY_RECORD_MAX    4096   /* one key TXT record, its strings joined (an 8192-bit RSA key is about 1.4K of base64) */
#define DKIM_TXT_RECORDS_MAX   4      /* TXT records kept per key name (RFC 6376 3.6.2.2: more than one is undefined) */
#define DKIM_SIG_BYTES_MAX     1024   /* b=: an 8192-bit RSA signature */
#define DKIM_RSA_BITS_MIN      1024   /* RFC 8301 3.2: verifiers MUST NOT accept keys under 1024 bits */
#define DKIM_RSA_BITS_DEFAULT  2048   /* RFC 8301 3.2: signers SHOULD use at least 2048 */
#define DKIM_LINE_MAX          78     /* RFC 5322 2.1.1: lines SHOULD be at most 78 characters */
#define DKIM_BODY_CHUNK        65536  /* bytes read from the message file at once when hashing the body */

/* SPF and DMARC (src/mailauth/) */
#define SPF_LOOKUPS_MAX        10     /* RFC 7208 4.6.4: DNS-querying terms per check_host() */
#define SPF_VOID_LOOKUPS_MAX   2      /* RFC 7208 4.6.4: NXDOMAIN/no-answer lookups */
#define SPF_MX_HOSTS_MAX       10     /* RFC 7208 4.6.4: MX names looked up for one mx term */
#define SPF_TERMS_MAX          64     /* terms in one record: a 450-byte record (RFC 7208 3.4) holds about 40 */
#define SPF_RECORD_MAX         4096   /* one SPF TXT record, strings joined (DNS_TXT_LEN_MAX) */
#define SPF_DOMAIN_MAX         253    /* RFC 7208 7.3: an expanded domain is cut from the left to 253 */
#define SPF_MACRO_OUT_MAX      1024   /* one expanded macro-string before that cut (exp texts are ignored) */
#define DMARC_RECORD_MAX       4096   /* one DMARC TXT record (DNS_TXT_LEN_MAX) */

/* MTA-STS (RFC 8461, src/queue/queue_sts*.c) */
#define STS_ID_MAX             32     /* RFC 8461 3.1: sts-id 1*32(ALPHA / DIGIT) */
#define STS_POLICY_MAX         65536  /* RFC 8461 3.3: a policy body over 64 KiB is a failed fetch */
#define STS_MAX_AGE_MAX        31557600 /* RFC 8461 3.2: max_age up to one year; larger values are cut to it */
#define STS_MX_MAX             32     /* mx patterns kept per policy; a policy with more is refused */
#define STS_FETCH_TIMEOUT_SEC  10     /* RFC 8461 3.3 asks for a timeout; about one minute is its upper bound */
#define DMARC_TAGS_MAX         32     /* RFC 7489 6.3 defines 11 tags */
#define PSL_FILE_MAX           (4 * 1024 * 1024) /* the Public Suffix List file; Debian's is 240K */

/* HTTP (src/http): autoconfig and Autodiscover requests are small */
#define HTTP_LINE_MAX          8192   /* RFC 9112 3: servers SHOULD accept request lines of at least 8000 octets */
#define HTTP_HEADERS_MAX       100    /* header fields per request (nginx allows large_client_header_buffers 4 8k) */
#define HTTP_HEAD_MAX          32768  /* request line and header section together */
#define HTTP_BODY_MAX          65536  /* request body (an Autodiscover POST is under 1 KiB) */
#define HTTP_METHOD_MAX        16     /* the longest registered method is 17 (UPDATEREDIRECTREF); none we serve */
#define HTTP_TIMEOUT_SEC       60     /* idle keep-alive and slow requests (nginx: client_header_timeout 60 s) */
#define HTTP_REQUESTS_MAX      1000   /* requests per connection (nginx keepalive_requests) */
/* The settings page's sign-in sessions (src/http/http_websession.c), kept
 * in memory: a restart signs everyone out, which is the safe direction. */
#define HTTP_WEBSESSIONS_MAX   4096   /* in the process; the least recently used goes first */
#define HTTP_WEBSESSION_IDLE_SEC 1800 /* signed out after 30 min without a request (OWASP: 15-30 min) */
#define HTTP_WEBSESSION_MAX_SEC 28800 /* and after 8 h whatever happens */
#define HTTP_WEBSESSION_ANON_SEC 900  /* a sign-in form's session: its CSRF token only */

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
