package Vmailsql;

use strict;
use warnings;

our $VERSION = '0.1.0';

use Exporter 'import';
use Vmailsql::Error;

require XSLoader;
XSLoader::load('Vmailsql', $VERSION);

# The local part of a domain's catch-all forwarder (the seed's _default_).
our $CATCH_ALL = '_default_';

our @CODES = qw(VMAILSQL_OK VMAILSQL_NOT_FOUND VMAILSQL_AUTH_FAILED VMAILSQL_INVALID_INPUT
    VMAILSQL_CONFLICT VMAILSQL_LIMIT_EXCEEDED VMAILSQL_TEMPORARY VMAILSQL_INTERNAL
    VMAILSQL_PANIC VMAILSQL_NULL_ARGUMENT VMAILSQL_UNSAFE_DATA);
our @EXPORT_OK   = (@CODES, qw(VMAILSQL_UNLIMITED VMAILSQL_KEEP $CATCH_ALL));
our %EXPORT_TAGS = (codes => \@CODES, all => \@EXPORT_OK);

# Handles are not shared between ithreads: a new thread sees undef, and only the thread that
# opened a handle frees it.
sub CLONE_SKIP { 1 }

sub _invalid {
    Vmailsql::Error->throw(kind => 'invalid_input', code => VMAILSQL_INVALID_INPUT(),
        message => shift);
}

# A max_popbox argument: a limit from 0 up, or undef for none.
sub _limit {
    my $max = shift;
    return VMAILSQL_UNLIMITED() unless defined $max;
    _invalid("max_popbox must be a whole number from 0 up, or undef for no limit")
        unless $max =~ /\A[0-9]+\z/ && $max <= 2147483647;
    return $max;
}

sub _check_keys {
    my ($method, $arg, @known) = @_;
    my %known = map { $_ => 1 } @known;
    my @unknown = sort grep { !$known{$_} } keys %$arg;
    _invalid("$method: unknown argument @unknown (known: @known)") if @unknown;
}

sub add_domain {
    my ($self, %arg) = @_;
    _check_keys('add_domain', \%arg, qw(name path unix_user password max_popbox));
    return $self->_add_domain(@arg{qw(name path unix_user password)},
        _limit($arg{max_popbox}));
}

sub change_domain {
    my ($self, $name, %arg) = @_;
    _check_keys('change_domain', \%arg, qw(path unix_user max_popbox));
    my $max = exists $arg{max_popbox} ? _limit($arg{max_popbox}) : VMAILSQL_KEEP();
    return $self->_change_domain($name, $arg{path}, $arg{unix_user}, $max);
}

# audit_log(domain => ..., since => $epoch, until => $epoch, action => ..., actor => ...,
# limit => $n): the records, oldest first.
sub audit_log {
    my ($self, %arg) = @_;
    _check_keys('audit_log', \%arg, qw(domain since until action actor limit));
    for my $k (qw(since until limit)) {
        _invalid("audit_log: $k must be a whole number")
            if defined $arg{$k} && $arg{$k} !~ /\A[0-9]+\z/;
    }
    return $self->_audit_log($arg{domain}, $arg{since} // -1, $arg{until} // -1,
        $arg{action}, $arg{actor}, $arg{limit} // 0);
}

1;

__END__

=head1 NAME

Vmailsql - Perl bindings for libvmailsql, virtual-domain mail from one SQL database

=head1 SYNOPSIS

  use Vmailsql;

  my $vm = Vmailsql->open;                      # $ENV{VMAILSQL_CONFIG} or /etc/vmailsql.conf
  my $vm = Vmailsql->open('/etc/vmailsql.conf');
  my $vm = Vmailsql->open_url('sqlite:///var/lib/vmailsql/vmail.db');

  $vm->add_domain(name => 'example.org', path => '/var/mail/example.org',
                  unix_user => 'vmail', max_popbox => 5);
  $vm->add_popbox('example.org', 'alice', $password, undef);
  $vm->set_catch_all('example.org', 'alice@example.org');

  my $r = $vm->resolve('Alice@Example.ORG');
  print "$r->{rule}: $r->{path} as $r->{unix_user}\n";   # popbox: /var/mail/example.org/alice ...

  my $ok = eval { $vm->authenticate('alice@example.org', $password); 1 };
  if (!$ok) {
      die $@ unless ref $@ && $@->isa('Vmailsql::Error');
      print $@->is_temporary ? "try again later\n" : "login failed: $@\n";
  }

=head1 DESCRIPTION

vmailsql is the successor of vmail-sql (2002): one library that resolves addresses the way the
seed's Exim routers did, authenticates POP3 users the way tpop3d did, and administers domains,
popboxes, forwarders, domain aliases and control-panel sessions on the same database schema.
This module binds its C ABI (C<include/vmailsql.h>, C<libvmailsql.so.0>) one to one: every
function of the header is a method or function here (or is listed in
C<t/010-api-coverage.t> with the reason it is not), so the admin scripts and the CGI control
panel use the very code that Exim and the POP3 server use.

The method names are fixed by C<docs/perl-api.md>.

=head2 Errors

Every failure dies with a L<Vmailsql::Error>: C<< $@->kind >> is one of C<not_found
auth_failed invalid_input conflict limit_exceeded temporary internal unsafe_data panic>,
C<< $@->message >> the library's message (never containing a password), C<< $@->code >> the
C result code; it stringifies to the message, and C<< $@->is_temporary >> tells "database
down, try again later" apart from everything else. Methods return normally only on success.

=head2 Strings

Every string argument is text: the library is given the UTF-8 encoding of its characters,
whatever Perl's internal representation (a string without the UTF8 flag is characters
U+0000-U+00FF, one per byte), so two strings that are C<eq> give the library the same bytes.
Decode what comes from files, terminals and forms before passing it (C<utf8::decode>). Passwords
that are not UTF-8 text, such as a legacy site's hashes of Latin-1 passwords (tpop3d compared
bytes), go through C<authenticate_bytes> and C<verify_password_bytes>, which pass the string's
characters as octets unchanged and die with C<invalid_input> on a character above U+00FF. A
string containing a NUL byte is refused with C<invalid_input>.
C<undef> where the library requires a string dies with C<invalid_input> (code
C<VMAILSQL_NULL_ARGUMENT>). Strings coming back are Perl character strings.

=head2 Handles, threads and fork

A C<Vmailsql> object owns one C handle: the configuration and one database connection,
opened on first use and reopened after failures. C<DESTROY> (or C<close>) frees it and clears
the pointer, so a closed object dies with C<invalid_input> instead of touching freed memory.
Only objects made by C<open> and C<open_url> are handles: a scalar blessed into C<Vmailsql>
anywhere else dies with C<invalid_input> too, whatever number it holds.
Handles survive C<fork()>: the child's first call opens its own connection without touching
the parent's, and the child freeing its copy never closes the parent's connection. Handles are
not cloned into new ithreads (C<CLONE_SKIP>): a thread opens its own.

=head1 CONSTRUCTORS

=over 4

=item Vmailsql->open

=item Vmailsql->open($config_file)

Opens a handle from a configuration file (C<$ENV{VMAILSQL_CONFIG}>, else
C</etc/vmailsql.conf>, when no file is given). Does not connect yet. Dies with C<not_found>
when the file does not exist, C<invalid_input> for a syntax error or a file holding a
database password that others may read.

=item Vmailsql->open_url($url)

Opens a handle on one database URL with default settings: C<mysql://user:pass@host/db>,
C<mysql://user@localhost/db?socket=/path>, C<sqlite:///abs/path.db>, C<sqlite::memory:>.

=item $vm->close

Frees the handle now (C<DESTROY> does it otherwise). Any later call dies.

=item $vm->is_open

True until the handle is closed.

=back

=head1 METHODS

Hashrefs returned below hold C<undef> for SQL NULLs. Methods documented to return 1 return
1 on success and die otherwise.

=head2 Delivery and login

=over 4

=item resolve($address)

Where mail for C<local@domain> goes, by the seed's rules: a forwarder for the exact local part,
else a popbox, else the domain's C<_default_> catch-all; a domain alias acts as its target;
case does not matter. Returns C<< {rule, domain, local_part, ...} >> where C<rule> is
C<forwarder>, C<popbox> or C<catch-all>; for a popbox also C<path> (the mbox file),
C<domain_path> and C<unix_user>; for the other two C<< targets => [addresses] >>. Dies with
C<not_found> for an address nothing answers for.

=item resolve_parts($local_part, $domain)

The same with the two parts apart (as Exim has them).

=item local_domain($domain)

The real domain name for a local domain or one of its aliases; dies with C<not_found>
otherwise.

=item authenticate($login, $password)

A POP3 login by tpop3d's rules (the login splits at the first of the configured separators,
C<@%!:> by default). Returns the mailbox C<< {domain, local_part, path, domain_path,
unix_user} >>; dies with C<auth_failed> for an unknown user or a wrong password alike.

=item authenticate_bytes($login, $password_octets)

As C<authenticate>, with the password given as bytes (see L</Strings>): for legacy passwords
that are not UTF-8 text.

=item authenticate_apop($login, $timestamp, $digest)

An APOP login (RFC 1939); only C<{plaintext}> popboxes can use it. Returns the mailbox.

=item authenticate_domain($domain, $password)

The control panel's sign-in with the domain administrator's password. Returns 1.

=item lookup_mailbox($login)

The mailbox of a login without checking a password (a user-database lookup). Dies with
C<not_found> for an unknown user.

=item plaintext_credentials($login)

Returns the list C<($mailbox, $cleartext)> of a C<{plaintext}> popbox, for servers that
compute APOP themselves; dies with C<auth_failed> for other popboxes.

=back

=head2 Passwords

=over 4

=item hash_password($password)

=item hash_password($password, $scheme)

The stored form, with its C<{SCHEME}> prefix: in the handle's policy scheme
(C<password_scheme> in the configuration), or in C<$scheme> (C<crypt>, C<SHA512-CRYPT>,
C<SHA256-CRYPT>, C<BLF-CRYPT>, C<ARGON2ID>, C<YESCRYPT>, C<CRYPT_MD5>, C<MD5>, C<PLAINTEXT>).
Also callable as C<< Vmailsql->hash_password(...) >> (default scheme C<crypt>). The password
needs C<password_min_length> characters: the handle's setting, or the default 8 when called
without a handle or with C<$scheme>.

=item password_min_length()

The handle's C<password_min_length>: the fewest characters a new password may have (default
8). Every method that hashes or stores a new password enforces it.

=item verify_password($stored, $password)

True when C<$password> matches the stored value (every scheme tpop3d and Dovecot accept),
false otherwise, including for an unknown or malformed stored value. Needs no handle. A
C<{DIGEST-MD5}> value hashes the login name too and dies with C<invalid_input> here; logins
(C<authenticate>) check it with the popbox's own address.

=item verify_password_user($stored, $user, $password)

As C<verify_password>, knowing the login: C<$user> (C<name@realm>) is what C<{DIGEST-MD5}>
hashed (C<doveadm pw -s DIGEST-MD5 -u USER>); every other scheme ignores it. Needs no handle.

=item verify_password_bytes($stored, $password_octets)

As C<verify_password>, with the password given as bytes (see L</Strings>).

=item verify_apop($stored, $timestamp, $digest)

True when an APOP digest matches a stored C<{plaintext}> value. Needs no handle.

=item identify_password($stored)

C<< {name, weak, plaintext} >> for a stored value: a display name such as C<SHA-512-crypt>,
whether a password policy should replace it, whether it is a cleartext. Dies with
C<invalid_input> when the value is not recognised. Needs no handle.

=back

=head2 Schema

=over 4

=item create_schema()

Creates the recommended schema. Dies with C<conflict> when vmail tables exist. Returns 1.

=item create_schema_legacy()

Creates the seed's legacy schema exactly (MySQL/MariaDB only). Returns 1.

=item tables()

The names of the vmail tables present.

=back

=head2 Domains

=over 4

=item add_domain(name => $name, path => $path, unix_user => $user, password => $password, max_popbox => $n)

Adds a domain; C<password> (the administrator's, hashed in the policy scheme) and
C<max_popbox> (undef: no limit) are optional. Dies with C<conflict> when the name is
already a domain or an alias, C<invalid_input> for bad values. Returns 1.

=item domain($name)

C<< {name, unix_user, password_hash, path, max_popbox} >> (C<max_popbox> undef: no limit).

=item domains()

All domains, by name, as such hashrefs (their number in scalar context).

=item change_domain($name, path => $path, unix_user => $user, max_popbox => $n)

Changes any subset of the three; C<< max_popbox => undef >> removes the limit. Returns 1.

=item set_domain_password($name, $password)

Sets the administrator's password and ends the domain's control-panel session. Returns 1.

=item delete_domain($name)

Deletes the domain with all its popboxes, forwarders, aliases and session, atomically (mail
files stay on disk). Returns 1.

=back

=head2 Popboxes

=over 4

=item add_popbox($domain, $local_part, $password, $mbox_name)

Adds a popbox; C<$mbox_name> undef means the local part. Dies with C<limit_exceeded> at the
domain's C<max_popbox>, C<conflict> when the popbox or its mbox exists. Returns 1.

=item add_popbox_record($domain, $local_part, $password_hash, $mbox_name)

Adds a popbox with an already made hash, stored as given (imports). Returns 1.

=item popbox($domain, $local_part)

C<< {domain, local_part, password_hash, mbox_name} >>.

=item popboxes($domain)

The popboxes of one domain, or of all domains when C<$domain> is undef (their number in
scalar context).

=item set_popbox_password($domain, $local_part, $password)

An administrator sets a popbox's password. Returns 1.

=item change_popbox_password($address, $old, $new)

A user changes their own password; dies with C<auth_failed> when C<$old> does not verify
(or the popbox does not exist). Returns 1.

=item delete_popbox($domain, $local_part)

Returns 1 (the mbox file stays on disk).

=back

=head2 Forwarders

=over 4

=item add_forwarder($domain, $local_part, $remote_name)

=item change_forwarder($domain, $local_part, $remote_name)

Adds or changes a forwarder; C<$remote_name> is a comma-separated address list (never a
file or a pipe). A forwarder to its own address is refused as a loop. Returns 1.

=item set_catch_all($domain, $remote_name)

Adds or changes the catch-all (the forwarder C<$Vmailsql::CATCH_ALL>, C<_default_>).
Returns 1.

=item forwarder($domain, $local_part)

C<< {domain, local_part, remote_name} >>.

=item forwarders($domain)

The forwarders (catch-alls included) of one domain, or of all when C<$domain> is undef.

=item delete_forwarder($domain, $local_part)

Returns 1. C<< delete_forwarder($domain, $Vmailsql::CATCH_ALL) >> removes the catch-all.

=back

=head2 Domain aliases

=over 4

=item add_alias($alias, $domain)

Makes C<$alias> a second name for C<$domain>. Returns 1.

=item aliases($domain)

C<< {alias, domain} >> hashrefs, for one domain or all when C<$domain> is undef.

=item delete_alias($alias)

Returns 1.

=back

=head2 Control-panel sessions

=over 4

=item create_session($domain)

Starts a session (replacing any previous one) and returns its token (64 hex digits; the
database keeps only a hash of it).

=item validate_session($domain, $token)

Returns 1 and extends the session; dies with C<auth_failed> for an unknown, wrong or expired
session.

=item destroy_session($domain)

Ends the session (none is not an error). Returns 1.

=item expire_sessions()

Deletes expired sessions; returns how many.

=item count_signin_attempt($subject, $window_seconds)

Counts one sign-in attempt against C<$subject> (the control panel uses C<domain:E<lt>nameE<gt>>
and C<client:E<lt>addressE<gt>>) and returns its attempts in the current window, this one
included. The first attempt opens a window of C<$window_seconds>; the first one after it starts
again at 1. Counted in the database (table C<signin_failure>), so every process sees them.

=item signin_attempts($subject, $window_seconds)

The attempts counted in C<$subject>'s current window, without counting one.

=item clear_signin_attempts($subject)

Forgets C<$subject>'s attempts (after a successful sign-in). Returns 1.

=back

=head2 Replicas

=over

=item read_from_primary()

Sends this handle's lookups to the primary (C<database>) from now on, never to the configured
C<replicas>; the admin scripts and the control panel do this, as administration must see what
was just written. Returns 1.

=back

=head2 Audit log

Every change writes one record in its own transaction (see the README's "Audit log").

=over

=item set_actor($actor, $origin)

Names who makes this handle's changes (default C<unix:> and the process's user) and from where
(default C<local>); the control panel passes C<domain:NAME> and the client address.

=item create_audit_table()

Creates the C<audit_log> table when the database lacks it.

=item audit_log(domain => $d, since => $epoch, until => $epoch, action => $a, actor => $who, limit => $n)

The records, oldest first, as hash references with C<id at when actor origin domain object name
action before after outcome>; all arguments optional. In scalar context, their number.

=back

=head2 Library information (functions)

=over 4

=item Vmailsql::version()

The library's version (C<vmailsql_version()>).

=item Vmailsql::result_str($code)

The static description of a result code.

=item Vmailsql::last_error()

This thread's last library error message (the bindings already put it into every
L<Vmailsql::Error>).

=back

=head1 CONSTANTS

Exportable (C<use Vmailsql qw(:codes)>): the result codes C<VMAILSQL_OK> (0),
C<VMAILSQL_NOT_FOUND>, C<VMAILSQL_AUTH_FAILED>, C<VMAILSQL_INVALID_INPUT>,
C<VMAILSQL_CONFLICT>, C<VMAILSQL_LIMIT_EXCEEDED>, C<VMAILSQL_TEMPORARY>,
C<VMAILSQL_INTERNAL>, C<VMAILSQL_PANIC>, C<VMAILSQL_NULL_ARGUMENT> (9),
C<VMAILSQL_UNSAFE_DATA> (10); also
C<VMAILSQL_UNLIMITED> and C<VMAILSQL_KEEP> (the C ABI's C<max_popbox> markers, which the
named-argument methods handle for you) and C<$CATCH_ALL>.

=head1 SEE ALSO

L<Vmailsql::Error>, L<DomainAdminConfig>, the admin scripts C<vmail-*> (each has C<--help>),
C<docs/perl.md>, C<docs/c-api.md>, C<include/vmailsql.h>.

=head1 LICENSE

GPL-2.0-or-later, like vmail-sql.

=cut
