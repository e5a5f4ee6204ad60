package Vmailsql::Script;

use strict;
use warnings;

use File::Basename qw(basename);
use Getopt::Long ();
use POSIX ();
use Pod::Usage ();

use DomainAdminConfig;
use Vmailsql;

our $VERSION = '0.1.0';

# Exit codes of every vmail-* script (documented in each script and in docs/perl.md).
our %EXIT = (
    ok             => 0,
    not_found      => 1,
    usage          => 2,
    invalid_input  => 2,
    conflict       => 3,
    limit_exceeded => 3,
    auth_failed    => 4,
    internal       => 70,    # EX_SOFTWARE
    panic          => 70,
    temporary      => 75,    # EX_TEMPFAIL
    config         => 78,    # EX_CONFIG
);

# Runs a script: parses the command line (--help, --config FILE and the script's options),
# calls run($script, \%options, @arguments) and exits with its return value (0 if none), or
# with the code of the Vmailsql::Error it died with, after printing "script: message".
sub main {
    my ($class, %spec) = @_;
    my $self = bless { name => basename($0), options => {} }, $class;
    my %opt;
    Getopt::Long::Configure(qw(no_ignore_case bundling no_auto_abbrev));
    local $SIG{__WARN__} = sub { print STDERR "$self->{name}: $_[0]" };
    Getopt::Long::GetOptions(\%opt, 'help|h', 'config|c=s', @{ $spec{options} || [] })
        or $self->usage();
    Pod::Usage::pod2usage(-verbose => 2, -exitval => 0, -noperldoc => 1) if $opt{help};
    my ($min, $max) = @{ $spec{args} || [0, 0] };
    $self->usage(@ARGV < $min ? 'missing arguments' : 'too many arguments')
        if @ARGV < $min || (defined $max && @ARGV > $max);
    # The library takes text: arguments arrive as UTF-8 bytes and are decoded to characters;
    # output is written as UTF-8.
    for my $arg (@ARGV, grep { defined && !ref } values %opt) {
        $self->fail($EXIT{usage}, 'an argument is not UTF-8 text') unless utf8::decode($arg);
    }
    binmode STDOUT, ':encoding(UTF-8)';
    binmode STDERR, ':encoding(UTF-8)';
    $self->{options} = \%opt;
    $self->{config}  = $opt{config};

    my $code;
    eval { $code = $spec{run}->($self, \%opt, @ARGV); 1 } or $self->error($@);
    exit($code || 0);
}

sub name { $_[0]->{name} }

# Prints the message and the SYNOPSIS on standard error and exits 2.
sub usage {
    my ($self, $message) = @_;
    Pod::Usage::pod2usage(
        -exitval => $EXIT{usage}, -verbose => 0, -output => \*STDERR,
        defined $message ? (-message => "$self->{name}: $message") : ());
}

# Prints "script: message" on standard error and exits with $code.
sub fail {
    my ($self, $code, $message) = @_;
    $message =~ s/\s+\z//;
    print STDERR "$self->{name}: $message\n";
    exit $code;
}

# Reports an exception: a Vmailsql::Error with its kind's exit code, anything else as an
# internal error.
sub error {
    my ($self, $e) = @_;
    if (ref $e && eval { $e->isa('Vmailsql::Error') }) {
        my $code = $EXIT{ $e->kind } // $EXIT{internal};
        $self->fail($code, $e->is_temporary
            ? $e->message . ' (temporary failure, try again later)' : $e->message);
    }
    $self->fail($EXIT{internal}, "internal error: $e");
}

# The handle, opened from --config FILE or DomainAdminConfig's file; problems with the file
# exit 78.
sub vmail {
    my $self = shift;
    return $self->{vmail} if $self->{vmail};
    my $file = $self->{config} // $DomainAdminConfig::config_file;
    my $vm = eval { DomainAdminConfig::vmail($file) };
    if (!$vm) {
        my $e = $@;
        $self->error($e) if !(ref $e && eval { $e->isa('Vmailsql::Error') }) || $e->is_temporary;
        my $message = $e->message;
        $message = "configuration $file: $message" if index($message, $file) < 0;
        $self->fail($EXIT{config}, $message);
    }
    return $self->{vmail} = $vm;
}

# Splits local@domain at the last "@".
sub address {
    my ($self, $address) = @_;
    my ($local, $domain) = $address =~ /\A(.+)\@([^\@]+)\z/
        or $self->fail($EXIT{usage}, "$address is not an address of the form local\@domain");
    return ($local, $domain);
}

# ---- passwords: from a terminal (no echo, asked twice) or one line each on standard input ----

sub _stdin_line {
    my ($self, $what) = @_;
    my $line = <STDIN>;
    $self->fail($EXIT{usage}, "no $what on standard input") unless defined $line;
    $line =~ s/\r?\n\z//;
    $self->fail($EXIT{usage}, "empty $what") if $line eq '';
    $self->fail($EXIT{usage}, "the $what is not UTF-8 text") unless utf8::decode($line);
    return $line;
}

# Reads one line from the terminal on standard input with echo off; the terminal is restored
# even when the user interrupts.
sub _ask {
    my ($self, $prompt) = @_;
    my $fd = fileno(STDIN);
    my $termios = POSIX::Termios->new;
    $termios->getattr($fd) or $self->fail($EXIT{internal}, "cannot read terminal settings: $!");
    my $saved = $termios->getlflag;
    my $restore = sub { $termios->setlflag($saved); $termios->setattr($fd, POSIX::TCSANOW()) };
    local $SIG{INT}  = sub { $restore->(); print STDERR "\n"; exit 130 };
    local $SIG{TERM} = sub { $restore->(); print STDERR "\n"; exit 143 };
    local $SIG{TSTP} = 'IGNORE';
    # Echo off before the prompt: nothing typed after the prompt appears is ever echoed.
    $termios->setlflag($saved & ~(POSIX::ECHO() | POSIX::ECHOE() | POSIX::ECHOK()));
    $termios->setattr($fd, POSIX::TCSANOW())
        or $self->fail($EXIT{internal}, "cannot turn off echo: $!");
    print STDERR $prompt;
    my $line = <STDIN>;
    $restore->();
    print STDERR "\n";
    $self->fail($EXIT{usage}, 'no password entered') unless defined $line;
    $line =~ s/\r?\n\z//;
    $self->fail($EXIT{usage}, 'the password is not UTF-8 text') unless utf8::decode($line);
    return $line;
}

sub _need_terminal {
    my $self = shift;
    $self->fail($EXIT{usage},
        'standard input is not a terminal: pipe the password with --password-stdin')
        unless -t STDIN;
}

# A password the user already has (asked once).
sub old_password {
    my ($self, $for) = @_;
    return $self->_stdin_line('old password') if $self->{options}{'password-stdin'};
    $self->_need_terminal;
    my $old = $self->_ask("Old password for $for: ");
    $self->fail($EXIT{usage}, 'empty password') if $old eq '';
    return $old;
}

# A new password (asked twice on a terminal).
sub new_password {
    my ($self, $for) = @_;
    return $self->_stdin_line('password') if $self->{options}{'password-stdin'};
    $self->_need_terminal;
    my $new = $self->_ask("New password for $for: ");
    $self->fail($EXIT{usage}, 'empty password') if $new eq '';
    my $again = $self->_ask("Retype new password for $for: ");
    $self->fail($EXIT{usage}, 'the two passwords differ; nothing changed') if $new ne $again;
    return $new;
}

1;

__END__

=head1 NAME

Vmailsql::Script - what the vmail-* admin scripts share

=head1 SYNOPSIS

  use Vmailsql::Script;

  Vmailsql::Script->main(
      options => ['password-stdin'],
      args    => [1, 1],
      run     => sub {
          my ($s, $opt, $address) = @_;
          my ($local, $domain) = $s->address($address);
          $s->vmail->set_popbox_password($domain, $local, $s->new_password($address));
          return 0;
      });

=head1 DESCRIPTION

Command-line parsing (C<--help> from the script's POD, C<--config FILE>, usage errors),
opening the handle through L<DomainAdminConfig>, reading passwords from a terminal without
echo (asked twice) or from standard input (C<--password-stdin>, one line each; never from the
command line), and turning every L<Vmailsql::Error> into a C<script: message> line and an
exit code:

  0   success
  1   not found (domain, popbox, forwarder, alias)
  2   usage error or invalid input (bad name, address, path, password)
  3   conflict or limit (already exists, max_popbox reached)
  4   authentication failed (wrong old password)
  70  internal error
  75  temporary failure: the database is down or busy, try again later
  78  configuration error (missing, unreadable, malformed or insecure configuration file)

=cut
