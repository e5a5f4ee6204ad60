package VmailsqlTest;

# Test helpers: throw-away databases (SQLite files and a private MariaDB server), config files,
# whole-database snapshots, and running the vmail-* scripts.
#
# MariaDB is always demanded here: when mariadbd is missing, the helpers die naming the
# package, and the test fails (it never skips).

use strict;
use warnings;

use Cwd qw(abs_path);
use Exporter 'import';
use Fcntl qw(O_WRONLY O_CREAT O_EXCL);
use File::Spec;
use File::Temp qw(tempdir);
use POSIX ();
use Test::More;

use Vmailsql;

our @EXPORT = qw(tmpdir backends open_backend write_config snapshot run_script script_path
    mariadb_socket error_of);

my $TMP;
sub tmpdir { $TMP //= tempdir('vmailsql-perl-XXXXXX', TMPDIR => 1, CLEANUP => 1) }

# ---- MariaDB ----

my %server;    # dir, socket, pid

sub _tool {
    my $name = shift;
    for my $dir (split(/:/, $ENV{PATH} // ''), '/usr/sbin', '/usr/bin', '/usr/local/sbin') {
        return "$dir/$name" if -x "$dir/$name";
    }
    die "$name not found: MariaDB is required for these tests "
      . "(apt-get install mariadb-server mariadb-client)\n";
}

sub _system_quiet {
    my ($log, @cmd) = @_;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $log;
        open STDERR, '>&', \*STDOUT;
        exec @cmd or POSIX::_exit(127);
    }
    waitpid $pid, 0;
    return $?;
}

# Starts the private server on first use and returns its socket.
sub mariadb_socket {
    return $server{socket} if $server{socket};
    my ($install, $mariadbd, $admin) = map { _tool($_) } qw(mariadb-install-db mariadbd mariadb-admin);
    _tool('mariadb');
    # A short path: Unix socket paths are limited to about 100 bytes.
    my $dir = tempdir('vmdb-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $log = "$dir/install.log";
    my @user = ('--user=' . ($< == 0 ? 'root' : scalar getpwuid($<)));
    _system_quiet($log, $install, '--no-defaults', "--datadir=$dir/data", @user,
        '--auth-root-authentication-method=normal', '--skip-test-db') == 0
        or die "mariadb-install-db failed:\n" . _slurp($log);
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        open STDERR, '>&', \*STDOUT;
        exec $mariadbd, '--no-defaults', "--datadir=$dir/data", "--socket=$dir/sock",
            "--pid-file=$dir/pid", '--skip-networking', @user, "--log-error=$dir/err",
            '--skip-log-bin', '--innodb-buffer-pool-size=64M'
            or POSIX::_exit(127);
    }
    %server = (dir => $dir, pid => $pid, owner => $$);
    for (1 .. 600) {
        last if _system_quiet("$dir/ping.log", $admin, '--no-defaults', '-S', "$dir/sock",
            '-uroot', 'ping') == 0;
        if (waitpid($pid, POSIX::WNOHANG()) == $pid) {
            %server = ();
            die "mariadbd exited at start-up:\n" . _slurp("$dir/err");
        }
        select undef, undef, undef, 0.05;
    }
    -S "$dir/sock" or die "mariadbd did not come up in 30 s:\n" . _slurp("$dir/err");
    return $server{socket} = "$dir/sock";
}

sub _slurp { open my $fh, '<', shift or return ''; local $/; return scalar(<$fh>) // '' }

# Runs SQL as root on the private server.
sub mariadb_sql {
    my $sql = shift;
    my $sock = mariadb_socket();
    open my $fh, '|-', _tool('mariadb'), '--no-defaults', '-S', $sock, '-uroot'
        or die "mariadb: $!";
    print $fh $sql;
    close $fh or die "mariadb failed on: $sql\n";
}

END {
    # Only the process that started the server stops it (not forked children of a test).
    if ($server{pid} && $server{owner} == $$) {
        my $status = $?;
        kill 'TERM', $server{pid};
        waitpid $server{pid}, 0;
        $? = $status;
    }
}

# ---- databases and configuration ----

my $serial = 0;

# A fresh, empty database on each backend: a list of { name, url, password? }. The MariaDB one
# is reached as a user with a password, as a real site would configure it.
sub backends {
    my $n = ++$serial;
    my $sqlite = File::Spec->catfile(tmpdir(), "vmail$n.db");
    my $db = "vmail_t$$\_$n";
    my $pw = "pw-$$-$n";
    mariadb_sql("CREATE DATABASE $db; CREATE USER 'u$n'\@'localhost' IDENTIFIED BY '$pw'; "
        . "GRANT ALL ON $db.* TO 'u$n'\@'localhost';");
    return (
        { name => 'sqlite',  url => "sqlite://$sqlite" },
        { name => 'mariadb', url => "mysql://u$n:$pw\@localhost/$db?socket=" . mariadb_socket(),
          password => $pw },
    );
}

# A Vmailsql handle on a backend, with the schema created.
sub open_backend {
    my $b = shift;
    my $vm = Vmailsql->open_url($b->{url});
    $vm->create_schema;
    return $vm;
}

# Writes a vmailsql configuration file for a backend: created with mode 0600 before anything
# is written, because the database URL may hold a password.
sub write_config {
    my ($b, %extra) = @_;
    my $file = File::Spec->catfile(tmpdir(), 'vmailsql-' . ++$serial . '.conf');
    sysopen my $fh, $file, O_WRONLY | O_CREAT | O_EXCL, 0600 or die "$file: $!";
    print $fh "# written by the Perl tests\n", "database = $b->{url}\n";
    print $fh "$_ = $extra{$_}\n" for sort keys %extra;
    close $fh or die "$file: $!";
    return $file;
}

# Everything the database holds, for before/after comparisons.
sub snapshot {
    my $vm = shift;
    return {
        domains    => [ $vm->domains ],
        popboxes   => [ $vm->popboxes(undef) ],
        forwarders => [ $vm->forwarders(undef) ],
        aliases    => [ $vm->aliases(undef) ],
    };
}

# The Vmailsql::Error a block dies with (undef when it lives).
sub error_of(&) {
    my $code = shift;
    return eval { $code->(); 1 } ? undef : $@;
}

# ---- scripts ----

my $PERL_DIR = abs_path(File::Spec->catdir((File::Spec->splitpath(__FILE__))[1], '..', '..'));

sub script_path {
    my $name = shift;
    my $path = "$PERL_DIR/blib/script/$name";
    -e $path or die "$path missing: run make first";
    return $path;
}

# Runs a script with the in-tree module; returns { exit, out, err }.
sub run_script {
    my ($name, $args, %opt) = @_;
    my $dir = tmpdir();
    my ($in, $out, $err) = map { "$dir/run.$_" } qw(in out err);
    open my $fh, '>', $in or die $!;
    print $fh $opt{stdin} // '';
    close $fh;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDIN, '<', $in;
        open STDOUT, '>', $out;
        open STDERR, '>', $err;
        local %ENV = (%ENV, %{ $opt{env} || {} });
        exec $^X, "-I$PERL_DIR/blib/lib", "-I$PERL_DIR/blib/arch", script_path($name), @$args
            or POSIX::_exit(127);
    }
    waitpid $pid, 0;
    my $status = $?;
    return { exit => $status >> 8, signal => $status & 127, out => _slurp($out),
             err => _slurp($err) };
}

1;
