# Passwords typed at a terminal: asked twice, never echoed, a mismatch changes nothing. The
# scripts run on a real pseudo-terminal (t/lib/pty-run.py, Python's pty module).
use strict;
use warnings;
use Test::More;
use FindBin;
use JSON::PP ();
use lib "$FindBin::Bin/lib";
use VmailsqlTest;

use Vmailsql;

my $python = (grep { -x "$_/python3" } split /:/, $ENV{PATH} // '')[0]
    or BAIL_OUT('python3 is required for the terminal tests (apt-get install python3)');
my $perl_dir = "$FindBin::Bin/..";

my ($b) = grep { $_->{name} eq 'sqlite' } backends();
my $vm = open_backend($b);
my $conf = write_config($b);
$vm->add_domain(name => 'example.org', path => '/var/mail/example.org', unix_user => 'vmail');
$vm->add_popbox('example.org', 'alice', 'alice-pw', undef);

# Runs a script on a terminal, answering prompts; returns (exit code, what the terminal showed).
sub at_terminal {
    my ($dialogue, $script, @args) = @_;
    local $ENV{PTY_DIALOGUE} = JSON::PP::encode_json($dialogue);
    my @cmd = ("$python/python3", "$FindBin::Bin/lib/pty-run.py", $^X, "-I$perl_dir/blib/lib",
        "-I$perl_dir/blib/arch", script_path($script), '--config', $conf, @args);
    open my $fh, '-|', @cmd or die "pty-run: $!";
    my $shown = do { local $/; <$fh> } // '';
    close $fh;
    return ($? >> 8, $shown);
}

my ($exit, $shown) = at_terminal([ ['New password for alice@example.org: ', 'Terminal-pw-1'],
    ['Retype new password for alice@example.org: ', 'Terminal-pw-1'] ], 'vmail-passwd', 'alice@example.org');
is($exit, 0, 'vmail-passwd at a terminal: exit 0') or diag($shown);
like($shown, qr/New password for alice\@example\.org: .*Retype new password for alice\@example\.org: /s,
    'asked twice');
unlike($shown, qr/Terminal-pw-1/, 'the password was never echoed');
ok($vm->authenticate('alice@example.org', 'Terminal-pw-1'), 'the typed password is set');

my $before = snapshot($vm);
($exit, $shown) = at_terminal([ ['New password', 'first-try'], ['Retype new password', 'second-try'] ],
    'vmail-passwd', 'alice@example.org');
is($exit, 2, 'two different passwords: exit 2');
like($shown, qr/vmail-passwd: the two passwords differ; nothing changed/, '... saying so');
unlike($shown, qr/first-try|second-try/, 'neither was echoed');
is_deeply(snapshot($vm), $before, 'nothing changed');

($exit, $shown) = at_terminal([ ['Old password for alice@example.org: ', 'Terminal-pw-1'],
    ['New password', 'Terminal-pw-2'], ['Retype new password', 'Terminal-pw-2'] ],
    'vmail-passwd', '--old', 'alice@example.org');
is($exit, 0, 'vmail-passwd --old at a terminal') or diag($shown);
unlike($shown, qr/Terminal-pw/, 'no password echoed');
ok($vm->authenticate('alice@example.org', 'Terminal-pw-2'), 'changed');

($exit, $shown) = at_terminal([ ['Old password', 'wrong'], ['New password', 'x-password'], ['Retype new password', 'x-password'] ],
    'vmail-passwd', '--old', 'alice@example.org');
is($exit, 4, 'a wrong old password at a terminal: exit 4');
like($shown, qr/vmail-passwd: authentication failed/, '... saying so');

($exit, $shown) = at_terminal([ ['New password for domain new.example: ', 'Dom-pw-123'],
    ['Retype new password for domain new.example: ', 'Dom-pw-123'] ],
    'vmail-adddomain', '--path', '/var/mail/new', '--unix-user', 'vmail', 'new.example');
is($exit, 0, 'vmail-adddomain asks for the administrator password') or diag($shown);
unlike($shown, qr/Dom-pw/, 'not echoed');
ok($vm->authenticate_domain('new.example', 'Dom-pw-123'), 'and sets it');

($exit, $shown) = at_terminal([ ['New password for bob@example.org: ', 'Bob-pw-123'], ['Retype', 'Bob-pw-123'] ],
    'vmail-addpopbox', 'bob@example.org');
is($exit, 0, 'vmail-addpopbox at a terminal') or diag($shown);
ok($vm->authenticate('bob@example.org', 'Bob-pw-123'), 'the popbox has the typed password');

($exit, $shown) = at_terminal([ ['New password for domain example.org: ', 'Dom-pw-234'], ['Retype', 'Dom-pw-234'] ],
    'vmail-domainpasswd', 'example.org');
is($exit, 0, 'vmail-domainpasswd at a terminal') or diag($shown);
ok($vm->authenticate_domain('example.org', 'Dom-pw-234'), 'the domain has the typed password');

# After the script the terminal echoes again: the script restored its settings. The same
# terminal runs the script and then `stty -a`, which lists "-echo" when echo is off.
{
    local $ENV{PTY_DIALOGUE} = JSON::PP::encode_json([ ['New password', 'Echo-pw-123'], ['Retype', 'Echo-pw-123'] ]);
    open my $fh, '-|', "$python/python3", "$FindBin::Bin/lib/pty-run.py", 'sh', '-c',
        '"$@"; echo "script exit $?"; stty -a', 'sh', $^X, "-I$perl_dir/blib/lib", "-I$perl_dir/blib/arch",
        script_path('vmail-passwd'), '--config', $conf, 'alice@example.org'
        or die "pty-run: $!";
    my $shown = do { local $/; <$fh> } // '';
    close $fh;
    like($shown, qr/script exit 0/, 'vmail-passwd ran') or diag($shown);
    like($shown, qr/(?:^|[\s;])echo(?:[\s;]|$)/m, 'echo is on again afterwards');
    unlike($shown, qr/(?:^|[\s;])-echo(?:[\s;]|$)/m, 'and not left off');
    unlike($shown, qr/Echo-pw/, 'the password was not echoed');
}

done_testing;
