package Vmailsql::Error;

use strict;
use warnings;

our $VERSION = '0.1.0';

use overload
    '""'     => sub { $_[0]->{message} },
    'bool'   => sub { 1 },
    fallback => 1;

# The library's result codes and the kind names Perl code sees (docs/perl-api.md). The XS croak
# helper builds the same objects from vmailsql_last_error(); this table is for errors raised
# in Perl (bad arguments to the named-argument methods) and for code_of().
my %CODE = (
    not_found      => 1,
    auth_failed    => 2,
    invalid_input  => 3,
    conflict       => 4,
    limit_exceeded => 5,
    temporary      => 6,
    internal       => 7,
    panic          => 8,
);

sub new {
    my ($class, %arg) = @_;
    my $kind = defined $arg{kind} ? $arg{kind} : 'internal';
    return bless {
        kind    => $kind,
        message => defined $arg{message} ? $arg{message} : $kind,
        code    => defined $arg{code} ? $arg{code} : (defined $CODE{$kind} ? $CODE{$kind} : 7),
    }, $class;
}

sub throw {
    my $class = shift;
    die $class->new(@_);
}

sub kind    { $_[0]->{kind} }
sub message { $_[0]->{message} }
sub code    { $_[0]->{code} }

sub is_temporary {
    my $self = shift;
    return ref $self && $self->{kind} eq 'temporary' ? 1 : 0;
}

sub kinds { return sort { $CODE{$a} <=> $CODE{$b} } keys %CODE }

1;

__END__

=head1 NAME

Vmailsql::Error - the exception every failing Vmailsql call dies with

=head1 SYNOPSIS

  my $ok = eval { $vm->add_popbox('example.org', 'alice', $password, undef); 1 };
  if (!$ok) {
      my $e = $@;
      die $e unless ref $e && $e->isa('Vmailsql::Error');
      if ($e->is_temporary)          { ... try again later ... }
      elsif ($e->kind eq 'conflict') { print "already there: $e\n" }
  }

=head1 DESCRIPTION

An error from libvmailsql, carrying what the C library said: its result code, the kind name
of that code and the message of C<vmailsql_last_error()> (messages never contain passwords).

=head1 METHODS

=over 4

=item kind

One of C<not_found auth_failed invalid_input conflict limit_exceeded temporary internal
panic>. A C<NULL> argument (C<VMAILSQL_NULL_ARGUMENT>, code 9), which the bindings only
produce for an C<undef> where a string is required, has kind C<invalid_input>. A code this
version does not know has kind C<internal>.

=item message

The library's message (C<vmailsql_last_error()>), or the code's description
(C<vmailsql_result_str()>) when the library gave none. The object stringifies to it.

=item code

The C result code (C<VMAILSQL_NOT_FOUND> is 1, ... see L<Vmailsql/CONSTANTS>).

=item is_temporary

True when the database was down, slow or busy: trying again later may succeed.

=item new(kind => ..., message => ..., code => ...), throw(...)

Constructors, for code that wants to raise the same kind of error.

=item kinds

The kind names, in code order.

=back

=cut
