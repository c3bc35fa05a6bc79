/* The users' settings page: see http_settings.h.  The page is built
 * from the configuration (the ports that really listen, as the documents
 * of http_docs.h offer them), the directory (the user's switches, app
 * passwords) and the store (quota use). */
#include "http/http_settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/auth.h"
#include "directory/directory.h"
#include "http/http_docs.h"
#include "http/http_websession.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "store/store.h"
#include "store/store_imap.h"

struct http_settings_job {
	const struct tern_config *cfg;
	char method[8];                 /* GET, HEAD or POST (others are refused on the loop) */
	char path[64];
	char cookie[HTTP_WEBSESSION_TOKEN_LEN + 1];     /* "" if none */
	char *form;                     /* a POST's body, NUL-terminated, or NULL */
	bool form_urlencoded;
	char peer[64];
	struct http_reply reply;
	unsigned delay_ms;
};

#define FIELD_MAX 256                   /* a form field other than the password */

bool
http_settings_path(const char *path)
{
	return strcmp(path, "/settings") == 0 || strncmp(path, "/settings/", 10) == 0;
}

static const char style[] =
	"body{font:1rem/1.5 system-ui,sans-serif;color:#1a1a1a;background:#fff;margin:0}\n"
	"main{max-width:48rem;margin:0 auto;padding:1rem}\n"
	"h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #767676}\n"
	"table{border-collapse:collapse;margin:.5rem 0}th,td{text-align:left;padding:.3rem .8rem .3rem 0;"
	"border-bottom:1px solid #d0d0d0}\n"
	"label{display:block;font-weight:600;margin-top:.6rem}fieldset label{display:inline;font-weight:400;"
	"margin-right:1rem}\n"
	"input[type=email],input[type=password],input[type=text]{font:inherit;padding:.3rem;width:100%;"
	"max-width:24rem;border:1px solid #555}\n"
	"button{font:inherit;padding:.3rem 1rem;margin-top:.6rem;color:#fff;background:#1a4f8b;border:0;"
	"cursor:pointer}\n"
	"button.secondary{color:#1a1a1a;background:#e6e6e6;margin:0}\n"
	":focus{outline:3px solid #c25400;outline-offset:2px}\n"
	".error{color:#a50000;font-weight:600}.notice{background:#eef6ee;border-left:4px solid #1d6b1d;"
	"padding:.5rem 1rem}\n"
	"code{font-size:1.2rem;background:#f2f2f2;padding:.1rem .3rem}\n"
	"form.inline{display:inline}header{display:flex;justify-content:space-between;align-items:baseline}\n"
	".visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}\n";

void
http_settings_style(struct http_reply *r)
{
	r->status = 200;
	r->type = "text/css; charset=utf-8";
	buf_puts(&r->body, style);
}

struct http_settings_job *
http_settings_job_new(const struct tern_config *cfg, const struct http_request *req, const char *body,
                      size_t body_len, const char *peer)
{
	struct http_settings_job *job = xcalloc(1, sizeof(*job));
	const char *type = http_header_get(req, "Content-Type");

	job->cfg = cfg;
	str_lcpy(job->method, req->method, sizeof(job->method));
	str_lcpy(job->path, req->path, sizeof(job->path));
	if (strlen(req->path) >= sizeof(job->path))
		str_lcpy(job->path, "/settings/?", sizeof(job->path));     /* no such page */
	if (http_cookie_get(req, HTTP_SESSION_COOKIE, job->cookie, sizeof(job->cookie)) != 0)
		job->cookie[0] = '\0';
	str_lcpy(job->peer, peer, sizeof(job->peer));
	if (strcmp(req->method, "POST") == 0) {
		job->form = xmalloc(body_len + 1);
		memcpy(job->form, body, body_len);
		job->form[body_len] = '\0';
		/* a NUL inside makes the fields after it unreadable: refused as a bad form */
		job->form_urlencoded = type != NULL && strlen(job->form) == body_len &&
		                       str_has_prefix_ci(type, "application/x-www-form-urlencoded");
	}
	return job;
}

void
http_settings_job_reply(struct http_settings_job *job, struct http_reply *r, unsigned *delay_ms_out)
{
	buf_free(&r->body);
	*r = job->reply;
	memset(&job->reply.body, 0, sizeof(job->reply.body));
	*delay_ms_out = job->delay_ms;
}

void
http_settings_job_free(struct http_settings_job **jobp)
{
	struct http_settings_job *job = *jobp;

	if (job == NULL)
		return;
	if (job->form != NULL) {
		str_wipe(job->form, strlen(job->form));
		free(job->form);
	}
	if (job->reply.body.data != NULL) {
		str_wipe(job->reply.body.data, job->reply.body.len);   /* may show a new app password */
		buf_free(&job->reply.body);
	}
	free(job);
	*jobp = NULL;
}

/* ---- rendering ---- */

static void
esc(struct buf *out, const char *s)
{
	http_xml_escape(out, s);        /* & < > " ': enough for HTML text and quoted attributes */
}

static void
page_begin(struct buf *out, const char *title)
{
	buf_puts(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	              "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
	esc(out, title);
	buf_puts(out, "</title>\n<link rel=\"stylesheet\" href=\"/settings/style.css\">\n</head>\n<body>\n<main>\n");
}

static void
page_end(struct buf *out)
{
	buf_puts(out, "</main>\n</body>\n</html>\n");
}

static void
csrf_field(struct buf *out, const struct http_websession *ws)
{
	buf_printf(out, "<input type=\"hidden\" name=\"csrf\" value=\"%s\">\n", ws->csrf);
}

static void
set_cookie(struct http_reply *r, const char *id)
{
	size_t len = strlen(r->extra);

	if (id != NULL)
		snprintf(r->extra + len, sizeof(r->extra) - len,
		         "Set-Cookie: " HTTP_SESSION_COOKIE "=%s; Path=/; Secure; HttpOnly; SameSite=Strict\r\n", id);
	else
		snprintf(r->extra + len, sizeof(r->extra) - len,
		         "Set-Cookie: " HTTP_SESSION_COOKIE "=; Path=/; Max-Age=0; Secure; HttpOnly; "
		         "SameSite=Strict\r\n");
}

static void
see_other(struct http_reply *r, const char *location)
{
	size_t len = strlen(r->extra);

	r->status = 303;
	r->type = "text/plain; charset=utf-8";
	snprintf(r->extra + len, sizeof(r->extra) - len, "Location: %s\r\n", location);
	buf_puts(&r->body, "See Other\n");
}

/* The sign-in form, with error (or NULL) above it.  ws: the anonymous
 * (or any) session whose token the form carries. */
static void
login_page(struct http_reply *r, int status, const struct http_websession *ws, const char *error,
           const char *address)
{
	struct buf *out = &r->body;

	r->status = status;
	r->type = "text/html; charset=utf-8";
	page_begin(out, "Sign in: mail settings");
	buf_puts(out, "<h1>Mail settings</h1>\n<p>Sign in to see the server names, ports and encryption your mail "
	              "programs need, and to manage your app passwords.</p>\n");
	if (error != NULL) {
		buf_puts(out, "<p class=\"error\" role=\"alert\" id=\"error\">");
		esc(out, error);
		buf_puts(out, "</p>\n");
	}
	buf_puts(out, "<form method=\"post\" action=\"/settings/login\">\n");
	csrf_field(out, ws);
	buf_puts(out, "<label for=\"address\">Email address</label>\n"
	              "<input type=\"email\" id=\"address\" name=\"address\" autocomplete=\"username\" required "
	              "value=\"");
	esc(out, address != NULL ? address : "");
	buf_puts(out, "\">\n<label for=\"password\">Password or app password</label>\n"
	              "<input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"current-password\" "
	              "required>\n<button type=\"submit\">Sign in</button>\n</form>\n");
	page_end(out);
}

/* A new anonymous session for a sign-in form.  false: 503 set. */
static bool
new_anonymous(struct http_reply *r, struct http_websession *ws)
{
	if (http_websession_new(NULL, false, time(NULL), ws) != 0) {
		r->status = 503;
		r->type = "text/plain; charset=utf-8";
		buf_puts(&r->body, "No randomness for a session: try again later.\n");
		return false;
	}
	set_cookie(r, ws->id);
	return true;
}

static void
format_time(int64_t v, char *out, size_t size)
{
	time_t t = (time_t)v;
	struct tm tm;

	if (v == 0)
		str_lcpy(out, "never", size);
	else if (gmtime_r(&t, &tm) == NULL || strftime(out, size, "%Y-%m-%d %H:%M UTC", &tm) == 0)
		snprintf(out, size, "%lld", (long long)v);
}

static void
format_bytes(uint64_t v, char *out, size_t size)
{
	if (v < 1024 * 1024)
		snprintf(out, size, "%.1f KB", (double)v / 1024);
	else if (v < 1024ull * 1024 * 1024)
		snprintf(out, size, "%.1f MB", (double)v / (1024 * 1024));
	else
		snprintf(out, size, "%.2f GB", (double)v / (1024.0 * 1024 * 1024));
}

/* The names clients use: the external one first; the [server] hostname
 * as well when it differs (inside the network). */
static void
server_rows(struct buf *out, const struct tern_config *cfg, enum service s, bool two_names)
{
	const char *enc = cfg->listen[s].implicit_tls ? "SSL/TLS" : "STARTTLS";

	buf_puts(out, "<tr><td>");
	esc(out, config_client_hostname(cfg));
	buf_printf(out, "</td><td>%s</td><td>%s</td>%s</tr>\n", cfg->listen[s].port, enc,
	           two_names ? "<td>from anywhere</td>" : "");
	if (two_names) {
		buf_puts(out, "<tr><td>");
		esc(out, cfg->hostname);
		buf_printf(out, "</td><td>%s</td><td>%s</td><td>inside the network</td></tr>\n", cfg->listen[s].port,
		           enc);
	}
}

/* One protocol's section: its switch for the user and its ports. */
static void
protocol_section(struct buf *out, const struct tern_config *cfg, const char *id, const char *title,
                 bool user_on, enum service tls, enum service starttls)
{
	bool offered = http_service_offered(cfg, tls) || http_service_offered(cfg, starttls);
	bool two_names = cfg->external_hostname[0] != '\0' && strcasecmp(cfg->external_hostname, cfg->hostname) != 0;

	buf_printf(out, "<section aria-labelledby=\"%s\">\n<h2 id=\"%s\">%s</h2>\n", id, id, title);
	buf_printf(out, "<p>For your account: <strong id=\"%s-status\">%s</strong></p>\n", id,
	           !offered ? "not offered by this server" : user_on ? "on" : "off (ask your administrator)");
	if (!offered) {
		buf_puts(out, "</section>\n");
		return;
	}
	buf_printf(out, "<table id=\"%s-servers\">\n<thead><tr><th scope=\"col\">Server name</th>"
	                "<th scope=\"col\">Port</th><th scope=\"col\">Encryption</th>%s</tr></thead>\n<tbody>\n",
	           id, two_names ? "<th scope=\"col\">Use</th>" : "");
	/* implicit TLS first: RFC 8314 4 prefers it */
	if (http_service_offered(cfg, tls))
		server_rows(out, cfg, tls, two_names);
	if (http_service_offered(cfg, starttls))
		server_rows(out, cfg, starttls, two_names);
	buf_puts(out, "</tbody>\n</table>\n</section>\n");
}

static const char *
sign_in_text(enum auth_basic basic)
{
	switch (basic) {
	case BASIC_ON:
		return "your email address and your password (or an app password)";
	case BASIC_APP_PASSWORDS_ONLY:
		return "your email address and an app password (your own password is not accepted by mail programs)";
	case BASIC_OFF:
		return "OAuth 2.0 sign-in through your organisation (passwords are not accepted)";
	}
	return "?";
}

struct apw_rows {
	struct dir_app_password p[DIRECTORY_APP_PASSWORDS_MAX];
	size_t n;
};

static void
collect(const struct dir_app_password *p, void *arg)
{
	struct apw_rows *rows = arg;

	if (rows->n < DIRECTORY_APP_PASSWORDS_MAX)
		rows->p[rows->n++] = *p;
}

static void
protocols_text(unsigned bits, char *out, size_t size)
{
	snprintf(out, size, "%s%s%s%s%s", (bits & DIR_PROTO_IMAP) ? "IMAP" : "",
	         (bits & DIR_PROTO_IMAP) && (bits & (DIR_PROTO_POP3 | DIR_PROTO_SMTP)) ? ", " : "",
	         (bits & DIR_PROTO_POP3) ? "POP3" : "", (bits & DIR_PROTO_POP3) && (bits & DIR_PROTO_SMTP) ? ", " : "",
	         (bits & DIR_PROTO_SMTP) ? "SMTP" : "");
}

static void
app_passwords_section(struct buf *out, struct directory *d, const struct http_websession *ws)
{
	struct apw_rows *rows = xcalloc(1, sizeof(*rows));
	const char *error;
	char created[40], used[40], protos[32];

	buf_puts(out, "<section aria-labelledby=\"app-passwords\">\n<h2 id=\"app-passwords\">App passwords</h2>\n"
	              "<p>Give each mail program its own password: if a device is lost, revoke its password "
	              "alone.</p>\n");
	if (directory_app_password_list(d, ws->user, collect, rows, &error) != 0) {
		buf_puts(out, "<p class=\"error\">Your app passwords cannot be read now.</p>\n");
	} else if (rows->n == 0) {
		buf_puts(out, "<p id=\"no-app-passwords\">You have no app passwords.</p>\n");
	} else {
		buf_puts(out, "<table id=\"app-password-list\">\n<thead><tr><th scope=\"col\">Name</th>"
		              "<th scope=\"col\">For</th><th scope=\"col\">Created</th><th scope=\"col\">Last used</th>"
		              "<th scope=\"col\"><span class=\"visually-hidden\">Action</span></th></tr></thead>\n"
		              "<tbody>\n");
		for (size_t i = 0; i < rows->n; i++) {
			const struct dir_app_password *p = &rows->p[i];

			format_time(p->created, created, sizeof(created));
			format_time(p->last_used, used, sizeof(used));
			protocols_text(p->protocols, protos, sizeof(protos));
			buf_puts(out, "<tr><td>");
			esc(out, p->name);
			buf_printf(out, "</td><td>%s</td><td>%s</td><td>%s", protos, created, used);
			if (p->last_addr[0] != '\0') {
				buf_puts(out, " from ");
				esc(out, p->last_addr);
			}
			buf_puts(out, "</td><td><form class=\"inline\" method=\"post\" "
			              "action=\"/settings/app-passwords/revoke\">\n");
			csrf_field(out, ws);
			buf_puts(out, "<input type=\"hidden\" name=\"name\" value=\"");
			esc(out, p->name);
			buf_puts(out, "\"><button type=\"submit\" class=\"secondary\" aria-label=\"Revoke ");
			esc(out, p->name);
			buf_puts(out, "\">Revoke</button></form></td></tr>\n");
		}
		buf_puts(out, "</tbody>\n</table>\n");
	}
	str_wipe(rows, sizeof(*rows));
	free(rows);
	if (ws->app_password) {
		/* a leaked client password must not be able to mint others */
		buf_puts(out, "<p>You signed in with an app password: sign in with your own password to create "
		              "new ones.</p>\n</section>\n");
		return;
	}
	buf_puts(out, "<h3>Create an app password</h3>\n<form method=\"post\" action=\"/settings/app-passwords\">\n");
	csrf_field(out, ws);
	buf_printf(out, "<label for=\"apw-name\">Name (for example the device)</label>\n"
	                "<input type=\"text\" id=\"apw-name\" name=\"name\" required maxlength=\"%d\" "
	                "pattern=\"[A-Za-z0-9][A-Za-z0-9._\\-]*\" aria-describedby=\"apw-name-help\">\n"
	                "<p id=\"apw-name-help\">Letters, digits, '.', '_' or '-'; at most %d.</p>\n"
	                "<fieldset><legend>May be used for</legend>\n"
	                "<input type=\"checkbox\" id=\"apw-imap\" name=\"imap\" value=\"on\" checked>"
	                "<label for=\"apw-imap\">IMAP</label>\n"
	                "<input type=\"checkbox\" id=\"apw-pop3\" name=\"pop3\" value=\"on\" checked>"
	                "<label for=\"apw-pop3\">POP3</label>\n"
	                "<input type=\"checkbox\" id=\"apw-smtp\" name=\"smtp\" value=\"on\" checked>"
	                "<label for=\"apw-smtp\">SMTP (sending)</label>\n</fieldset>\n"
	                "<button type=\"submit\">Create app password</button>\n</form>\n</section>\n",
	           DIRECTORY_APP_PASSWORD_NAME_MAX, DIRECTORY_APP_PASSWORD_NAME_MAX);
}

/* Percent-encodes an address for a query string. */
static void
url_encode(struct buf *out, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("-._~", c))
			buf_append(out, s, 1);
		else
			buf_printf(out, "%%%02X", c);
	}
}

/* The settings of the signed-in user; notice (HTML, or NULL) on top. */
static void
settings_page(struct http_reply *r, const struct tern_config *cfg, const struct http_websession *ws,
              const char *notice_html)
{
	struct buf *out = &r->body;
	struct directory *d = directory_for_thread(cfg->data_dir);
	struct store *st = NULL;
	struct dir_user u;
	const char *error = NULL;
	uint64_t bytes = 0, messages = 0;
	char used[32], quota[32];

	if (d == NULL || directory_user_get(d, ws->user, &u, &error) != 1) {
		r->status = 503;
		r->type = "text/plain; charset=utf-8";
		buf_puts(out, "Your settings cannot be read now: try again later.\n");
		return;
	}
	str_wipe(u.password_hash, sizeof(u.password_hash));
	r->status = 200;
	r->type = "text/html; charset=utf-8";
	page_begin(out, "Mail settings");
	buf_puts(out, "<header>\n<h1>Mail settings for <span id=\"user\">");
	esc(out, u.address);
	buf_puts(out, "</span></h1>\n<form method=\"post\" action=\"/settings/logout\">\n");
	csrf_field(out, ws);
	buf_puts(out, "<button type=\"submit\" class=\"secondary\">Sign out</button>\n</form>\n</header>\n");
	if (notice_html != NULL)
		buf_printf(out, "<div class=\"notice\" role=\"status\">%s</div>\n", notice_html);
	buf_puts(out, "<p>Mail programs sign in with ");
	buf_puts(out, sign_in_text(cfg->basic));
	buf_puts(out, ". The user name is your full email address.</p>\n");
	protocol_section(out, cfg, "imap", "IMAP (incoming mail; folders stay on the server)", u.imap,
	                 SERVICE_IMAPS, SERVICE_IMAP);
	protocol_section(out, cfg, "pop3", "POP3 (incoming mail, downloaded to one device)", u.pop3,
	                 SERVICE_POP3S, SERVICE_POP3);
	protocol_section(out, cfg, "smtp", "SMTP (sending mail)", u.submission, SERVICE_SUBMISSIONS,
	                 SERVICE_SUBMISSION);

	buf_puts(out, "<section aria-labelledby=\"storage\">\n<h2 id=\"storage\">Storage</h2>\n");
	if (store_open(cfg->data_dir, u.address, &st, &error) != 0 || store_usage(st, &bytes, &messages, &error) != 0) {
		buf_puts(out, "<p class=\"error\">Your storage use cannot be read now.</p>\n");
	} else {
		format_bytes(bytes, used, sizeof(used));
		buf_printf(out, "<p id=\"quota\">%s used by %llu message%s", used, (unsigned long long)messages,
		           messages == 1 ? "" : "s");
		if (u.quota_bytes != 0) {
			format_bytes(u.quota_bytes, quota, sizeof(quota));
			buf_printf(out, " of %s (%.0f%%)", quota, 100.0 * (double)bytes / (double)u.quota_bytes);
		} else {
			buf_puts(out, "; no limit");
		}
		buf_puts(out, ".</p>\n");
	}
	store_close(&st);
	buf_puts(out, "</section>\n");

	app_passwords_section(out, d, ws);

	buf_puts(out, "<section aria-labelledby=\"devices\">\n<h2 id=\"devices\">iPhone, iPad and Mac</h2>\n"
	              "<p><a id=\"mobileconfig\" href=\"/apple.mobileconfig?emailaddress=");
	url_encode(out, u.address);
	buf_puts(out, "\">Download a configuration profile</a> and open it to set up Mail.</p>\n</section>\n");
	page_end(out);
}

/* ---- actions ---- */

static void
log_safe(const char *in, char *out, size_t size)
{
	size_t i;

	for (i = 0; in[i] != '\0' && i + 1 < size; i++)
		out[i] = in[i] == '"' || in[i] == '\\' || (unsigned char)in[i] < 0x20 ? '?' : in[i];
	out[i] = '\0';
}

static void
sign_in(struct http_settings_job *job, const struct http_websession *ws)
{
	struct http_reply *r = &job->reply;
	char address[AUTH_USER_MAX + 1], password[AUTH_PASS_MAX + 1], safe[AUTH_USER_MAX + 1];
	struct http_websession fresh;
	struct auth_result res;
	const char *result;

	if (http_query_get(job->form, "address", address, sizeof(address)) != 0)
		address[0] = '\0';
	if (http_query_get(job->form, "password", password, sizeof(password)) != 0)
		password[0] = '\0';
	{
		struct auth_login login = { .proto = AUTH_PROTO_WEB, .basic = job->cfg->basic, .peer = job->peer,
		                            .username = address, .password = password };

		auth_check_login(job->cfg->data_dir, &login, &res);
	}
	str_wipe(password, sizeof(password));
	switch (res.status) {
	case AUTH_OK:
		result = "ok";
		http_websession_end(ws->id);
		if (http_websession_new(res.user, res.app_password[0] != '\0', time(NULL), &fresh) != 0) {
			login_page(r, 503, ws, "No session can be started now: try again later.", address);
			break;
		}
		set_cookie(r, fresh.id);
		see_other(r, "/settings");
		break;
	case AUTH_BLOCKED:
		result = "blocked";
		login_page(r, 429, ws, "Too many failed sign-ins from your address: try again later.", address);
		snprintf(r->extra + strlen(r->extra), sizeof(r->extra) - strlen(r->extra), "Retry-After: %u\r\n",
		         job->cfg->bruteforce.block_time);
		break;
	case AUTH_TEMPFAIL:
		result = "tempfail";
		login_page(r, 503, ws, "Sign-in is unavailable now: try again later.", address);
		break;
	case AUTH_BASIC_DISABLED:
		result = "basic-disabled";
		login_page(r, 403, ws, "Password sign-in is switched off on this server.", address);
		break;
	case AUTH_ACCOUNT_DISABLED:
		result = "account-disabled";
		login_page(r, 403, ws, "This account is disabled.", address);
		break;
	default:
		/* unknown user and wrong password: one answer, after the delay */
		result = "failed";
		job->delay_ms = res.delay_ms > 0 ? res.delay_ms : AUTH_FAIL_DELAY_MS;
		login_page(r, 403, ws, "Wrong email address or password.", address);
		break;
	}
	metrics_login(METRICS_PROTO_SETTINGS, res.status == AUTH_OK);
	log_safe(address, safe, sizeof(safe));
	log_info("http settings login user=\"%s\" peer=%s result=%s reason=\"%s\"%s", safe, job->peer, result,
	         res.reason != NULL ? res.reason : "", res.app_password[0] != '\0' ? " app_password=yes" : "");
	str_wipe(&res, sizeof(res));
}

static void
create_app_password(struct http_settings_job *job, const struct http_websession *ws)
{
	struct http_reply *r = &job->reply;
	struct directory *d = directory_for_thread(job->cfg->data_dir);
	char name[FIELD_MAX], v[8], shown[DIRECTORY_APP_PASSWORD_SHOWN_LEN + 1], protos[32];
	unsigned bits = 0;
	const char *error = "directory unavailable";
	struct buf notice = { 0 };

	if (ws->app_password) {
		r->status = 403;
		r->type = "text/plain; charset=utf-8";
		buf_puts(&r->body, "Sign in with your own password to create app passwords.\n");
		return;
	}
	if (http_query_get(job->form, "name", name, sizeof(name)) != 0)
		name[0] = '\0';
	if (http_query_get(job->form, "imap", v, sizeof(v)) == 0)
		bits |= DIR_PROTO_IMAP;
	if (http_query_get(job->form, "pop3", v, sizeof(v)) == 0)
		bits |= DIR_PROTO_POP3;
	if (http_query_get(job->form, "smtp", v, sizeof(v)) == 0)
		bits |= DIR_PROTO_SMTP;
	if (bits == 0) {
		buf_puts(&notice, "<p class=\"error\" role=\"alert\">Choose at least one of IMAP, POP3 and SMTP.</p>");
	} else if (d == NULL ||
	           directory_app_password_create(d, ws->user, name, bits, shown, sizeof(shown), &error) != 0) {
		buf_puts(&notice, "<p class=\"error\" role=\"alert\">No app password was created: ");
		esc(&notice, error);
		buf_puts(&notice, "</p>");
	} else {
		protocols_text(bits, protos, sizeof(protos));
		buf_puts(&notice, "<p>Your new app password <strong>");
		esc(&notice, name);
		buf_printf(&notice, "</strong> for %s is <code id=\"new-password\">%s</code></p>\n"
		                    "<p>Type it into your mail program now: it is shown only this once. Spaces and "
		                    "capitals do not matter.</p>",
		           protos, shown);
		log_info("http settings app-password created user=%s name=%s peer=%s", ws->user, name, job->peer);
	}
	str_wipe(shown, sizeof(shown));
	settings_page(r, job->cfg, ws, notice.data);
	if (notice.data != NULL)
		str_wipe(notice.data, notice.len);
	buf_free(&notice);
}

static void
revoke_app_password(struct http_settings_job *job, const struct http_websession *ws)
{
	struct directory *d = directory_for_thread(job->cfg->data_dir);
	char name[FIELD_MAX];
	const char *error = "directory unavailable";
	struct buf notice = { 0 };

	if (http_query_get(job->form, "name", name, sizeof(name)) != 0)
		name[0] = '\0';
	if (d == NULL || directory_app_password_revoke(d, ws->user, name, &error) != 0) {
		buf_puts(&notice, "<p class=\"error\" role=\"alert\">Not revoked: ");
		esc(&notice, error);
		buf_puts(&notice, "</p>");
	} else {
		buf_puts(&notice, "<p>App password <strong>");
		esc(&notice, name);
		buf_puts(&notice, "</strong> revoked: it no longer works.</p>");
		log_info("http settings app-password revoked user=%s name=%s peer=%s", ws->user, name, job->peer);
	}
	settings_page(&job->reply, job->cfg, ws, notice.data);
	buf_free(&notice);
}

static void
plain(struct http_reply *r, int status, const char *text)
{
	r->status = status;
	r->type = "text/plain; charset=utf-8";
	buf_printf(&r->body, "%s\n", text);
}

/* A POST: the form must be urlencoded and carry the session's token. */
static bool
post_ok(struct http_settings_job *job, bool have, const struct http_websession *ws)
{
	char token[HTTP_WEBSESSION_TOKEN_LEN + 1];
	struct http_reply *r = &job->reply;

	if (!job->form_urlencoded) {
		plain(r, 415, "Forms are sent as application/x-www-form-urlencoded.");
		return false;
	}
	if (have && http_query_get(job->form, "csrf", token, sizeof(token)) == 0 && http_websession_csrf_ok(ws, token))
		return true;
	log_info("http settings csrf-refused path=%s peer=%s session=%s", job->path, job->peer,
	         have ? "yes" : "no");
	if (have && ws->user[0] != '\0') {
		plain(r, 403, "This form had expired or did not come from this page: nothing was changed. "
		              "Reload the settings page and try again.");
	} else {
		struct http_websession anon;

		if (new_anonymous(r, &anon))
			login_page(r, 403, &anon, "The sign-in form had expired: please sign in again.", NULL);
	}
	return false;
}

/* A signed-in session whose user was deleted or disabled since ends
 * here, before it can do anything. */
static bool
user_gone(const struct tern_config *cfg, const struct http_websession *ws)
{
	struct directory *d = directory_for_thread(cfg->data_dir);
	struct dir_user u;
	const char *error;
	int r = d != NULL ? directory_user_get(d, ws->user, &u, &error) : -1;

	if (r == 1)
		str_wipe(u.password_hash, sizeof(u.password_hash));
	return r == 0 || (r == 1 && u.disabled);
}

void
http_settings_work(void *arg)
{
	struct http_settings_job *job = arg;
	struct http_reply *r = &job->reply;
	struct http_websession ws;
	bool have = http_websession_get(job->cookie, time(NULL), &ws);
	bool signed_in = have && ws.user[0] != '\0';
	bool post = strcmp(job->method, "POST") == 0;

	r->page = true;
	if (signed_in && user_gone(job->cfg, &ws)) {
		log_info("http settings session ended user=%s peer=%s reason=\"account deleted or disabled\"", ws.user,
		         job->peer);
		http_websession_end(ws.id);
		set_cookie(r, NULL);
		see_other(r, "/settings");
		return;
	}
	if (strcmp(job->path, "/settings") == 0 || strcmp(job->path, "/settings/") == 0) {
		if (post) {
			plain(r, 405, "Method Not Allowed");
			snprintf(r->extra, sizeof(r->extra), "Allow: GET, HEAD\r\n");
		} else if (signed_in) {
			settings_page(r, job->cfg, &ws, NULL);
		} else if (have || new_anonymous(r, &ws)) {
			/* a reload keeps its anonymous session: no churn in the table */
			login_page(r, 200, &ws, NULL, NULL);
		}
		return;
	}
	if (strcmp(job->path, "/settings/login") != 0 && strcmp(job->path, "/settings/logout") != 0 &&
	    strcmp(job->path, "/settings/app-passwords") != 0 &&
	    strcmp(job->path, "/settings/app-passwords/revoke") != 0) {
		plain(r, 404, "Not Found");
		return;
	}
	if (!post) {
		plain(r, 405, "Method Not Allowed");
		snprintf(r->extra, sizeof(r->extra), "Allow: POST\r\n");
		return;
	}
	if (!post_ok(job, have, &ws))
		return;
	if (strcmp(job->path, "/settings/login") == 0) {
		sign_in(job, &ws);
	} else if (strcmp(job->path, "/settings/logout") == 0) {
		http_websession_end(ws.id);
		set_cookie(r, NULL);
		see_other(r, "/settings");
		if (signed_in)
			log_info("http settings logout user=%s peer=%s", ws.user, job->peer);
	} else if (!signed_in) {
		see_other(r, "/settings");
	} else if (strcmp(job->path, "/settings/app-passwords") == 0) {
		create_app_password(job, &ws);
	} else {
		revoke_app_password(job, &ws);
	}
}
