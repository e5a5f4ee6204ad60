# The whole API on SQLite and on a private MariaDB: schema, domains, popboxes, forwarders
# (catch-all included), aliases, resolution, POP3/APOP/domain authentication, passwords,
# sessions, fork.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use VmailsqlTest;

use Vmailsql qw(:codes);

my $APOP_TS     = '<1896.697170952@dbc.mtview.ca.us>';
my $APOP_DIGEST = 'c4c9334bac560ecc979e58001b3e22fb';    # "tanstaaf", RFC 1939

sub kind_of(&) { my $e = &error_of(shift); return ref $e ? $e->kind : defined $e ? "perl: $e" : 'lived' }

for my $b (backends()) {
    subtest $b->{name} => sub { api($b) };
}

# Password schemes, without a handle (legacy-contract.md test vectors).
subtest 'passwords' => sub {
    my %secret = (
        '5ebe2294ecd0e0f08eab7690d2a6ee69'                 => 'bare MD5 hex',
        '{md5}5EBE2294ECD0E0F08EAB7690D2A6EE69'            => 'MD5 hex, upper case',
        '{md5}Xr4ilOzQ4PCOq3aQ0qbuaQ=='                    => 'MD5 base64',
        '{sha1}e5e9fa1ba31ecd1ae84f75caaa474f3a663f05f4'   => 'SHA1',
        '{crypt}abNANd1rDfiNc'                             => 'DES crypt',
        '{crypt_md5}$1$abcdefgh$cHJi5PXp/ki/ktXzqlk6I1'    => 'MD5-crypt',
        '{crypt}$6$saltsaltsaltsalt$ph0yGsyjzqdeFaon7.gJZo8eAG5/rj9/JdzOu1Rl7dKzBYg3xgvl7T2VQ2Rt81bc5AXkdA54r0p8QvC1omD6R1' => 'SHA-512-crypt',
        '{mysql}428567f408994404'                          => 'old MySQL',
        '{plaintext}secret'                                => 'plaintext',
    );
    for my $stored (sort keys %secret) {
        ok(Vmailsql->verify_password($stored, 'secret'), "$secret{$stored}: right password");
        ok(!Vmailsql->verify_password($stored, 'Secret'), "$secret{$stored}: wrong password");
    }
    ok(Vmailsql->verify_password('{mysql}428567f408994404', 'sec ret'), 'old MySQL skips spaces');
    ok(!Vmailsql->verify_password('{nosuch}secret', 'secret'), 'unknown scheme: false');
    ok(!Vmailsql->verify_password('', 'secret'), 'empty stored value: false');

    ok(Vmailsql->verify_apop('{plaintext}tanstaaf', $APOP_TS, $APOP_DIGEST), 'APOP digest');
    ok(Vmailsql->verify_apop('{plaintext}tanstaaf', $APOP_TS, uc $APOP_DIGEST), 'APOP digest, upper case');
    ok(!Vmailsql->verify_apop('{plaintext}tanstaaF', $APOP_TS, $APOP_DIGEST), 'APOP, wrong password');
    ok(!Vmailsql->verify_apop('{md5}' . 'a' x 32, $APOP_TS, $APOP_DIGEST), 'APOP needs plaintext');

    my $h = Vmailsql->hash_password('secret-pw');
    like($h, qr/^\{crypt\}\$6\$/, 'default scheme: {crypt} SHA-512-crypt');
    ok(Vmailsql->verify_password($h, 'secret-pw'), 'and it verifies');
    for my $scheme (qw(SHA256-CRYPT BLF-CRYPT ARGON2ID CRYPT_MD5 MD5 PLAINTEXT)) {
        my $made = Vmailsql->hash_password('secret-pw', $scheme);
        ok(Vmailsql->verify_password($made, 'secret-pw') && !Vmailsql->verify_password($made, 'x'),
            "$scheme: $made verifies");
    }
    is(kind_of { Vmailsql->hash_password('secret-pw', 'ROT13') }, 'invalid_input', 'unknown scheme');
    is(kind_of { Vmailsql->hash_password('') }, 'invalid_input', 'empty password');
    is(kind_of { Vmailsql->hash_password('seven-c', 'MD5') }, 'invalid_input',
        'without a handle, the default password_min_length (8)');

    # doveadm pw -s DIGEST-MD5 -u alice@example.org -p secret
    my $digest = '{DIGEST-MD5}543e1aec5d3614f03141652d6ada51b2';
    ok(Vmailsql->verify_password_user($digest, 'alice@example.org', 'secret'), 'DIGEST-MD5 with its user');
    ok(!Vmailsql->verify_password_user($digest, 'bob@example.org', 'secret'), 'DIGEST-MD5, another user');
    ok(!Vmailsql->verify_password_user($digest, 'alice@example.org', 'Secret'), 'DIGEST-MD5, wrong password');
    is(kind_of { Vmailsql->verify_password($digest, 'secret') }, 'invalid_input',
        'DIGEST-MD5 without a user: an error, not a wrong password');

    my $id = Vmailsql->identify_password('5ebe2294ecd0e0f08eab7690d2a6ee69');
    ok($id->{weak} && !$id->{plaintext} && length $id->{name}, "identify: $id->{name}, weak");
    $id = Vmailsql->identify_password('{plaintext}x');
    ok($id->{plaintext}, 'identify: plaintext');
    $id = Vmailsql->identify_password($h);
    ok(!$id->{weak}, "identify: $id->{name} is not weak");
    is(kind_of { Vmailsql->identify_password('{nosuch}x') }, 'invalid_input', 'identify: unknown');
};

done_testing;

sub api {
    my $b = shift;
    my $vm = Vmailsql->open_url($b->{url});
    is($vm->create_schema, 1, 'create_schema');
    is(kind_of { $vm->create_schema }, 'conflict', 'create_schema twice: conflict');
    my @tables = $vm->tables;
    ok((grep { $_ eq $_ } @tables) >= 4, "tables: @tables");
    is(scalar $vm->tables, scalar @tables, 'tables in scalar context: their number');
    ok((grep { $_ eq 'popbox' } @tables) && (grep { $_ eq 'domain_alias' } @tables),
        'the seed\'s table names');

    # ---- domains ----
    is($vm->add_domain(name => 'Example.ORG', path => '/var/mail/example.org', unix_user => 'vmail',
        password => 'admin-pw', max_popbox => 3), 1, 'add_domain');
    $vm->add_domain(name => 'other.example', path => '/var/mail/other', unix_user => '1001');
    my $d = $vm->domain('EXAMPLE.org');
    is($d->{name}, 'example.org', 'names are lower-cased');
    is_deeply([ @{$d}{qw(path unix_user max_popbox)} ], ['/var/mail/example.org', 'vmail', 3],
        'domain(): path, unix_user, max_popbox');
    ok(Vmailsql->verify_password($d->{password_hash}, 'admin-pw'), 'the admin password is hashed');
    my $o = $vm->domain('other.example');
    ok(!defined $o->{password_hash} && !defined $o->{max_popbox}, 'no password, no limit: undef');
    is_deeply([ map { $_->{name} } $vm->domains ], ['example.org', 'other.example'], 'domains() by name');
    is(scalar $vm->domains, 2, 'domains() in scalar context');
    is(kind_of { $vm->domain('nosuch.example') }, 'not_found', 'domain(): not_found');

    is($vm->change_domain('other.example', path => '/srv/mail/other'), 1, 'change_domain path');
    $o = $vm->domain('other.example');
    is_deeply([ @{$o}{qw(path unix_user max_popbox)} ], ['/srv/mail/other', '1001', undef],
        'only the path changed');
    $vm->change_domain('other.example', max_popbox => 7, unix_user => 'mail2');
    $o = $vm->domain('other.example');
    is_deeply([ @{$o}{qw(path unix_user max_popbox)} ], ['/srv/mail/other', 'mail2', 7], 'limit and user set');
    $vm->change_domain('other.example', max_popbox => undef);
    is($vm->domain('other.example')->{max_popbox}, undef, 'max_popbox => undef removes the limit');
    is(kind_of { $vm->change_domain('nosuch.example', path => '/x') }, 'not_found', 'change_domain: not_found');
    is(kind_of { $vm->change_domain('other.example', path => 'relative') }, 'invalid_input',
        'change_domain: relative path');

    is($vm->authenticate_domain('example.org', 'admin-pw'), 1, 'authenticate_domain');
    is(kind_of { $vm->authenticate_domain('example.org', 'nope') }, 'auth_failed', 'wrong admin password');
    is(kind_of { $vm->authenticate_domain('nosuch.example', 'admin-pw') }, 'auth_failed', 'unknown domain alike');
    is($vm->set_domain_password('example.org', 'admin-pw-2'), 1, 'set_domain_password');
    is($vm->authenticate_domain('example.org', 'admin-pw-2'), 1, 'the new admin password works');
    is(kind_of { $vm->authenticate_domain('example.org', 'admin-pw') }, 'auth_failed', 'the old one not');

    # ---- popboxes ----
    is($vm->add_popbox('example.org', 'Alice', 'alice-pw', undef), 1, 'add_popbox');
    is($vm->add_popbox('example.org', 'bob', 'bob-password', 'bob.mbox'), 1, 'add_popbox with an mbox name');
    my $p = $vm->popbox('example.org', 'alice');
    is_deeply([ @{$p}{qw(domain local_part mbox_name)} ], ['example.org', 'alice', 'alice'],
        'popbox(): mbox defaults to the local part');
    ok(Vmailsql->verify_password($p->{password_hash}, 'alice-pw'), 'popbox password hashed');
    is_deeply([ map { "$_->{local_part}:$_->{mbox_name}" } $vm->popboxes('example.org') ],
        ['alice:alice', 'bob:bob.mbox'], 'popboxes($domain)');
    is(scalar $vm->popboxes(undef), 2, 'popboxes(undef): all');
    is(kind_of { $vm->popbox('example.org', 'carol') }, 'not_found', 'popbox(): not_found');
    is($vm->add_popbox_record('example.org', 'apop', '{plaintext}tanstaaf', undef), 1,
        'add_popbox_record keeps a hash as given');
    is($vm->popbox('example.org', 'apop')->{password_hash}, '{plaintext}tanstaaf', '... exactly');
    is(kind_of { $vm->add_popbox('example.org', 'dave', 'popbox-pw', undef) }, 'limit_exceeded',
        'the fourth popbox of a domain with max_popbox 3');

    # ---- resolution and logins ----
    my $r = $vm->resolve('Alice@Example.ORG');
    is_deeply($r, { rule => 'popbox', domain => 'example.org', local_part => 'alice',
        path => '/var/mail/example.org/alice', domain_path => '/var/mail/example.org',
        unix_user => 'vmail' }, 'resolve: a popbox');
    is($vm->resolve('bob@example.org')->{path}, '/var/mail/example.org/bob.mbox', 'resolve: the mbox name');
    is(kind_of { $vm->resolve('nobody@example.org') }, 'not_found', 'resolve: nobody, no catch-all');
    is(kind_of { $vm->resolve('alice@nosuch.example') }, 'not_found', 'resolve: not a local domain');
    is(kind_of { $vm->resolve('no-at-sign') }, 'invalid_input', 'resolve: not an address');

    my $m = $vm->authenticate('alice@example.org', 'alice-pw');
    is_deeply($m, { domain => 'example.org', local_part => 'alice', path => '/var/mail/example.org/alice',
        domain_path => '/var/mail/example.org', unix_user => 'vmail' }, 'authenticate: the mailbox');
    is($vm->authenticate('alice%example.org', 'alice-pw')->{local_part}, 'alice', 'tpop3d separators');
    is(kind_of { $vm->authenticate('alice@example.org', 'bob-password') }, 'auth_failed', 'wrong password');
    is(kind_of { $vm->authenticate('carol@example.org', 'x') }, 'auth_failed', 'unknown user alike');
    is($vm->authenticate_apop('apop@example.org', $APOP_TS, $APOP_DIGEST)->{local_part}, 'apop',
        'authenticate_apop');
    is(kind_of { $vm->authenticate_apop('alice@example.org', $APOP_TS, $APOP_DIGEST) }, 'auth_failed',
        'APOP needs a plaintext password');
    my ($pm, $clear) = $vm->plaintext_credentials('apop@example.org');
    is_deeply([ $pm->{path}, $clear ], ['/var/mail/example.org/apop', 'tanstaaf'], 'plaintext_credentials');
    is(kind_of { $vm->plaintext_credentials('alice@example.org') }, 'auth_failed',
        'plaintext_credentials of a hashed password');
    is($vm->lookup_mailbox('bob@example.org')->{path}, '/var/mail/example.org/bob.mbox', 'lookup_mailbox');
    is(kind_of { $vm->lookup_mailbox('carol@example.org') }, 'not_found', 'lookup_mailbox: not_found');

    is($vm->set_popbox_password('example.org', 'alice', 'alice-pw-2'), 1, 'set_popbox_password');
    ok($vm->authenticate('alice@example.org', 'alice-pw-2'), 'the new password works');
    is($vm->change_popbox_password('alice@example.org', 'alice-pw-2', 'alice-pw-3'), 1, 'change_popbox_password');
    ok($vm->authenticate('alice@example.org', 'alice-pw-3'), 'the changed password works');
    is(kind_of { $vm->change_popbox_password('alice@example.org', 'alice-pw-2', 'x') }, 'auth_failed',
        'change_popbox_password with a wrong old password');
    like($vm->hash_password('pw-12345'), qr/^\{crypt\}\$6\$/, 'hash_password: the policy scheme');
    like($vm->hash_password('pw-12345', 'PLAINTEXT'), qr/^\{plaintext\}pw-12345$/i, 'hash_password with a scheme');

    # ---- forwarders and the catch-all ----
    is($vm->add_forwarder('example.org', 'info', 'alice@example.org, boss@elsewhere.example'), 1, 'add_forwarder');
    $r = $vm->resolve('INFO@example.org');
    is_deeply([ $r->{rule}, $r->{targets} ], ['forwarder', ['alice@example.org', 'boss@elsewhere.example']],
        'resolve: a forwarder and its targets');
    ok(!exists $r->{path}, 'no path keys for a forward');
    is_deeply($vm->forwarder('example.org', 'info'),
        { domain => 'example.org', local_part => 'info', remote_name => 'alice@example.org, boss@elsewhere.example' },
        'forwarder()');
    is(kind_of { $vm->add_forwarder('example.org', 'info', 'x@elsewhere.example') }, 'conflict', 'add twice');
    is($vm->change_forwarder('example.org', 'info', 'bob@example.org'), 1, 'change_forwarder');
    is_deeply($vm->resolve('info@example.org')->{targets}, ['bob@example.org'], 'changed');
    is(kind_of { $vm->change_forwarder('example.org', 'nobody', 'x@y.example') }, 'not_found',
        'change_forwarder: not_found');
    $vm->add_forwarder('example.org', 'bob', 'alice@example.org');
    is($vm->resolve('bob@example.org')->{rule}, 'forwarder', 'a forwarder shadows a popbox');

    is($vm->set_catch_all('example.org', 'postmaster@elsewhere.example'), 1, 'set_catch_all');
    $r = $vm->resolve('whoever@example.org');
    is_deeply([ $r->{rule}, $r->{targets} ], ['catch-all', ['postmaster@elsewhere.example']],
        'resolve: the catch-all');
    is($vm->resolve('alice@example.org')->{rule}, 'popbox', 'the catch-all never shadows a popbox');
    $vm->set_catch_all('example.org', 'other@elsewhere.example');
    is($vm->forwarder('example.org', $Vmailsql::CATCH_ALL)->{remote_name}, 'other@elsewhere.example',
        'set_catch_all replaces; it is the _default_ forwarder');
    is_deeply([ sort map { $_->{local_part} } $vm->forwarders('example.org') ], [qw(_default_ bob info)],
        'forwarders($domain), catch-all included');
    is(scalar $vm->forwarders(undef), 3, 'forwarders(undef)');

    # ---- aliases ----
    is($vm->add_alias('Example.NET', 'example.org'), 1, 'add_alias');
    is($vm->local_domain('example.net'), 'example.org', 'local_domain of an alias');
    is($vm->local_domain('EXAMPLE.ORG'), 'example.org', 'local_domain of a domain');
    is(kind_of { $vm->local_domain('nosuch.example') }, 'not_found', 'local_domain: not_found');
    $r = $vm->resolve('alice@example.net');
    is_deeply([ @{$r}{qw(rule domain path)} ], ['popbox', 'example.org', '/var/mail/example.org/alice'],
        'an alias acts as its target');
    is($vm->resolve_parts('Alice', 'example.net')->{path}, '/var/mail/example.org/alice', 'resolve_parts');
    is_deeply([ $vm->aliases('example.org') ], [ { alias => 'example.net', domain => 'example.org' } ],
        'aliases($domain)');
    is_deeply([ $vm->aliases('other.example') ], [], 'aliases of a domain without any');
    is(scalar $vm->aliases(undef), 1, 'aliases(undef)');

    # ---- sessions ----
    my $token = $vm->create_session('example.org');
    like($token, qr/^[0-9a-f]{64}$/, 'create_session: a 256-bit token');
    is($vm->validate_session('example.org', $token), 1, 'validate_session');
    is(kind_of { $vm->validate_session('example.org', 'f' x 64) }, 'auth_failed', 'a wrong token');
    is(kind_of { $vm->validate_session('other.example', $token) }, 'auth_failed', 'another domain');
    is($vm->destroy_session('example.org'), 1, 'destroy_session');
    is(kind_of { $vm->validate_session('example.org', $token) }, 'auth_failed', 'the session is over');
    is($vm->destroy_session('example.org'), 1, 'destroying no session is not an error');
    is(kind_of { $vm->create_session('nosuch.example') }, 'not_found', 'create_session: not_found');
    $token = $vm->create_session('example.org');
    $vm->set_domain_password('example.org', 'admin-pw-3');
    is(kind_of { $vm->validate_session('example.org', $token) }, 'auth_failed',
        'set_domain_password ends the session');
    is($vm->expire_sessions, 0, 'expire_sessions: nothing expired yet');

    # ---- sign-in throttle ----
    is($vm->signin_attempts('domain:example.org', 900), 0, 'signin_attempts: none yet');
    is($vm->count_signin_attempt('domain:example.org', 900), $_, "count_signin_attempt: $_")
        for 1 .. 3;
    is($vm->count_signin_attempt('client:192.0.2.1', 900), 1, 'subjects are counted apart');
    is($vm->signin_attempts('domain:example.org', 900), 3, 'signin_attempts counts none');
    is($vm->clear_signin_attempts('domain:example.org'), 1, 'clear_signin_attempts');
    is($vm->signin_attempts('domain:example.org', 900), 0, '... forgets them');
    is(kind_of { $vm->count_signin_attempt('', 900) }, 'invalid_input', 'an empty subject');
    is(kind_of { $vm->count_signin_attempt('domain:x', 0) }, 'invalid_input', 'a window of 0');
    is(kind_of { $vm->count_signin_attempt('domain:x', 2**33) }, 'invalid_input', 'a window too large');

    {
        my $conf = write_config($b, session_lifetime => 1);
        my $short = Vmailsql->open($conf);
        my $t = $short->create_session('other.example');
        sleep 2;
        is($short->expire_sessions, 1, 'expire_sessions deletes an expired session and counts it');
        is(kind_of { $short->validate_session('other.example', $t) }, 'auth_failed', 'it is gone');
    }

    # ---- fork: the child uses and frees its copy, the parent's connection survives ----
    my $before = snapshot($vm);
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my $ok = eval { $vm->resolve('alice@example.org')->{rule} eq 'popbox' };
        exit($ok ? 0 : 1);
    }
    waitpid $pid, 0;
    is($?, 0, 'a forked child resolves with the inherited handle');
    is_deeply(snapshot($vm), $before, 'the parent still reads after the child exited');

    # ---- deletions ----
    is($vm->delete_forwarder('example.org', 'info'), 1, 'delete_forwarder');
    is(kind_of { $vm->forwarder('example.org', 'info') }, 'not_found', 'gone');
    is(kind_of { $vm->delete_forwarder('example.org', 'info') }, 'not_found', 'delete twice');
    is($vm->delete_forwarder('example.org', $Vmailsql::CATCH_ALL), 1, 'delete the catch-all');
    is(kind_of { $vm->resolve('whoever@example.org') }, 'not_found', 'no catch-all any more');
    is($vm->delete_alias('example.net'), 1, 'delete_alias');
    is(kind_of { $vm->resolve('alice@example.net') }, 'not_found', 'the alias is gone');
    is(kind_of { $vm->delete_alias('example.net') }, 'not_found', 'delete_alias twice');
    is($vm->delete_popbox('example.org', 'alice'), 1, 'delete_popbox');
    is(kind_of { $vm->authenticate('alice@example.org', 'alice-pw-3') }, 'auth_failed', 'no login any more');
    is(kind_of { $vm->delete_popbox('example.org', 'alice') }, 'not_found', 'delete_popbox twice');
    is($vm->delete_domain('example.org'), 1, 'delete_domain');
    is_deeply([ map { $_->{name} } $vm->domains ], ['other.example'], 'only the other domain is left');
    is_deeply([ $vm->popboxes(undef), $vm->forwarders(undef), $vm->aliases(undef) ], [],
        'with the domain went its popboxes, forwarders and aliases');
    is(kind_of { $vm->delete_domain('example.org') }, 'not_found', 'delete_domain twice');

    # ---- the legacy schema: MariaDB only ----
    my ($fresh) = grep { $_->{name} eq $b->{name} } backends();
    my $legacy = Vmailsql->open_url($fresh->{url});
    if ($b->{name} eq 'sqlite') {
        is(kind_of { $legacy->create_schema_legacy }, 'invalid_input', 'no legacy schema on SQLite');
    } else {
        is($legacy->create_schema_legacy, 1, 'create_schema_legacy');
        $legacy->add_domain(name => 'legacy.example', path => '/var/mail/legacy', unix_user => 'vmail');
        $legacy->add_popbox('legacy.example', 'u', 'popbox-pw', undef);
        is($legacy->authenticate('u@legacy.example', 'popbox-pw')->{path}, '/var/mail/legacy/u',
            'the legacy schema works');
    }
}
