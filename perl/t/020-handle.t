# Handles and errors: opening, closing, DESTROY, the class check of the typemap, CLONE_SKIP,
# Vmailsql::Error objects, argument conversion (undef, NUL bytes, UTF-8), and a database that
# is down (temporary).
use strict;
use warnings;
use Config;
use Scalar::Util ();
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use VmailsqlTest;

use Vmailsql qw(:codes);
use DomainAdminConfig;

my $dir = tmpdir();
my $sqlite = { url => "sqlite://$dir/handle.db" };

subtest 'open from a configuration file' => sub {
    my $e = error_of { Vmailsql->open("$dir/missing.conf") };
    isa_ok($e, 'Vmailsql::Error');
    is($e->kind, 'not_found', 'missing file: not_found');
    is($e->code, VMAILSQL_NOT_FOUND, 'code VMAILSQL_NOT_FOUND');
    like($e->message, qr{\Q$dir/missing.conf\E}, 'the message names the file');
    is("$e", $e->message, 'stringifies to the message');
    ok(!$e->is_temporary, 'not temporary');

    my $conf = write_config($sqlite);
    is((stat $conf)[2] & 07777, 0600, 'test configuration files are written mode 0600');
    my $vm = Vmailsql->open($conf);
    isa_ok($vm, 'Vmailsql');
    ok($vm->create_schema, 'usable');
    {
        local $ENV{VMAILSQL_CONFIG} = $conf;
        my $vm2 = Vmailsql->open;
        is_deeply([ $vm2->tables ], [ $vm->tables ], 'open() with no file reads $VMAILSQL_CONFIG');
    }
    {
        local $DomainAdminConfig::config_file = $conf;
        my $vm3 = DomainAdminConfig::vmail();
        isa_ok($vm3, 'Vmailsql', 'DomainAdminConfig::vmail()');
        is_deeply([ $vm3->tables ], [ $vm->tables ], 'DomainAdminConfig::vmail() opens $config_file');
        is($vm3->read_from_primary, 1, 'read_from_primary (the admin handle already reads the primary)');
    }
    $e = error_of { DomainAdminConfig::vmail("$dir/missing.conf") };
    is($e && $e->kind, 'not_found', 'DomainAdminConfig::vmail($file) dies with a Vmailsql::Error');
    my $default = `$^X -I$FindBin::Bin/../blib/lib -I$FindBin::Bin/../blib/arch -MDomainAdminConfig -e 'print \$DomainAdminConfig::config_file'`;
    is($default, '/etc/vmailsql.conf', 'DomainAdminConfig default without VMAILSQL_CONFIG')
        unless defined $ENV{VMAILSQL_CONFIG};
    {
        local $ENV{VMAILSQL_CONFIG} = $conf;
        my $from_env = `$^X -I$FindBin::Bin/../blib/lib -I$FindBin::Bin/../blib/arch -MDomainAdminConfig -e 'print \$DomainAdminConfig::config_file'`;
        is($from_env, $conf, 'DomainAdminConfig default from VMAILSQL_CONFIG');
    }

    # A file holding a database password that others may read is refused.
    my $insecure = "$dir/insecure.conf";
    open my $fh, '>', $insecure or die $!;
    print $fh "database = mysql://vmail:secret\@localhost/vmail\n";
    close $fh;
    chmod 0644, $insecure;
    $e = error_of { Vmailsql->open($insecure) };
    is($e && $e->kind, 'invalid_input', 'a world-readable file with a password: invalid_input');
    like($e, qr/mode/, 'the message says why');
    unlike($e, qr/secret/, 'and never shows the password');

    open $fh, '>', "$dir/bad.conf" or die $!;
    print $fh "no_such_setting = 1\n";
    close $fh;
    $e = error_of { Vmailsql->open("$dir/bad.conf") };
    is($e && $e->kind, 'invalid_input', 'an unknown setting: invalid_input');
};

subtest 'open_url' => sub {
    my $e = error_of { Vmailsql->open_url('postgres://localhost/x') };
    is($e && $e->kind, 'invalid_input', 'an unsupported URL: invalid_input');
    is($e->code, VMAILSQL_INVALID_INPUT, 'with its code');
    $e = error_of { Vmailsql->open_url(undef) };
    is($e && $e->code, VMAILSQL_NULL_ARGUMENT, 'undef URL: the library reports a NULL argument');
    is($e->kind, 'invalid_input', '... of kind invalid_input');
    is(Vmailsql::last_error(), $e->message, 'last_error() is the message of the last failure');
    my $vm = Vmailsql->open_url('sqlite::memory:');
    ok($vm->create_schema, 'in-memory SQLite works');
    is(Vmailsql::last_error(), '', 'a successful call clears last_error()');
};

subtest 'close, DESTROY and the class check' => sub {
    my $vm = Vmailsql->open_url('sqlite::memory:');
    ok($vm->is_open, 'open');
    ok($$vm != 0, 'the object holds a pointer');
    $vm->close;
    ok(!$vm->is_open, 'closed');
    is($$vm, 0, 'close cleared the pointer');
    my $e = error_of { $vm->domains };
    is($e && $e->kind, 'invalid_input', 'a closed handle dies instead of using freed memory');
    like($e, qr/closed/, '... saying so');
    $e = error_of { $vm->close };
    like($e, qr/closed/, 'closing twice dies');
    $vm->DESTROY;    # and DESTROY after close is harmless

    my $vm2 = Vmailsql->open_url('sqlite::memory:');
    $vm2->DESTROY;
    is($$vm2, 0, 'DESTROY frees and zeroes the pointer');
    undef $vm2;      # the real DESTROY then finds nothing to free
    pass('no double free');

    $e = error_of { Vmailsql::domains(bless({}, 'Not::Vmailsql')) };
    is($e && $e->kind, 'invalid_input', 'an object of another class is refused');
    like($e, qr/not called on a Vmailsql handle/, '... with a message');
    $e = error_of { Vmailsql::domains(bless(\(my $p = 1234), 'Not::Vmailsql')) };
    like($e, qr/not called on a Vmailsql handle/, 'even one that looks like a handle');
    $e = error_of { Vmailsql->domains };
    like($e, qr/not called on a Vmailsql handle/, 'a class name is not a handle');
    # A forged object of the right class: its number must never be taken for a pointer.
    my $sub0 = Vmailsql->open_url('sqlite::memory:');
    $sub0->create_schema;
    # (A literal \12345 is read-only and cannot be blessed; a copy in a variable can.)
    $e = error_of { bless(\(my $n = 12345), 'Vmailsql')->resolve('a@b') };
    is($e && $e->kind, 'invalid_input', 'a forged Vmailsql object is refused, not dereferenced');
    like($e, qr/not called on a Vmailsql handle/, '... with a message');
    $e = error_of { bless(\(my $q = 0 + $$sub0), 'Vmailsql')->tables };
    like($e, qr/not called on a Vmailsql handle/, 'even one holding a real handle\'s pointer');
    $$sub0 = 12345;
    ok(scalar $sub0->tables, 'a handle whose number was overwritten still uses its own pointer');
    ok(!bless(\(my $m = 12345), 'Vmailsql')->is_open, 'is_open is false for a forged object');

    @My::Vmail::ISA = ('Vmailsql');
    my $sub = My::Vmail->open_url('sqlite::memory:');
    isa_ok($sub, 'My::Vmail', 'open_url blesses into a subclass');
    ok($sub->create_schema, 'and subclass objects pass the class check');
};

subtest 'arguments and strings' => sub {
    my $vm = Vmailsql->open_url('sqlite::memory:');
    $vm->create_schema;
    my $e = error_of { $vm->domain("example.org\0evil") };
    is($e && $e->kind, 'invalid_input', 'a NUL byte is refused, not cut short');
    is($e->code, VMAILSQL_INVALID_INPUT, '... with code VMAILSQL_INVALID_INPUT');
    like($e, qr/name contains a NUL byte/, '... naming the argument');
    $e = error_of { $vm->domain(undef) };
    is($e && $e->code, VMAILSQL_NULL_ARGUMENT, 'undef for a required string');

    # "pässwörd" (legacy-contract.md test vector, MD5 hex of its UTF-8 bytes). Text is the
    # UTF-8 encoding of its characters, whatever Perl's internal representation: the same
    # string upgraded or downgraded gives the library the same bytes.
    my $stored = '{md5}12841e4ba5e37d2fbfc78458c6714ade';
    my $latin1_stored = '{md5}2ca67a2dbf3a2f52ef5126a2ae8f8a2f';    # of its Latin-1 bytes
    my $chars = "p\x{e4}ssw\x{f6}rd";
    utf8::upgrade(my $upgraded = $chars);
    utf8::downgrade(my $downgraded = $chars);
    ok($upgraded eq $downgraded, 'the two representations are eq');
    ok(Vmailsql->verify_password($stored, $upgraded), 'an upgraded string is encoded as UTF-8');
    ok(Vmailsql->verify_password($stored, $downgraded), 'a downgraded one the same way');
    ok(!Vmailsql->verify_password($latin1_stored, $downgraded),
        'text never matches the hash of its Latin-1 bytes');
    ok(!Vmailsql->verify_password($stored, "p\xc3\xa4ssw\xc3\xb6rd"),
        'UTF-8 octets given as text are characters of their own (encoded again)');
    # Legacy Latin-1 passwords (tpop3d compared bytes): the explicit bytes API.
    ok(Vmailsql->verify_password_bytes($latin1_stored, "p\xe4ssw\xf6rd"),
        'verify_password_bytes: Latin-1 octets match the hash of the Latin-1 password');
    ok(Vmailsql->verify_password_bytes($latin1_stored, $upgraded),
        '... also from an upgraded string (its characters are the octets)');
    ok(!Vmailsql->verify_password_bytes($stored, "p\xe4ssw\xf6rd"),
        '... and not the hash of the UTF-8 password');
    ok(Vmailsql->verify_password_bytes($stored, "p\xc3\xa4ssw\xc3\xb6rd"),
        '... which its UTF-8 octets match');
    $e = error_of { Vmailsql->verify_password_bytes($stored, "smile \x{263a}") };
    is($e && $e->kind, 'invalid_input', 'a character above U+00FF is not a byte');
    like($e, qr/password is not a byte string/, '... and the message says so');

    $vm->add_domain(name => 'bytes.example', path => '/var/mail/bytes.example', unix_user => 'vmail');
    $vm->add_popbox_record('bytes.example', 'legacy', $latin1_stored);
    ok($vm->authenticate_bytes('legacy@bytes.example', "p\xe4ssw\xf6rd"),
        'authenticate_bytes: a legacy Latin-1 password logs in');
    $e = error_of { $vm->authenticate('legacy@bytes.example', "p\xe4ssw\xf6rd") };
    is($e && $e->kind, 'auth_failed', 'authenticate takes text: its UTF-8 does not match');
    $vm->add_popbox('bytes.example', 'text', $downgraded);
    ok($vm->authenticate('text@bytes.example', $upgraded),
        'a password set downgraded verifies upgraded');
    ok($vm->authenticate_bytes('text@bytes.example', "p\xc3\xa4ssw\xc3\xb6rd"),
        '... and as its UTF-8 octets through the bytes API');

    # Strings come back as characters.
    $vm->add_domain(name => 'example.org', path => '/var/mail/example.org', unix_user => 'vmail');
    utf8::upgrade(my $target = "j\x{fc}rgen\@example.net");
    $vm->add_forwarder('example.org', 'info', $target);
    my $f = $vm->forwarder('example.org', 'info');
    is($f->{remote_name}, "j\x{fc}rgen\@example.net", 'non-ASCII results are decoded');
    ok(utf8::is_utf8($f->{remote_name}), '... as a character string');
    ok(!utf8::is_utf8($f->{domain}), 'ASCII results stay plain');
    my @targets = @{ $vm->resolve("info\@example.org")->{targets} };
    is_deeply(\@targets, ["j\x{fc}rgen\@example.net"], 'resolve targets decoded too');
    utf8::downgrade(my $down = "j\x{fc}rgen\@example.net");
    $vm->change_forwarder('example.org', 'info', $down);
    is($vm->forwarder('example.org', 'info')->{remote_name}, $target,
        'a downgraded string is stored as the same text');
};

subtest 'Vmailsql::Error' => sub {
    my $e = Vmailsql::Error->new(kind => 'conflict', message => 'it exists');
    is($e->code, VMAILSQL_CONFLICT, 'new() fills in the code of a kind');
    is("$e", 'it exists', 'stringifies');
    ok($e ? 1 : 0, 'is true');
    my $caught = error_of { Vmailsql::Error->throw(kind => 'temporary', message => 'down') };
    ok($caught->is_temporary, 'throw() and is_temporary');
    ok(!Vmailsql::Error->is_temporary, 'is_temporary on the class is false');
    my $vm = Vmailsql->open_url('sqlite::memory:');
    $e = error_of { $vm->add_domain(name => 'x.example', path => '/x', unix_user => 'u', colour => 'red') };
    is($e && $e->kind, 'invalid_input', 'unknown named arguments are refused');
    like($e, qr/unknown argument colour/, '... by name');
    for my $bad (-1, -2, 'many', 1.5) {
        $e = error_of { $vm->add_domain(name => 'x.example', path => '/x', unix_user => 'u', max_popbox => $bad) };
        is($e && $e->kind, 'invalid_input', "max_popbox => $bad is refused (not taken as a C marker)");
    }
};

subtest 'a database that is down is temporary' => sub {
    my $vm = Vmailsql->open_url("mysql://vmail\@localhost/vmail?socket=$dir/no-such-socket");
    my $e = error_of { $vm->domains };
    isa_ok($e, 'Vmailsql::Error');
    is($e->kind, 'temporary', 'kind temporary');
    is($e->code, VMAILSQL_TEMPORARY, 'code VMAILSQL_TEMPORARY');
    ok($e->is_temporary, 'is_temporary');
    $e = error_of { $vm->resolve('alice@example.org') };
    ok($e && $e->is_temporary, 'resolve: temporary, never not_found');
    $e = error_of { $vm->authenticate('alice@example.org', 'pw') };
    ok($e && $e->is_temporary, 'authenticate: temporary, never auth_failed');
};

SKIP: {
    skip 'this perl has no ithreads, CLONE_SKIP cannot matter', 3 unless $Config{useithreads};
    require threads;
    my $vm = Vmailsql->open_url($sqlite->{url});
    my $before = [ $vm->tables ];
    my $thr = threads->create({ context => 'list' }, sub {
        # perlmod: objects of a CLONE_SKIP class are copied as unblessed undef values.
        my $cloned = Scalar::Util::blessed($vm) ? 'a handle' : defined $$vm ? 'a pointer' : 'undef';
        my $own = Vmailsql->open_url($sqlite->{url});
        return ($cloned, scalar $own->tables);
    });
    my ($cloned, $tables) = $thr->join;
    is($cloned, 'undef', 'CLONE_SKIP: a new thread does not get the handle');
    is($tables, scalar @$before, 'the thread opens its own handle');
    is_deeply([ $vm->tables ], $before, 'the parent handle still works after the thread ended');
}

subtest 'fork' => sub {
    my $vm = Vmailsql->open_url($sqlite->{url});
    my $n = scalar $vm->tables;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my $ok = eval { scalar($vm->tables) == $n };
        exit($ok ? 0 : 1);    # DESTROY frees the child's copy
    }
    waitpid $pid, 0;
    is($?, 0, 'the child used the inherited handle and freed it');
    is(scalar $vm->tables, $n, 'the parent handle still works');
};

done_testing;
