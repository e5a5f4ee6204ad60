# The audit log through Perl: the scripts' changes carry the Unix user, set_actor names another
# actor, audit_log filters, and no password or hash used here appears in any record.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use VmailsqlTest;

use Vmailsql;

my $user = 'unix:' . (getpwuid $<)[0];

for my $b (backends()) {
    subtest $b->{name} => sub {
        my $vm = open_backend($b);
        my $conf = write_config($b);
        my $r = run_script('vmail-adddomain', ['--config', $conf,
            qw(--path /var/mail/example.org --unix-user vmail --password-stdin example.org)],
            stdin => "Perl-Dom-Secret\n");
        is($r->{exit}, 0, 'vmail-adddomain') or diag($r->{err});
        $r = run_script('vmail-addpopbox', ['--config', $conf, '--password-stdin',
            'alice@example.org'], stdin => "Perl-Alice-Secret\n");
        is($r->{exit}, 0, 'vmail-addpopbox') or diag($r->{err});
        my @log = $vm->audit_log;
        is(scalar @log, 2, 'two records');
        is($_->{actor}, $user, "$_->{object} $_->{action}: by $user") for @log;
        is($log[1]{name}, 'alice@example.org', 'the popbox is named');

        ok($vm->set_actor('perl:test', '192.0.2.44'), 'set_actor');
        $vm->add_forwarder('example.org', 'info', 'alice@example.org');
        my ($last) = $vm->audit_log(limit => 1);
        is_deeply([ @$last{qw(actor origin object action outcome)} ],
            [qw(perl:test 192.0.2.44 forwarder created ok)], 'the forwarder carries the Perl actor');
        like($last->{when}, qr/\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\z/, 'when is UTC');
        is(scalar($vm->audit_log(action => 'created', actor => $user)), 2, 'filters: action and actor');
        is(scalar($vm->audit_log(domain => 'other.example')), 0, 'filters: another domain has none');
        is(scalar($vm->audit_log(since => time + 3600)), 0, 'filters: since');
        my $e = error_of { $vm->set_actor('') };
        is($e && $e->kind, 'invalid_input', 'an empty actor is refused');
        $e = error_of { $vm->audit_log(colour => 'red') };
        is($e && $e->kind, 'invalid_input', 'an unknown argument is refused');
        ok($vm->create_audit_table, 'create_audit_table on a site that has it');

        my $all = join "\n", map { join ' ', map { $_ // '' } values %$_ } $vm->audit_log;
        my @secrets = ('Perl-Dom-Secret', 'Perl-Alice-Secret',
            $vm->domain('example.org')->{password_hash},
            $vm->popbox('example.org', 'alice')->{password_hash});
        unlike($all, qr/\Q$_\E/, 'no secret in the log') for @secrets;
    };
}

done_testing;
