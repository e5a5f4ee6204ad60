package DomainAdminConfig;

use strict;
use warnings;

use Vmailsql;

our $VERSION = '0.1.0';

# The shared vmailsql configuration file (the same one Exim, the POP3 server and vmailctl
# read). Scripts set it from --config; the CGI pages may set it before calling vmail().
our $config_file = $ENV{VMAILSQL_CONFIG} || '/etc/vmailsql.conf';

sub vmail {
    my $file = @_ ? shift : $config_file;
    # Administration reads what it (and others) just wrote: never a lagging replica.
    my $vm = Vmailsql->open($file);
    $vm->read_from_primary;
    return $vm;
}

1;

__END__

=head1 NAME

DomainAdminConfig - where the vmail admin scripts and CGI pages find the database

=head1 SYNOPSIS

  use DomainAdminConfig;

  my $vm = DomainAdminConfig::vmail();            # $DomainAdminConfig::config_file
  my $vm = DomainAdminConfig::vmail('/etc/vmailsql-admin.conf');

  local $DomainAdminConfig::config_file = '/srv/test/vmailsql.conf';

=head1 DESCRIPTION

In vmail-sql, C<DomainAdminConfig.pm> held the MySQL host, database name, user and password
for the scripts and the CGI control panel, which made it a sensitive file readable by the web
server. It now holds no credentials at all: it only names the shared vmailsql configuration
file, whose C<database> line is the one place a database password lives (a file holding one
must not be readable by others; the library refuses it otherwise).

=over 4

=item $DomainAdminConfig::config_file

The configuration file: C<$ENV{VMAILSQL_CONFIG}> when set, else C</etc/vmailsql.conf>.

=item DomainAdminConfig::vmail()

=item DomainAdminConfig::vmail($file)

A new L<Vmailsql> handle opened from C<$file> or C<$config_file>. Dies with a
L<Vmailsql::Error> (C<not_found> for a missing file, C<invalid_input> for a bad or insecure
one). The database itself is connected on first use.

=back

=cut
