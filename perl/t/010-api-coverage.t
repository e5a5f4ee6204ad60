# Binding coverage (the idea of Sys::Virt's t/030-api-coverage.t): every function the C header
# exports is called from Vmailsql.xs or listed below with the reason it is not; every method
# of docs/perl-api.md exists; every public method is documented in the POD.
use strict;
use warnings;
use Test::More;
use FindBin;

use Vmailsql;

my %NOT_BOUND = (
    vmailsql_exim_resolve =>
        "Exim's \${dlfunc} entry point (Exim's calling convention, its own handle); Perl uses resolve()",
    vmailsql_exim_local_domain =>
        "Exim's \${dlfunc} entry point; Perl uses local_domain()",
    vmailsql_exim_match_domain =>
        "Exim's \${dlfunc} entry point for domain lists; Perl uses local_domain()",
);

my $top = "$FindBin::Bin/../..";
my $header = ($ENV{VMAILSQL_INCLUDE_DIR} // "$top/include") . '/vmailsql.h';
my $h  = slurp($header);
my $xs = slurp("$FindBin::Bin/../Vmailsql.xs");
$xs =~ s{/\*.*?\*/}{}gs;    # calls only, not comments

# Declarations start at the beginning of a line with their return type; doc comments, which
# also mention function names, start with " *".
my @functions = sort { $a cmp $b } keys %{{ map { $_ => 1 } $h =~ /^[a-z][\w \*]*?\b(vmailsql_\w+)\(/mg }};
cmp_ok(scalar @functions, '>=', 50, scalar(@functions) . ' functions in the header');

for my $f (@functions) {
    my $called = $xs =~ /\b\Q$f\E\s*\(/;
    if ($NOT_BOUND{$f}) {
        ok(!$called, "$f is not bound: $NOT_BOUND{$f}");
    } else {
        ok($called, "$f is bound");
    }
}
my %in_header = map { $_ => 1 } @functions;
ok($in_header{$_}, "not-bound entry $_ is still in the header") for sort keys %NOT_BOUND;

# The fixed Perl API (docs/perl-api.md): every method and function named in its table.
my $contract = slurp("$top/docs/perl-api.md");
my @contract = $contract =~ /`(?:Vmailsql::|\$vm->)?([a-z_]+)\(/g;
push @contract, 'open', 'open_url';
my %seen;
@contract = grep { !$seen{$_}++ } @contract;
cmp_ok(scalar @contract, '>=', 35, scalar(@contract) . ' names in docs/perl-api.md');
ok(Vmailsql->can($_), "contract: Vmailsql::$_ exists") for @contract;
ok(Vmailsql::Error->can($_), "contract: Vmailsql::Error::$_ exists") for qw(kind message code is_temporary);

# Every public sub is documented in the POD (an =item naming it).
my $pod = slurp("$FindBin::Bin/../lib/Vmailsql.pm");
my %documented = map { $_ => 1 } $pod =~ /^=item\s+(?:Vmailsql(?:->|::)|\$vm->)?(\w+)/mg;
no strict 'refs';
my @public = sort grep {
    defined &{"Vmailsql::$_"} && !/^(?:_|[A-Z])/ && !/^(?:import|bootstrap)$/
} keys %Vmailsql::;
cmp_ok(scalar @public, '>=', 45, scalar(@public) . ' public subs in Vmailsql');
ok($documented{$_}, "Vmailsql::$_ is documented") for @public;

done_testing;

sub slurp {
    my $f = shift;
    open my $fh, '<', $f or BAIL_OUT("cannot read $f: $!");
    local $/;
    return <$fh>;
}
