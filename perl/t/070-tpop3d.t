# Vmailsql::Tpop3d, tpop3d's auth-perl driver, called as tpop3d calls it: one hash reference
# in, one hash reference out, never a die. (tests/tpop3d/ drives it through an embedded
# interpreter with every login case, on SQLite and MariaDB.)
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use VmailsqlTest;

use_ok('Vmailsql::Tpop3d');

my $db = { url => 'sqlite://' . tmpdir() . '/tpop3d.db' };
my $vm = open_backend($db);
$vm->add_domain(name => 'example.org', path => '/var/mail/example.org', unix_user => 'mail');
$vm->add_popbox_record('example.org', 'alice', '5ebe2294ecd0e0f08eab7690d2a6ee69', 'alice');
$vm->add_popbox_record('example.org', 'plain', '{plaintext}tanstaaf', 'plain');
my @mail = getpwnam 'mail' or BAIL_OUT('no user mail on this system');

ok(Vmailsql::Tpop3d::init(config => write_config($db)), 'init opens the handle');
is_deeply(Vmailsql::Tpop3d::pass({ method => 'PASS', user => 'alice@example.org',
        pass => 'secret', clienthost => '192.0.2.7' }),
    { result => 'YES', uid => $mail[2], gid => $mail[3], mailbox => '/var/mail/example.org/alice',
      mboxtype => 'bsd', domain => 'example.org' }, 'pass: right password');
is_deeply(Vmailsql::Tpop3d::pass({ user => 'alice', local_part => 'alice',
        domain => 'example.org', pass => 'wrong' }), { result => 'NO' }, 'pass: wrong password');
is(Vmailsql::Tpop3d::apop({ user => 'plain@example.org',
        timestamp => '<1896.697170952@dbc.mtview.ca.us>',
        digest => 'c4c9334bac560ecc979e58001b3e22fb' })->{result}, 'YES', 'apop');
is_deeply(Vmailsql::Tpop3d::onlogin({ user => 'alice@example.org' }), { result => 'YES' },
    'onlogin');
like(Vmailsql::Tpop3d::pass({ user => 'alice@example.org' })->{logmsg},
    qr/^vmailsql: PASS request without pass$/, 'a missing key is a NO with a logmsg');
like(Vmailsql::Tpop3d::pass({})->{logmsg}, qr/without user/, 'an empty request too');

ok(!Vmailsql::Tpop3d::init(config => tmpdir() . '/no-such.conf'), 'init reports a bad file');
my $r = Vmailsql::Tpop3d::pass({ user => 'alice@example.org', pass => 'secret' });
is($r->{result}, 'NO', 'no configuration: NO');
like($r->{logmsg}, qr/^vmailsql: cannot read the configuration: /, '... saying why');

done_testing;
