# Rejected changes leave the database exactly as it was (every table compared before and
# after), on SQLite and MariaDB: duplicate domain, over max_popbox, invalid addresses and
# names, wrong old password, loops.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use VmailsqlTest;

use Vmailsql;

for my $b (backends()) {
    subtest $b->{name} => sub {
        my $vm = open_backend($b);
        $vm->add_domain(name => 'example.org', path => '/var/mail/example.org', unix_user => 'vmail',
            password => 'admin-pw', max_popbox => 2);
        $vm->add_domain(name => 'other.example', path => '/var/mail/other', unix_user => 'vmail');
        $vm->add_popbox('example.org', 'alice', 'alice-pw', undef);
        $vm->add_popbox('example.org', 'bob', 'bob-password', undef);
        $vm->add_popbox('other.example', 'x', 'x-password', undef);
        $vm->add_forwarder('example.org', 'info', 'alice@example.org');
        $vm->add_alias('example.net', 'example.org');
        my $before = snapshot($vm);
        is(scalar @{ $before->{popboxes} }, 3, 'set up: three popboxes');

        my @cases = (
            [ 'duplicate domain', 'conflict', qr/already exists/,
              sub { $vm->add_domain(name => 'example.org', path => '/srv/x', unix_user => 'other') } ],
            [ 'duplicate domain, other case', 'conflict', qr/already exists/,
              sub { $vm->add_domain(name => 'EXAMPLE.Org', path => '/srv/x', unix_user => 'other') } ],
            [ 'domain named like an alias', 'conflict', qr/alias/,
              sub { $vm->add_domain(name => 'example.net', path => '/srv/x', unix_user => 'other') } ],
            [ 'domain owned by root', 'invalid_input', qr/root/,
              sub { $vm->add_domain(name => 'root.example', path => '/srv/x', unix_user => 'root') } ],
            [ 'over max_popbox', 'limit_exceeded',
              qr/^domain example\.org already has its maximum of 2 popboxes$/,
              sub { $vm->add_popbox('example.org', 'carol', 'carol-pw', undef) } ],
            [ 'duplicate popbox', 'conflict', qr/popbox x\@other\.example already exists/,
              sub { $vm->add_popbox('other.example', 'X', 'popbox-pw2', undef) } ],
            [ 'popbox name with a login separator', 'invalid_input', qr/splits POP3 logins/,
              sub { $vm->add_popbox('other.example', 'a%b', 'popbox-pw', undef) } ],
            [ 'mbox escaping the domain path', 'invalid_input', qr/inside the domain path/,
              sub { $vm->add_popbox('other.example', 'evil', 'popbox-pw', '../../etc/passwd') } ],
            [ 'popbox in an unknown domain', 'not_found', qr/nosuch/,
              sub { $vm->add_popbox('nosuch.example', 'x', 'popbox-pw', undef) } ],
            [ 'invalid forward target', 'invalid_input', qr/not an address/,
              sub { $vm->add_forwarder('example.org', 'sales', 'not an address') } ],
            [ 'forward to a pipe', 'invalid_input', qr/pipe/,
              sub { $vm->add_forwarder('example.org', 'sales', '|/bin/sh') } ],
            [ 'forwarder to itself', 'invalid_input', qr/loop/,
              sub { $vm->add_forwarder('example.org', 'loop', 'loop@example.org') } ],
            [ 'invalid catch-all target', 'invalid_input', qr/nobody/,
              sub { $vm->set_catch_all('example.org', 'nobody') } ],
            [ 'invalid domain name', 'invalid_input', qr/bad domain!/,
              sub { $vm->add_domain(name => 'bad domain!', path => '/srv/x', unix_user => 'vmail') } ],
            [ 'alias of itself', 'invalid_input', qr/itself/, sub { $vm->add_alias('example.org', 'example.org') } ],
            [ 'alias to an unknown domain', 'not_found', qr/nosuch\.example/, sub { $vm->add_alias('new.example', 'nosuch.example') } ],
            [ 'alias that is a domain', 'conflict', qr/other\.example/, sub { $vm->add_alias('other.example', 'example.org') } ],
            [ 'invalid address to change a password', 'auth_failed', qr/authentication failed/,
              sub { $vm->change_popbox_password('no-at-sign', 'alice-pw', 'new-password') } ],
            [ 'wrong old password', 'auth_failed', qr/authentication failed/,
              sub { $vm->change_popbox_password('alice@example.org', 'wrong', 'new-password') } ],
            [ 'empty new password', 'invalid_input', qr/empty password/,
              sub { $vm->set_popbox_password('example.org', 'alice', '') } ],
            [ 'new password below password_min_length', 'invalid_input', qr/at least 8 characters/,
              sub { $vm->set_popbox_password('example.org', 'alice', 'seven-c') } ],
            [ 'relative domain path', 'invalid_input', qr/absolute/,
              sub { $vm->change_domain('example.org', path => 'var/mail') } ],
        );
        for my $case (@cases) {
            my ($what, $kind, $message, $code) = @$case;
            my $e = error_of { $code->() };
            ok(ref $e && $e->isa('Vmailsql::Error'), "$what: dies with a Vmailsql::Error")
                or diag("lived or died with: " . ($e // 'nothing'));
            is(ref $e && $e->kind, $kind, "$what: $kind");
            like("$e", $message, "$what: message '$e'");
            is_deeply(snapshot($vm), $before, "$what: the database is unchanged");
        }
        # The old passwords still work after the rejected change.
        ok($vm->authenticate('alice@example.org', 'alice-pw'), 'alice still has her password');
        ok($vm->authenticate_domain('example.org', 'admin-pw'), 'the domain password is unchanged');
    };
}

done_testing;
