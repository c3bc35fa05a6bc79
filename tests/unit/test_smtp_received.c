/* Trace header fields: Return-Path, Received, "with" keywords, dates. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/buf.h"
#include "smtp/smtp_received.h"
#include "test.h"

static void
test_with(void)
{
	test_begin("received: with keywords (RFC 3848, RFC 6531)");
	test_assert_streq(smtp_with_keyword(false, false, false, false), "SMTP");
	test_assert_streq(smtp_with_keyword(true, false, false, false), "ESMTP");
	test_assert_streq(smtp_with_keyword(true, true, false, false), "ESMTPS");
	test_assert_streq(smtp_with_keyword(true, false, true, false), "ESMTPA");
	test_assert_streq(smtp_with_keyword(true, true, true, false), "ESMTPSA");
	test_assert_streq(smtp_with_keyword(true, false, false, true), "UTF8SMTP");
	test_assert_streq(smtp_with_keyword(true, true, false, true), "UTF8SMTPS");
	test_assert_streq(smtp_with_keyword(true, false, true, true), "UTF8SMTPA");
	test_assert_streq(smtp_with_keyword(true, true, true, true), "UTF8SMTPSA");
	test_end();
}

static void
test_date(void)
{
	char d[SMTP_DATE_MAX];

	test_begin("received: RFC 5322 date");
	setenv("TZ", "UTC", 1);
	tzset();
	smtp_rfc5322_date(0, d);
	test_assert_streq(d, "Thu, 01 Jan 1970 00:00:00 +0000");
	smtp_rfc5322_date(1136214245, d);
	test_assert_streq(d, "Mon, 02 Jan 2006 15:04:05 +0000");
	setenv("TZ", "EST5", 1);
	tzset();
	smtp_rfc5322_date(1136214245, d);
	test_assert_streq(d, "Mon, 02 Jan 2006 10:04:05 -0500");
	setenv("TZ", "IST-5:30", 1);
	tzset();
	smtp_rfc5322_date(1136214245, d);
	test_assert_streq(d, "Mon, 02 Jan 2006 20:34:05 +0530");
	setenv("TZ", "UTC", 1);
	tzset();
	test_end();
}

static void
test_build(void)
{
	struct smtp_trace t;
	struct buf b = BUF_INIT;

	test_begin("received: full trace, IPv4, TLS, one recipient");
	memset(&t, 0, sizeof(t));
	t.return_path = "sender@example.org";
	t.helo = "client.example.org";
	t.peer_addr = "192.0.2.7";
	t.hostname = "mx.example.net";
	t.with = "ESMTPS";
	t.tls = "TLSv1.3 TLS_AES_256_GCM_SHA384";
	t.id = "0123456789ABCDEF";
	t.for_rcpt = "rcpt@example.net";
	t.when = 1136214245;
	smtp_received_build(&b, &t);
	test_assert_streq(b.data, "Return-Path: <sender@example.org>\r\n"
	                          "Received: from client.example.org ([192.0.2.7])\r\n"
	                          "\t(using TLSv1.3 TLS_AES_256_GCM_SHA384)\r\n"
	                          "\tby mx.example.net (Tern) with ESMTPS id 0123456789ABCDEF\r\n"
	                          "\tfor <rcpt@example.net>;\r\n"
	                          "\tMon, 02 Jan 2006 15:04:05 +0000\r\n");
	test_end();

	test_begin("received: null sender, IPv6, no TLS, several recipients");
	buf_reset(&b);
	t.return_path = "";
	t.peer_addr = "2001:db8::1";
	t.tls = NULL;
	t.for_rcpt = NULL;
	t.with = "ESMTP";
	smtp_received_build(&b, &t);
	test_assert_streq(b.data, "Return-Path: <>\r\n"
	                          "Received: from client.example.org ([IPv6:2001:db8::1])\r\n"
	                          "\tby mx.example.net (Tern) with ESMTP id 0123456789ABCDEF;\r\n"
	                          "\tMon, 02 Jan 2006 15:04:05 +0000\r\n");
	test_end();

	test_begin("received: no Return-Path when relaying");
	buf_reset(&b);
	t.return_path = NULL;
	smtp_received_build(&b, &t);
	test_assert(strncmp(b.data, "Received: ", 10) == 0);
	buf_free(&b);
	test_end();
}

int
main(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	test_with();
	test_date();
	test_build();
	return test_done();
}
