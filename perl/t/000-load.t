# The module loads from the in-tree build, and its idea of the C ABI (version, result codes,
# max_popbox markers) is the header's.
use strict;
use warnings;
use Test::More;
use FindBin;

use_ok('Vmailsql', ':codes') or BAIL_OUT('Vmailsql does not load');
use_ok('Vmailsql::Error');
use_ok('DomainAdminConfig');
use_ok('Vmailsql::Script');

my $header = "$FindBin::Bin/../../include/vmailsql.h";
$header = $ENV{VMAILSQL_INCLUDE_DIR} . '/vmailsql.h' if $ENV{VMAILSQL_INCLUDE_DIR};
open my $fh, '<', $header or BAIL_OUT("cannot read $header: $!");
my $h = do { local $/; <$fh> };

my ($version) = $h =~ /#define VMAILSQL_VERSION "([^"]+)"/ or BAIL_OUT('no VMAILSQL_VERSION');
is(Vmailsql::version(), $version, 'the library is the version of the header');
is($Vmailsql::VERSION, $version, 'the module carries the same version');

my ($enum) = $h =~ /typedef enum vmailsql_result \{(.*?)\}/s or BAIL_OUT('no vmailsql_result');
my %code = $enum =~ /\b(VMAILSQL_\w+) = (\d+)/g;
ok(keys %code >= 10, 'the header has the result codes');
for my $name (sort { $code{$a} <=> $code{$b} } keys %code) {
    my $sub = Vmailsql->can($name);
    ok($sub, "constant $name is bound") and is($sub->(), $code{$name}, "$name == $code{$name}");
    isnt(Vmailsql::result_str($code{$name}), 'unknown result code', "result_str($name) knows it");
}
is(Vmailsql::result_str(12345), 'unknown result code', 'result_str of an unknown code');
for my $m (qw(VMAILSQL_UNLIMITED VMAILSQL_KEEP)) {
    my ($v) = $h =~ /#define $m \(?(-?\d+)\)?/ or BAIL_OUT("no $m");
    is(Vmailsql->can($m)->(), $v, "$m == $v");
}
is(do { no warnings 'once'; $Vmailsql::CATCH_ALL }, '_default_', 'the catch-all local part');

# Every kind name of docs/perl-api.md is a kind of some code.
is_deeply([Vmailsql::Error->kinds],
    [qw(not_found auth_failed invalid_input conflict limit_exceeded temporary internal panic)],
    'the error kinds of the contract');

done_testing;
