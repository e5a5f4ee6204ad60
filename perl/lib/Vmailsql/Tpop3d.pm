package Vmailsql::Tpop3d;

# tpop3d's auth-perl driver on libvmailsql: the subroutines tpop3d calls with one hash
# reference (the auth-other request keys) and whose hash reference it reads back (the
# auth-other reply keys). The same decisions, replies and log lines as the auth-other helper
# (examples/tpop3d-auth-other.c); docs/tpop3d.md shows the tpop3d.conf lines.

use strict;
use warnings;

our $VERSION = '0.1.0';

use Vmailsql;

my ($vm, $open_error);

# Opens the one handle every call uses (the library connects on first use and reconnects
# after failures). A configuration that cannot be read is remembered: every login is then
# refused with a logmsg saying why, instead of dying inside tpop3d.
sub init {
    my %arg = @_;
    undef $vm;
    undef $open_error;
    $vm = eval { Vmailsql->open($arg{config}) };
    $open_error = _text($@) unless $vm;
    return $vm ? 1 : 0;
}

sub pass {
    my $req = shift;
    return _guard(sub {
        my $login = _login($req);
        return _refuse('vmailsql: PASS request without %s', defined $login ? 'pass' : 'user')
            unless defined $login && defined $req->{pass};
        my $text = _text_login($login);
        return $text if ref $text;
        # tpop3d hands over the password's bytes, as it compared them: the bytes API.
        return _login_result($text, sub { $vm->authenticate_bytes($text, $req->{pass}) });
    });
}

sub apop {
    my $req = shift;
    return _guard(sub {
        my $login = _login($req);
        my $missing = !defined $login ? 'user'
            : !defined $req->{timestamp} ? 'timestamp'
            : !defined $req->{digest} ? 'digest' : undef;
        return _refuse('vmailsql: APOP request without %s', $missing) if $missing;
        my $text = _text_login($login);
        return $text if ref $text;
        return _login_result($text,
            sub { $vm->authenticate_apop($text, $req->{timestamp}, $req->{digest}) });
    });
}

# Called after a successful login; there is nothing to do.
sub onlogin {
    return { result => 'YES' };
}

# ---- internals ----

# Runs a driver body; a Perl error becomes result NO with a logmsg, never a die inside tpop3d.
sub _guard {
    my $body = shift;
    my $reply = eval {
        return _refuse('vmailsql: cannot read the configuration: %s', $open_error)
            if defined $open_error;
        init() unless $vm;
        return _refuse('vmailsql: cannot read the configuration: %s', $open_error) unless $vm;
        $body->();
    };
    return $reply if ref $reply eq 'HASH';
    return _refuse('vmailsql: internal error in Vmailsql::Tpop3d: %s', _text($@));
}

# The login as tpop3d passes it: local_part and domain when it split the login (which also
# covers append-domain), else user as typed, for the library to split.
sub _login {
    my $req = shift;
    return "$req->{local_part}\@$req->{domain}"
        if defined $req->{local_part} && defined $req->{domain} && length $req->{local_part};
    return $req->{user};
}

# tpop3d passes the login as bytes; the library takes text. Bytes that are not UTF-8 are
# refused here, with the login (made printable) in the logmsg.
sub _text_login {
    my $login = shift;
    my $text = $login;
    return $text if utf8::decode($text);
    return _refuse('vmailsql: login %s refused: not valid UTF-8', $login);
}

sub _login_result {
    my ($login, $call) = @_;
    my $m = eval { $call->() };
    return _accept($m, $login) if $m;
    my $e = $@;
    die $e unless ref $e && $e->isa('Vmailsql::Error');
    my $kind = $e->kind;
    return { result => 'NO' } if $kind eq 'auth_failed' || $kind eq 'not_found';
    return _refuse('vmailsql: login %s refused: %s', $login, $e->message)
        if $kind eq 'invalid_input';
    return _refuse('vmailsql: temporary failure, login %s refused (the client was told '
          . 'Authentication failed; it may retry later): %s', $login, $e->message)
        if $kind eq 'temporary';
    # Unsafe stored data, a bug, and codes this module does not know yet.
    my $what = substr($login, 0, 200) . ' (' . Vmailsql::result_str($e->code) . ')';
    return _refuse('vmailsql: cannot log in popbox %s, fix this row: %s', $what, $e->message);
}

sub _accept {
    my ($m, $login) = @_;
    my ($uid, $gid, $wrong) = _owner_ids($m->{unix_user});
    return _refuse('vmailsql: refusing popbox %s: %s (domain.unix_user)', $login, $wrong)
        if $wrong;
    my %reply = (result => 'YES', uid => $uid, gid => $gid, mailbox => $m->{path},
        mboxtype => 'bsd', domain => $m->{domain});
    utf8::encode($_) for values %reply;    # tpop3d reads bytes
    return \%reply;
}

# uid and gid of domain.unix_user (a name, or digits for a uid), or a reason to refuse. A
# numeric uid without a passwd entry gets the group of the same number.
sub _owner_ids {
    my $owner = shift;
    my ($uid, $gid);
    if ($owner =~ /\A[0-9]+\z/) {
        return (undef, undef, 'unix_user is not a usable uid') if $owner > 4294967295;
        $uid = 0 + $owner;
        my @pw = getpwuid $uid;
        $gid = @pw ? $pw[3] : $uid;
    }
    else {
        my @pw = getpwnam $owner;
        return (undef, undef, 'unix_user does not exist on this system') unless @pw;
        ($uid, $gid) = @pw[2, 3];
    }
    return (undef, undef, 'unix_user has uid 0') if $uid == 0;
    return ("$uid", "$gid", undef);
}

# result NO with a line for tpop3d's log (control characters and non-ASCII become '?', so a
# hostile login cannot forge log lines).
sub _refuse {
    my ($fmt, @arg) = @_;
    my $line = sprintf $fmt, map { defined $_ ? $_ : '' } @arg;
    utf8::encode($line) if utf8::is_utf8($line);
    $line =~ s/[^\x20-\x7e]/?/g;
    return { result => 'NO', logmsg => substr($line, 0, 599) };
}

sub _text {
    my $e = shift;
    my $text = ref $e && eval { $e->isa('Vmailsql::Error') } ? $e->message : "$e";
    $text =~ s/\s+\z//;
    return $text;
}

1;

__END__

=head1 NAME

Vmailsql::Tpop3d - tpop3d's auth-perl driver on libvmailsql

=head1 SYNOPSIS

  # tpop3d.conf (tpop3d built with --enable-auth-perl)
  auth-perl-enable: true
  auth-perl-start: do '/etc/tpop3d/vmailsql.pl' or die($@ || $!);
  auth-perl-pass: Vmailsql::Tpop3d::pass
  auth-perl-apop: Vmailsql::Tpop3d::apop
  auth-perl-onlogin: Vmailsql::Tpop3d::onlogin

  # /etc/tpop3d/vmailsql.pl (perl/tpop3d/tpop3d.pl in the source tree)
  use Vmailsql::Tpop3d;
  Vmailsql::Tpop3d::init(config => '/etc/vmailsql.conf');
  1;

=head1 DESCRIPTION

tpop3d calls each subroutine in scalar context with one hash reference holding the request
keys of its auth-other protocol (C<method>, C<user>, C<local_part>, C<domain>, C<pass>,
C<timestamp>, C<digest>, C<clienthost>, C<serverhost>) and reads back a hash reference:
C<< result => 'YES' >> with C<uid>, C<gid> (numbers, from C<domain.unix_user>), C<mailbox>
(the mbox path), C<< mboxtype => 'bsd' >> and C<domain>; or C<< result => 'NO' >>, with a
C<logmsg> when the log should say more than "authentication failed".

=over 4

=item init(config => $file)

Opens the library's handle once (C<$file> undef: C<$ENV{VMAILSQL_CONFIG}>, else
C</etc/vmailsql.conf>). Returns 1, or 0 when the configuration cannot be read; then every
login is refused with a logmsg naming the problem. The subroutines call it themselves when
it was never called.

=item pass($request)

Checks C<user> (or C<local_part>@C<domain> when tpop3d split the login) and C<pass> with
C<Vmailsql::authenticate>, by tpop3d's auth-mysql rules.

=item apop($request)

The same with C<timestamp> and C<digest> through C<Vmailsql::authenticate_apop> (only
C<{plaintext}> popboxes can use APOP).

=item onlogin($request)

Returns C<< { result => 'YES' } >>: nothing happens after a login.

=back

None of them dies: a wrong password or unknown user gives C<result NO>; a database that is
down, a popbox whose stored path or owner is unsafe, a login that is not UTF-8 and any
unexpected error give C<result NO> with a C<logmsg>. tpop3d has no "try again later" answer,
so during a database outage users see C<-ERR Authentication failed.> and the log says
"temporary failure".

=cut
