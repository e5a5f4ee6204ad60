package VmailCGI;

# Shared code of the vmailsql CGI pages (`login`, the Domain Control Panel, and `passwd_popbox`):
# request parsing, the page layout, HTML escaping, security headers, cookies, the domain
# session and CSRF tokens, and turning library errors into messages.
#
# Security rules kept here so that no page can forget them:
# - every byte of text that reaches HTML goes through h();
# - state-changing requests are POSTs; their fields are read from the body only (post()), never
#   from the query string, so passwords never appear in URLs or access logs;
# - every POST passes check_origin() and carries a token bound to a secret cookie: the domain
#   session's token once signed in, a random per-browser value before (double-submit);
# - cookies are HttpOnly, SameSite=Strict, and Secure with the __Host- prefix under HTTPS;
# - every response sends a strict Content-Security-Policy (no script at all), frame-ancestors
#   'none' / X-Frame-Options DENY, nosniff, Cache-Control no-store and a Referrer-Policy.

use strict;
use warnings;

use CGI ();
use Digest::SHA qw(hmac_sha256_hex sha256_hex);
use Scalar::Util qw(blessed);

our $VERSION = '0.1';

# Longest value accepted in any form field.
our $MAX_FIELD = 1024;
# Seconds a failed sign-in or password check waits before answering (slows guessing down).
our $FAIL_DELAY = 2;
# The sign-in throttle (docs/control-panel.md): sign-in attempts per domain, and failed ones
# per client address, are counted in the database in windows of $SIGNIN_WINDOW seconds. The
# delay after a failure doubles with the domain's attempts, up to $MAX_FAIL_DELAY; beyond
# $SIGNIN_LIMIT attempts for a domain, or $CLIENT_LIMIT failures from one address, sign-in is
# refused until the window ends. The web server may set VMAILSQL_SIGNIN_WINDOW and
# VMAILSQL_SIGNIN_LIMIT (the client limit is three times the domain's).
our $SIGNIN_WINDOW  = 900;
our $SIGNIN_LIMIT   = 10;
our $MAX_FAIL_DELAY = 16;
# The configuration file when the web server does not pass VMAILSQL_CONFIG (Apache's suExec
# clears the environment): set it here at install time, as the seed's DomainAdminConfig.pm was
# edited. undef means the library's default, /etc/vmailsql.conf.
our $CONFIG_FILE = undef;

my %STATUS_TEXT = (
    200 => 'OK',            303 => 'See Other',         400 => 'Bad Request',
    403 => 'Forbidden',     404 => 'Not Found',         405 => 'Method Not Allowed',
    409 => 'Conflict',      413 => 'Payload Too Large', 429 => 'Too Many Requests',
    500 => 'Internal Server Error',
    503 => 'Service Unavailable',
);

# HTTP status for a library error kind (the page still shows the message).
my %KIND_STATUS = (
    not_found      => 404, auth_failed => 403, invalid_input => 400, conflict => 409,
    limit_exceeded => 409, temporary   => 503, internal      => 500, panic    => 500,
);

sub new {
    my ($class, %opt) = @_;
    $CGI::POST_MAX        = 64 * 1024;
    $CGI::DISABLE_UPLOADS = 1;
    my $q    = CGI->new;
    my $self = bless {
        q       => $q,
        name    => $opt{name} || 'vmailsql',
        cookies => [],
    }, $class;
    $self->{input_error} = $q->cgi_error;
    return $self;
}

# ---- escaping and small helpers ----

# HTML-escapes text for element content and attribute values.
sub h {
    my ($text) = @_;
    $text = '' unless defined $text;
    $text =~ s/&/&amp;/g;
    $text =~ s/</&lt;/g;
    $text =~ s/>/&gt;/g;
    $text =~ s/"/&quot;/g;
    $text =~ s/'/&#39;/g;
    return $text;
}

# Percent-encodes a value for a URL query or a cookie.
sub uri_escape {
    my ($text) = @_;
    $text = bytes($text);
    $text =~ s/([^A-Za-z0-9._~-])/sprintf('%%%02X', ord $1)/ge;
    return $text;
}

sub uri_unescape {
    my ($text) = @_;
    $text = '' unless defined $text;
    $text =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
    return $text;
}

# Library strings may come back as Perl character strings; the pages work on UTF-8 bytes.
sub bytes {
    my ($text) = @_;
    return '' unless defined $text;
    utf8::encode($text) if utf8::is_utf8($text);
    return $text;
}

# Constant-time string comparison.
sub same {
    my ($a, $b) = @_;
    return 0 unless defined $a && defined $b && length $a == length $b;
    my $diff = 0;
    $diff |= ord(substr $a, $_, 1) ^ ord(substr $b, $_, 1) for 0 .. length($a) - 1;
    return $diff == 0;
}

sub random_hex {
    my ($octets) = @_;
    open my $fh, '<:raw', '/dev/urandom' or die "cannot open /dev/urandom: $!\n";
    my $buf = '';
    my $got = read $fh, $buf, $octets;
    close $fh;
    die "short read from /dev/urandom\n" unless defined $got && $got == $octets;
    return unpack 'H*', $buf;
}

# Writes one line to the web server's error log: control and non-ASCII characters as \xNN;
# never passwords. Values from visitors go in through log_value().
sub log_line {
    my ($self, $text) = @_;
    $text = bytes($text);
    $text =~ s/([^\x20-\x7e])/sprintf('\\x%02x', ord $1)/ge;
    my $from = $ENV{REMOTE_ADDR} || '-';
    $from =~ s/[^0-9A-Fa-f:.]//g;
    print STDERR "vmailsql-cgi[$self->{name}]: $text from $from\n";
}

# A visitor's value for a log line, in double quotes; quotes and backslashes inside as \xNN,
# so a typed name cannot end the quotes and fake the rest of the line.
sub log_value {
    my ($value) = @_;
    $value = bytes($value);
    $value =~ s/([^\x20-\x21\x23-\x5b\x5d-\x7e])/sprintf('\\x%02x', ord $1)/ge;
    return qq{"$value"};
}

# ---- the request ----

sub method { return uc($ENV{REQUEST_METHOD} || 'GET') }
sub is_post { return $_[0]->method eq 'POST' }

# What the visitor calls each form field, for messages.
my %FIELD_LABEL = (
    domain      => 'Domain',           password    => 'Password',
    password2   => 'Repeat password',  current     => 'Current password',
    local_part  => 'Name',             mbox_name   => 'Mail file',
    remote_name => 'Forward to',       catch_all   => 'Catch-all address',
    address     => 'Your email address',
);

# A value longer than $MAX_FIELD characters is refused, never cut short: a truncated new
# password would be set without the visitor knowing what it is.
sub _checked_field {
    my ($name, $value) = @_;
    return undef unless defined $value;
    my $chars = $value;
    utf8::decode($chars);
    if (length $chars > $MAX_FIELD) {
        my $label = $FIELD_LABEL{$name} || $name;
        die VmailCGI::Failure->new(400, "The field \"$label\" is longer than $MAX_FIELD "
            . 'characters. Nothing was changed.');
    }
    return $value;
}

# A field of the POST body (never the query string), as UTF-8 bytes; undef when absent.
sub post {
    my ($self, $name) = @_;
    return undef unless $self->is_post;
    return _checked_field($name, scalar $self->{q}->param($name));
}

# A parameter of the URL's query string (for page selection on GET).
sub query {
    my ($self, $name) = @_;
    return _checked_field($name, scalar $self->{q}->url_param($name));
}

sub input_error { return $_[0]->{input_error} }

sub https {
    my $on = lc($ENV{HTTPS} || '');
    return 1 if $on eq 'on' || $on eq '1';
    return 1 if lc($ENV{REQUEST_SCHEME} || '') eq 'https';
    return 0;
}

# This script's URL path, e.g. /vmail/login.
sub script_url {
    my $path = $ENV{SCRIPT_NAME} || '';
    $path =~ s/[^A-Za-z0-9._~\/-]//g;
    return $path;
}

# The directory part of the script URL, with a trailing slash.
sub script_dir {
    my $dir = script_url();
    $dir =~ s{[^/]*\z}{};
    return $dir eq '' ? '/' : $dir;
}

sub static_url {
    my $url = $ENV{VMAILSQL_STATIC_URL};
    $url = script_dir() . 'static' unless defined $url && length $url;
    $url =~ s{/+\z}{};
    return $url;
}

# The origin this site is reached at: VMAILSQL_ORIGIN (behind a proxy) or scheme://Host.
sub own_origin {
    my ($self) = @_;
    my $configured = $ENV{VMAILSQL_ORIGIN};
    return lc $configured if defined $configured && length $configured;
    my $host = $ENV{HTTP_HOST};
    if (!defined $host || !length $host) {
        my $port = $ENV{SERVER_PORT} || '';
        $host = ($ENV{SERVER_NAME} || 'localhost') . ($port =~ /^\d+$/ ? ":$port" : '');
    }
    return lc(($self->https ? 'https' : 'http') . '://' . $host);
}

# Rejects POSTs that a browser says came from another origin. A browser sends Origin with every
# POST (our Referrer-Policy same-origin keeps it a real origin, not "null"); when it is absent,
# the Referer is checked instead, when present. The CSRF token is checked separately.
sub check_origin {
    my ($self) = @_;
    my $own    = $self->own_origin;
    my $origin = $ENV{HTTP_ORIGIN};
    if (defined $origin && length $origin) {
        return lc($origin) eq $own;
    }
    my $referer = $ENV{HTTP_REFERER};
    if (defined $referer && length $referer) {
        my ($ref_origin) = $referer =~ m{\A([a-z][a-z0-9+.-]*://[^/?#]+)}i;
        return defined $ref_origin && lc($ref_origin) eq $own;
    }
    return 1;
}

# ---- cookies ----

sub cookie_name {
    my ($self, $base) = @_;
    return $self->https ? "__Host-vmailsql_$base" : "vmailsql_$base";
}

sub cookie {
    my ($self, $base) = @_;
    my $want = $self->cookie_name($base);
    for my $pair (split /;\s*/, $ENV{HTTP_COOKIE} || '') {
        my ($name, $value) = split /=/, $pair, 2;
        next unless defined $value && defined $name;
        $name =~ s/^\s+|\s+$//g;
        return $value if $name eq $want;
    }
    return undef;
}

# Queues a Set-Cookie header for the next response; undef value deletes the cookie.
sub set_cookie {
    my ($self, $base, $value) = @_;
    my $path   = $self->https ? '/' : script_dir();
    my $header = $self->cookie_name($base) . '=' . (defined $value ? $value : '')
        . "; Path=$path; HttpOnly; SameSite=Strict";
    $header .= '; Secure' if $self->https;
    $header .= '; Max-Age=0' unless defined $value;
    push @{ $self->{cookies} }, $header;
}

# ---- the domain session (Domain Control Panel) ----

# (domain, token) from the session cookie, or () when there is none or it is malformed.
sub session_cookie {
    my ($self) = @_;
    my $value = $self->cookie('session');
    return () unless defined $value;
    my ($domain, $token) = $value =~ /\A([A-Za-z0-9._~%-]{1,1000}):([A-Za-z0-9_-]{16,512})\z/;
    return () unless defined $token;
    return (uri_unescape($domain), $token);
}

sub set_session_cookie {
    my ($self, $domain, $token) = @_;
    $self->set_cookie(session => uri_escape($domain) . ':' . $token);
}

sub clear_session_cookie { $_[0]->set_cookie(session => undef) }

# The CSRF token of a signed-in form: an HMAC keyed with the session token, which only this
# browser (HttpOnly cookie) and the database (as a hash) know. A new session makes a new token.
sub session_csrf {
    my ($self, $domain, $token) = @_;
    return hmac_sha256_hex("csrf\0" . bytes($domain), $token);
}

# ---- forms before sign-in (sign-in, passwd_popbox): double-submit token ----

# The form token for this browser, setting the random form cookie when it has none.
sub form_token {
    my ($self, $purpose) = @_;
    my $secret = $self->cookie('form');
    if (!defined $secret || $secret !~ /\A[0-9a-f]{64}\z/) {
        $secret = random_hex(32);
        $self->set_cookie(form => $secret);
    }
    return hmac_sha256_hex("form\0$purpose", $secret);
}

sub form_token_ok {
    my ($self, $purpose) = @_;
    my $secret = $self->cookie('form');
    return 0 unless defined $secret && $secret =~ /\A[0-9a-f]{64}\z/;
    return same(scalar($self->post('form_token')), hmac_sha256_hex("form\0$purpose", $secret));
}

# ---- messages passed across a redirect, signed so links cannot forge them ----

sub flash_query {
    my ($self, $key, $code, $what) = @_;
    $what = '' unless defined $what;
    my $sig = hmac_sha256_hex("flash\0$code\0" . bytes($what), $key);
    return 'done=' . uri_escape($code) . '&what=' . uri_escape($what) . '&sig=' . $sig;
}

# (code, what) of a genuine flash in this GET's query, or ().
sub flash {
    my ($self, $key) = @_;
    my ($code, $what, $sig) = map { $self->query($_) } qw(done what sig);
    return () unless defined $code && defined $sig;
    $what = '' unless defined $what;
    return () unless same($sig, hmac_sha256_hex("flash\0$code\0$what", $key));
    return ($code, $what);
}

# ---- passwords ----

# Why a new password (typed twice) cannot be used, or undef when it can. $min is the library's
# password_min_length ($app->min_password), so the pages and every other tool agree; the
# library refuses a shorter one anyway.
sub password_problem {
    my ($password, $repeat, $min) = @_;
    return 'Enter the new password twice.' unless defined $password && length $password;
    return 'The two new passwords differ.' unless defined $repeat && $password eq $repeat;
    my $chars = $password;
    utf8::decode($chars);
    return "The new password must have at least $min characters."
        if length $chars < $min;
    return undef;
}

# The library's password_min_length (the configuration's, default 8): the one policy.
sub min_password {
    my ($self) = @_;
    return $self->library->password_min_length;
}

# The hint under a new-password field.
sub min_password_hint {
    my ($self) = @_;
    return 'At least ' . $self->min_password . ' characters.';
}

# ---- sign-in throttle ----

sub _setting {
    my ($name, $default) = @_;
    my $value = $ENV{$name};
    return defined $value && $value =~ /\A[1-9][0-9]{0,6}\z/ ? $value : $default;
}

sub signin_window { _setting('VMAILSQL_SIGNIN_WINDOW', $SIGNIN_WINDOW) }
sub signin_limit  { _setting('VMAILSQL_SIGNIN_LIMIT', $SIGNIN_LIMIT) }
sub client_limit  { 3 * signin_limit() }

# The throttle subjects of a sign-in: the domain as typed (lower-cased: one count whatever the
# case; a name too long to be a domain by its hash), and the client's address as the web server
# gives it.
sub domain_subject {
    my ($domain) = @_;
    $domain = lc $domain;
    $domain =~ s/\.+\z//;    # "example.org." is example.org too
    return 'domain:' . (length $domain > 200 ? 'sha256:' . sha256_hex($domain) : $domain);
}

sub client_subject {
    my $from = $ENV{REMOTE_ADDR};
    $from = '-' unless defined $from && length $from;
    $from =~ s/[^0-9A-Fa-f:.]//g;
    return 'client:' . lc substr($from, 0, 64);
}

# Seconds to wait after the domain's n-th failed attempt in its window: 2, 4, 8, 16, 16, ...
sub fail_delay {
    my ($attempts) = @_;
    my $delay = $FAIL_DELAY * 2**(($attempts < 1 ? 1 : $attempts > 8 ? 8 : $attempts) - 1);
    return $delay > $MAX_FAIL_DELAY ? $MAX_FAIL_DELAY : $delay;
}

# ---- library access ----

# Opens the library with $VMAILSQL_CONFIG, else $CONFIG_FILE, else /etc/vmailsql.conf; dies with a Vmailsql::Error
# or with a plain message when the module itself cannot be loaded.
sub library {
    my ($self) = @_;
    return $self->{vm} if $self->{vm};
    my $ok = eval { require Vmailsql; 1 };
    if (!$ok) {
        $self->log_line('cannot load the Vmailsql Perl module: ' . (split /\n/, "$@")[0]);
        die VmailCGI::Failure->new(503, 'The control panel is not installed completely '
            . '(the Vmailsql Perl module is missing). Please tell the mail administrator.');
    }
    my $config = $ENV{VMAILSQL_CONFIG};
    $config = $CONFIG_FILE unless defined $config && length $config;
    my $vm = defined $config && length $config ? Vmailsql->open($config) : Vmailsql->open;
    $vm->read_from_primary;    # the panel shows what was just changed, never a lagging replica
    $self->{vm} = VmailCGI::Text->new($vm);
    return $self->{vm};
}

# Names who the library's audit log records for this request's changes: `$who` (the signed-in
# domain, the popbox) from the client address. A name the library refuses is recorded as such.
sub acting_as {
    my ($self, $who) = @_;
    my $from = $ENV{REMOTE_ADDR};
    $from = 'unknown' unless defined $from && length $from;
    eval { $self->library->set_actor($who, $from); 1 }
        or $self->library->set_actor('cgi:unprintable-name', $from);
}

# The kind of an exception from the library ('internal' for anything else).
sub error_kind {
    my ($err) = @_;
    return $err->kind if blessed($err) && $err->can('kind');
    return 'internal';
}

# The text a visitor sees for a library error. The library's own message for what the visitor
# can fix; a general one (and a log line with the details) for outages and bugs.
sub error_text {
    my ($self, $err) = @_;
    my $kind = error_kind($err);
    if ($kind eq 'temporary') {
        $self->log_line('database temporarily unavailable: ' . _message($err));
        return 'The mail database is temporarily unavailable. Nothing was changed; '
            . 'please try again in a few minutes.';
    }
    if ($kind eq 'internal' || $kind eq 'unsafe_data' || $kind eq 'panic') {
        $self->log_line('internal error: ' . _message($err));
        return 'Something went wrong inside the control panel; nothing was changed. '
            . 'The details are in the web server\'s error log.';
    }
    my $text = _message($err);
    $text = ucfirst $text;
    $text .= '.' unless $text =~ /[.!?]\z/;
    return $text;
}

sub error_status {
    my ($err) = @_;
    return $KIND_STATUS{ error_kind($err) } || 500;
}

sub _message {
    my ($err) = @_;
    my $text = blessed($err) && $err->can('message') ? $err->message : "$err";
    $text = bytes($text);
    $text =~ s/\s+\z//;
    $text =~ s/ at \S+ line \d+\.?\z//;
    return $text;
}

# ---- responses ----

sub headers {
    my ($self, $status, @extra) = @_;
    my $text = $STATUS_TEXT{$status} || 'Error';
    my @lines = (
        "Status: $status $text",
        @extra,
        "Content-Security-Policy: default-src 'none'; style-src 'self'; img-src 'self'; "
            . "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        'X-Frame-Options: DENY',
        'X-Content-Type-Options: nosniff',
        'Referrer-Policy: same-origin',
        'Cross-Origin-Opener-Policy: same-origin',
        'Cross-Origin-Resource-Policy: same-origin',
        'Cache-Control: no-store',
        'Pragma: no-cache',
        map({ "Set-Cookie: $_" } @{ $self->{cookies} }),
    );
    $self->{cookies} = [];
    return join('', map { "$_\r\n" } @lines) . "\r\n";
}

# 303 to a path of this site (path-absolute, e.g. /vmail/login?page=popboxes).
sub redirect {
    my ($self, $location) = @_;
    binmode STDOUT;
    print $self->headers(303, "Location: $location", 'Content-Type: text/plain; charset=utf-8');
    print "See $location\n" unless $self->method eq 'HEAD';
    return;
}

# Prints a whole page. Options: title, body (HTML), status, notice => [kind, text] (text is
# escaped here), signed_in => {domain, csrf} for the navigation, nav => current section.
sub page {
    my ($self, %o) = @_;
    my $status = $o{status} || 200;
    my $title  = h($o{title});
    my $brand  = h($o{brand} || 'Domain Control Panel');
    my $css    = h(static_url() . '/style.css');
    my $header = '';
    if (my $s = $o{signed_in}) {
        my $script = h(script_url());
        my @items = (
            [overview => 'Overview'], [popboxes => 'Popboxes'], [forwarders => 'Forwarders'],
            [password => 'Domain password'], [activity => 'Activity'],
        );
        my $links = join '', map {
            my ($key, $label) = @$_;
            my $current = ($o{nav} || '') eq $key ? ' aria-current="page"' : '';
            qq{<li><a href="$script?page=$key"$current>$label</a></li>};
        } @items;
        my $csrf = h($s->{csrf});
        $header = <<"HTML";
<nav aria-label="Control panel">
<ul class="menu">$links
<li><form method="post" action="$script" class="signout"><input type="hidden" name="csrf" value="$csrf"><input type="hidden" name="action" value="signout"><button type="submit" class="link">Sign out</button></form></li>
</ul>
</nav>
HTML
        $header = '<p class="who">Signed in to <strong>' . h($s->{domain}) . "</strong></p>\n" . $header;
    }
    my $notice = '';
    for my $n (@{ $o{notices} || [] }, ($o{notice} ? ($o{notice}) : ())) {
        my ($kind, $text) = @$n;
        my $role = $kind eq 'error' ? 'alert' : 'status';
        $notice .= qq{<div class="notice $kind" role="$role"><p>} . h($text) . "</p></div>\n";
    }
    my $body = defined $o{body} ? $o{body} : '';
    $notice = bytes($notice);
    my $html = <<"HTML";
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>$title &#8211; $brand</title>
<link rel="stylesheet" href="$css">
</head>
<body>
<header class="top">
<div class="wrap">
<p class="brand">$brand</p>
$header</div>
</header>
<main class="wrap">
<h1>$title</h1>
$notice$body
</main>
<footer class="wrap"><p>vmailsql</p></footer>
</body>
</html>
HTML
    binmode STDOUT;
    print $self->headers($status, 'Content-Type: text/html; charset=utf-8');
    print $html unless $self->method eq 'HEAD';
    return;
}

# A labelled form field. %o: id, label, type, name (defaults to id), value, hint, required,
# autocomplete, and attrs (extra attribute text, trusted), suffix (text after the input).
sub field {
    my (%o) = @_;
    my $id   = h($o{id});
    my $name = h(defined $o{name} ? $o{name} : $o{id});
    my $type = h($o{type} || 'text');
    my $attr = '';
    $attr .= ' value="' . h($o{value}) . '"' if defined $o{value} && ($o{type} || 'text') ne 'password';
    $attr .= ' required' if $o{required};
    $attr .= ' autocomplete="' . h($o{autocomplete}) . '"' if $o{autocomplete};
    $attr .= " $o{attrs}" if $o{attrs};
    my $hint = '';
    if (defined $o{hint}) {
        $attr .= qq{ aria-describedby="$id-hint"};
        $hint = qq{<p class="hint" id="$id-hint">} . h($o{hint}) . '</p>';
    }
    my $input = qq{<input id="$id" name="$name" type="$type"$attr>};
    $input = qq{<span class="with-suffix">$input<span class="suffix">} . h($o{suffix}) . '</span></span>'
        if defined $o{suffix};
    return qq{<div class="field"><label for="$id">} . h($o{label}) . "</label>$input$hint</div>\n";
}

# A page-level failure: an HTTP status and the text the visitor sees.
package VmailCGI::Text;

# The pages work on UTF-8 bytes (form fields, cookies, and library results through bytes());
# the library takes text (characters). This wrapper around the Vmailsql handle decodes every
# plain string argument on the way in, so "j\xc3\xbcrgen" typed into a form reaches the library
# as "j\x{fc}rgen", not as its UTF-8 bytes encoded a second time.
our $AUTOLOAD;

sub new { my ($class, $vm) = @_; return bless { vm => $vm }, $class }

sub AUTOLOAD {
    my $self = shift;
    (my $method = $AUTOLOAD) =~ s/.*:://;
    my @args = map { _text($_) } @_;
    return $self->{vm}->$method(@args);
}

sub DESTROY { }

sub _text {
    my ($value) = @_;
    return $value if !defined $value || ref $value || utf8::is_utf8($value);
    my $chars = $value;
    utf8::decode($chars)
        or die VmailCGI::Failure->new(400, 'The form held text that is not UTF-8. Nothing was changed.');
    return $chars;
}

package VmailCGI::Failure;

sub new { my ($class, $status, $text) = @_; return bless { status => $status, text => $text }, $class }
sub status { $_[0]{status} }
sub text   { $_[0]{text} }

1;
