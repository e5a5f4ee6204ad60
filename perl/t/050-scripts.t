# Every vmail-* script, run as a program against SQLite and MariaDB: what it changes (checked
# through the API), what it prints, its messages and exit codes, and that rejected commands
# leave every table as it was.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use VmailsqlTest;

use Vmailsql;

my @scripts = map { (split m{/})[-1] } sort glob "$FindBin::Bin/../scripts/vmail-*";
cmp_ok(scalar @scripts, '>=', 15, scalar(@scripts) . ' scripts');
my %ran;    # backend => script => times run

for my $b (backends()) {
    subtest $b->{name} => sub { scripts_on($b) };
    is_deeply([ sort grep { $ran{ $b->{name} }{$_} } @scripts ], \@scripts,
        "every script ran against $b->{name}");
}

# Arguments each script accepts (it gets as far as opening the configuration).
my %valid = (
    'vmail-adddomain'      => [qw(--path /x --unix-user u --no-password a.example)],
    'vmail-deldomain'      => ['a.example'],
    'vmail-listdomains'    => [],
    'vmail-addpopbox'      => ['--password-stdin', 'u@a.example'],
    'vmail-delpopbox'      => ['u@a.example'],
    'vmail-listpopboxes'   => ['a.example'],
    'vmail-addforwarder'   => ['u@a.example', 't@b.example'],
    'vmail-delforwarder'   => ['u@a.example'],
    'vmail-listforwarders' => [],
    'vmail-setcatchall'    => ['a.example', 't@b.example'],
    'vmail-addalias'       => ['b.example', 'a.example'],
    'vmail-delalias'       => ['b.example'],
    'vmail-listaliases'    => [],
    'vmail-passwd'         => ['--password-stdin', 'u@a.example'],
    'vmail-domainpasswd'   => ['--password-stdin', 'a.example'],
);

subtest 'help, usage and configuration' => sub {
    for my $s (@scripts) {
        my $r = run_script($s, ['--help']);
        is($r->{exit}, 0, "$s --help: exit 0");
        like($r->{out}, qr/\bNAME\s+\Q$s\E - .+SYNOPSIS.+EXIT STATUS/s, "$s --help: NAME, SYNOPSIS, EXIT STATUS");
        like($r->{out}, qr/--config/, "$s --help documents --config");
        $r = run_script($s, ['--no-such-option']);
        is($r->{exit}, 2, "$s: an unknown option exits 2");
        like($r->{err}, qr/^\Q$s\E: Unknown option: no-such-option\nUsage:/m, "$s: ... with the usage");
        ok($valid{$s}, "$s: has sample arguments in this test") or next;
        $r = run_script($s, ['--config', tmpdir() . '/missing.conf', @{ $valid{$s} }], stdin => "pw\n");
        is($r->{exit}, 78, "$s: a missing configuration file exits 78");
        like($r->{err}, qr/^\Q$s\E: cannot read config file \S+missing\.conf/, "$s: ... and says so");
    }
    # No script takes a password as an option or an argument.
    for my $s (@scripts) {
        my $src = do { local (@ARGV, $/) = "$FindBin::Bin/../scripts/$s"; <> };
        unlike($src, qr/['"][\w-]*pass\w*=s/, "$s has no option taking a password");
    }
    my $r = run_script('vmail-passwd', ['--password', 'secret', 'alice@example.org']);
    is($r->{exit}, 2, 'vmail-passwd --password secret: refused as an unknown option');
};

done_testing;

sub scripts_on {
    my $b = shift;
    my $vm = open_backend($b);
    my $conf = write_config($b);
    is((stat $conf)[2] & 07777, 0600, 'the configuration file is mode 0600')
        if $b->{password};
    my $name = $b->{name};

    # Runs a script with --config; checks exit code, stderr and (when given) stdout.
    my $run = sub {
        my ($script, $args, %want) = @_;
        $ran{$name}{$script}++;
        my $r = run_script($script, ['--config', $conf, @$args], stdin => $want{stdin}, env => $want{env});
        my $what = join ' ', $script, @$args;
        is($r->{exit}, $want{exit} // 0, "$what: exit " . ($want{exit} // 0))
            or diag("stderr: $r->{err}");
        if (defined $want{err}) {
            like($r->{err}, qr/^\Q$script\E: $want{err}\n\z/s, "$what: says " . $want{err});
        } else {
            is($r->{err}, '', "$what: nothing on stderr");
        }
        is($r->{out}, $want{out}, "$what: output") if defined $want{out};
        return $r;
    };
    # Runs a command that must fail and checks that no table changed.
    my $refused = sub {
        my $before = snapshot($vm);
        my $r = $run->(@_);
        is_deeply(snapshot($vm), $before, "$_[0] @{$_[1]}: the database is unchanged");
        return $r;
    };

    # ---- domains ----
    $run->('vmail-adddomain', [qw(--path /var/mail/example.org --unix-user vmail --max-popbox 2
        --password-stdin Example.ORG)], stdin => "domain-pw\n", out => '');
    ok($vm->authenticate_domain('example.org', 'domain-pw'), 'the domain password from stdin works');
    $run->('vmail-adddomain', [qw(--path /var/mail/other --unix-user 1001 --no-password other.example)]);
    ok(!defined $vm->domain('other.example')->{password_hash}, '--no-password: no password');
    $run->('vmail-listdomains', [], out => "example.org\tvmail\t/var/mail/example.org\t2\n"
        . "other.example\t1001\t/var/mail/other\tunlimited\n");
    $run->('vmail-listdomains', ['other.example'], out => "other.example\t1001\t/var/mail/other\tunlimited\n");
    $run->('vmail-listdomains', ['nosuch.example'], exit => 1, err => 'no such domain nosuch.example', out => '');

    $refused->('vmail-adddomain', [qw(--path /srv/x --unix-user vmail --no-password example.org)],
        exit => 3, err => 'domain example.org already exists');
    $refused->('vmail-adddomain', [qw(--unix-user vmail --no-password new.example)],
        exit => 2, err => "--path is required\nUsage:.*");
    $refused->('vmail-adddomain', [qw(--path /srv/x --unix-user vmail --max-popbox many --no-password new.example)],
        exit => 2, err => "--max-popbox many is not a number or 'unlimited'\nUsage:.*");
    $refused->('vmail-adddomain', [qw(--path relative --unix-user vmail --no-password new.example)],
        exit => 2, err => 'domain path "relative" must be absolute');
    $refused->('vmail-adddomain', [qw(--path /srv/x --unix-user vmail new.example)],
        exit => 2, err => 'standard input is not a terminal: pipe the password with --password-stdin');
    $refused->('vmail-adddomain', [qw(--path /srv/x --unix-user vmail --password-stdin new.example)],
        stdin => "\n", exit => 2, err => 'empty password');

    # ---- popboxes ----
    $run->('vmail-addpopbox', ['--password-stdin', 'Alice@example.org'], stdin => "alice-pw\n");
    is($vm->authenticate('alice@example.org', 'alice-pw')->{path}, '/var/mail/example.org/alice',
        'the new popbox logs in and resolves');
    $run->('vmail-addpopbox', ['--password-stdin', '--mbox', 'bob.mbox', 'bob@example.org'], stdin => "bob-password\r\n");
    ok($vm->authenticate('bob@example.org', 'bob-password'), 'a CRLF line ending is not part of the password');
    $refused->('vmail-addpopbox', ['--password-stdin', 'carol@example.org'], stdin => "carol-pw\n",
        exit => 3, err => 'domain example.org already has its maximum of 2 popboxes');
    $refused->('vmail-addpopbox', ['--password-stdin', 'dave@other.example'], stdin => "seven-c\n",
        exit => 2, err => 'a new password must have at least 8 characters \(password_min_length\)');
    $refused->('vmail-addpopbox', ['--password-stdin', 'no-at-sign'], stdin => "long-enough\n",
        exit => 2, err => 'no-at-sign is not an address of the form local@domain');
    $refused->('vmail-addpopbox', ['--password-stdin', 'a%b@other.example'], stdin => "long-enough\n",
        exit => 2, err => q{popbox name "a%b" contains '%', which splits POP3 logins});
    $refused->('vmail-addpopbox', ['--password-stdin', '--mbox', '../x', 'evil@other.example'], stdin => "long-enough\n",
        exit => 2, err => 'mbox_name "../x" must be a relative path that stays inside the domain path');
    $refused->('vmail-addpopbox', ['--password-stdin', 'x@nosuch.example'], stdin => "long-enough\n",
        exit => 1, err => 'no such domain nosuch.example');
    $refused->('vmail-addpopbox', ['--password-stdin', 'dave@other.example'], stdin => '',
        exit => 2, err => 'no password on standard input');
    $run->('vmail-listpopboxes', ['example.org'], out => "alice\@example.org\talice\nbob\@example.org\tbob.mbox\n");
    $run->('vmail-listpopboxes', [], out => "alice\@example.org\talice\nbob\@example.org\tbob.mbox\n");
    $run->('vmail-listpopboxes', ['other.example'], out => '');
    $run->('vmail-listpopboxes', ['nosuch.example'], exit => 1, err => 'no such domain nosuch.example');

    # ---- passwords ----
    $run->('vmail-passwd', ['--password-stdin', 'alice@example.org'], stdin => "alice-pw-2\n");
    ok($vm->authenticate('alice@example.org', 'alice-pw-2'), 'vmail-passwd set the password');
    $refused->('vmail-passwd', ['--old', '--password-stdin', 'alice@example.org'], stdin => "wrong\nalice-pw-3\n",
        exit => 4, err => 'authentication failed');
    ok($vm->authenticate('alice@example.org', 'alice-pw-2'), '... and alice-pw-2 still works');
    $run->('vmail-passwd', ['--old', '--password-stdin', 'alice@example.org'], stdin => "alice-pw-2\nalice-pw-3\n");
    ok($vm->authenticate('alice@example.org', 'alice-pw-3'), 'vmail-passwd --old with the right password');
    $refused->('vmail-passwd', ['--password-stdin', 'carol@example.org'], stdin => "long-enough\n",
        exit => 1, err => 'no popbox carol@example.org');
    $refused->('vmail-passwd', ['alice@example.org'], exit => 2,
        err => 'standard input is not a terminal: pipe the password with --password-stdin');
    $run->('vmail-domainpasswd', ['--password-stdin', 'example.org'], stdin => "domain-pw-2\n");
    ok($vm->authenticate_domain('example.org', 'domain-pw-2'), 'vmail-domainpasswd set the password');
    $run->('vmail-domainpasswd', ['--password-stdin', 'other.example'], stdin => "other-pw\n");
    ok($vm->authenticate_domain('other.example', 'other-pw'), 'vmail-domainpasswd gives a domain its first password');
    $refused->('vmail-domainpasswd', ['--password-stdin', 'nosuch.example'], stdin => "long-enough\n",
        exit => 1, err => 'no such domain nosuch.example');

    # ---- forwarders and the catch-all ----
    $run->('vmail-addforwarder', ['info@example.org', 'alice@example.org', 'boss@elsewhere.example']);
    is_deeply($vm->resolve('info@example.org')->{targets}, ['alice@example.org', 'boss@elsewhere.example'],
        'the forwarder resolves to both targets');
    $refused->('vmail-addforwarder', ['info@example.org', 'x@elsewhere.example'],
        exit => 3, err => 'forwarder info@example.org already exists');
    $run->('vmail-addforwarder', ['--replace', 'info@example.org', 'bob@example.org,']);
    is_deeply($vm->resolve('info@example.org')->{targets}, ['bob@example.org'], '--replace changed it');
    $refused->('vmail-addforwarder', ['--replace', 'sales@example.org', 'bob@example.org'],
        exit => 1, err => 'no forwarder sales@example.org');
    $refused->('vmail-addforwarder', ['sales@example.org', 'not an address'],
        exit => 2, err => 'forward target "not an address" is not local@domain');
    $refused->('vmail-addforwarder', ['sales@example.org'], exit => 2, err => "missing arguments\nUsage:.*");
    $refused->('vmail-addforwarder', ['loop@example.org', 'loop@example.org'],
        exit => 2, err => 'forwarding loop@example.org to loop@example.org would loop');
    # Arguments and passwords are UTF-8 text: decoded before they reach the library, and
    # printed as UTF-8 again.
    $run->('vmail-addforwarder', ["umlaut\@example.org", "j\xc3\xbcrgen\@elsewhere.example"]);
    is($vm->forwarder('example.org', 'umlaut')->{remote_name}, "j\x{fc}rgen\@elsewhere.example",
        'a UTF-8 argument is stored as its characters, not encoded twice');
    $run->('vmail-listforwarders', ['example.org'], out => "info\@example.org\tbob\@example.org\n"
        . "umlaut\@example.org\tj\xc3\xbcrgen\@elsewhere.example\n");
    $refused->('vmail-addforwarder', ["bad\@example.org", "j\xfcrgen\@elsewhere.example"],
        exit => 2, err => 'an argument is not UTF-8 text');
    $run->('vmail-delforwarder', ['umlaut@example.org']);
    $run->('vmail-domainpasswd', ['--password-stdin', 'other.example'], stdin => "p\xc3\xa4ssw\xc3\xb6rd\n");
    ok($vm->authenticate_domain('other.example', "p\x{e4}ssw\x{f6}rd"),
        'a UTF-8 password from stdin is the text it spells');
    $refused->('vmail-domainpasswd', ['--password-stdin', 'other.example'], stdin => "p\xe4ss\n",
        exit => 2, err => 'the password is not UTF-8 text');
    $run->('vmail-setcatchall', ['example.org', 'postmaster@elsewhere.example']);
    is($vm->resolve('whoever@example.org')->{rule}, 'catch-all', 'the catch-all answers');
    $run->('vmail-listforwarders', ['example.org'], out => "_default_\@example.org\tpostmaster\@elsewhere.example\n"
        . "info\@example.org\tbob\@example.org\n");
    $run->('vmail-listforwarders', [], out => "_default_\@example.org\tpostmaster\@elsewhere.example\n"
        . "info\@example.org\tbob\@example.org\n");
    $run->('vmail-listforwarders', ['nosuch.example'], exit => 1, err => 'no such domain nosuch.example');
    $refused->('vmail-setcatchall', ['example.org'], exit => 2, err => "missing target address\nUsage:.*");
    $refused->('vmail-setcatchall', ['nosuch.example', 'x@elsewhere.example'],
        exit => 1, err => 'no such domain nosuch.example');
    $run->('vmail-setcatchall', ['--remove', 'example.org']);
    ok(!eval { $vm->resolve('whoever@example.org') }, 'the catch-all is gone');
    $refused->('vmail-setcatchall', ['--remove', 'example.org'], exit => 1,
        err => 'no forwarder _default_@example.org');
    $run->('vmail-delforwarder', ['info@example.org']);
    $refused->('vmail-delforwarder', ['info@example.org'], exit => 1, err => 'no forwarder info@example.org');
    $run->('vmail-listforwarders', [], out => '');

    # ---- aliases ----
    $run->('vmail-addalias', ['example.net', 'example.org']);
    is($vm->resolve('alice@example.net')->{domain}, 'example.org', 'the alias acts as its domain');
    $run->('vmail-listaliases', [], out => "example.net\texample.org\n");
    $run->('vmail-listaliases', ['example.org'], out => "example.net\texample.org\n");
    $run->('vmail-listaliases', ['other.example'], out => '');
    $refused->('vmail-addalias', ['example.net', 'other.example'], exit => 3, err => '.*example\.net.*');
    $refused->('vmail-addalias', ['new.example', 'nosuch.example'], exit => 1, err => 'no such domain nosuch.example');
    $refused->('vmail-addalias', ['example.org', 'example.org'], exit => 2, err => 'a domain cannot be an alias of itself');
    $run->('vmail-delalias', ['example.net']);
    $refused->('vmail-delalias', ['example.net'], exit => 1, err => '.*example\.net.*');

    # ---- deleting ----
    $run->('vmail-addalias', ['example.com', 'example.org']);
    $refused->('vmail-deldomain', ['example.org'], exit => 3,
        err => 'domain example.org still has 2 popboxes, 1 alias; use --force to delete them too');
    $run->('vmail-delpopbox', ['bob@example.org']);
    $refused->('vmail-delpopbox', ['bob@example.org'], exit => 1, err => 'no popbox bob@example.org');
    $run->('vmail-deldomain', ['--force', 'example.org']);
    is_deeply([ map { $_->{name} } $vm->domains ], ['other.example'], 'the domain is gone');
    is_deeply([ $vm->popboxes(undef), $vm->aliases(undef) ], [], 'with its popboxes and aliases');
    $run->('vmail-deldomain', ['other.example']);
    $refused->('vmail-deldomain', ['other.example'], exit => 1, err => 'no such domain other.example');
    $run->('vmail-listdomains', [], out => '');

    # ---- configuration ----
    my $r = run_script('vmail-listdomains', [], env => { VMAILSQL_CONFIG => $conf });
    is_deeply([ $r->{exit}, $r->{out}, $r->{err} ], [0, '', ''], 'VMAILSQL_CONFIG is the default configuration');
    $r = run_script('vmail-listdomains', ['--config', tmpdir() . '/missing.conf']);
    is($r->{exit}, 78, 'a missing configuration file exits 78');
    like($r->{err}, qr/^vmail-listdomains: cannot read config file .*missing\.conf/, '... saying so');
    if ($b->{password}) {
        # (A made-up password: the file is refused before any connection is tried, and a
        # real one never goes into a file others can read, even in a test.)
        (my $url = $b->{url}) =~ s/:\Q$b->{password}\E\@/:made-up-pw\@/;
        my $open = tmpdir() . '/readable.conf';
        open my $fh, '>', $open or die $!;
        print $fh "database = $url\n";
        close $fh;
        chmod 0644, $open;
        $r = run_script('vmail-listdomains', ['--config', $open]);
        is($r->{exit}, 78, 'a configuration with a password readable by others exits 78');
        like($r->{err}, qr/mode 0644/, '... naming the mode');
        unlike($r->{err}, qr/made-up-pw/, '... without showing the password');
        unlink $open;

        # The database is down: temporary, exit 75 (the socket of a server that is not there).
        (my $down = $b->{url}) =~ s/socket=.*/socket=\/nonexistent\/mysqld.sock/;
        my $dconf = write_config({ url => $down }, connect_timeout => 2);
        $r = run_script('vmail-listdomains', ['--config', $dconf]);
        is($r->{exit}, 75, 'database down: exit 75');
        like($r->{err}, qr/try again later/, '... try again later');
        $r = run_script('vmail-addpopbox', ['--config', $dconf, '--password-stdin', 'x@example.org'], stdin => "x\n");
        is($r->{exit}, 75, 'database down while adding: exit 75');
    }
}
