# tpop3d.pl: tpop3d's auth-perl start file for vmailsql. Copy it to /etc/tpop3d/vmailsql.pl
# and load it from tpop3d.conf (docs/tpop3d.md):
#
#   auth-perl-enable: true
#   auth-perl-start: do '/etc/tpop3d/vmailsql.pl' or die($@ || $!);
#   auth-perl-pass: Vmailsql::Tpop3d::pass
#   auth-perl-apop: Vmailsql::Tpop3d::apop
#   auth-perl-onlogin: Vmailsql::Tpop3d::onlogin
#
# The configuration file is read once, here; tpop3d must be able to read it (its group, mode
# 0640). Without config => the library's default: $VMAILSQL_CONFIG, else /etc/vmailsql.conf;
# write init(config => '/path/vmailsql.conf') to name another.
use strict;
use warnings;
use Vmailsql::Tpop3d;

Vmailsql::Tpop3d::init();
1;
