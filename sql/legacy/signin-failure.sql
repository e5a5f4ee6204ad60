# vmailsql's one addition to the seed's tables (created next to init-session-db.sql's
# web_session): failed control-panel sign-ins per subject ("domain:<name>" or
# "client:<address>"), counted in fixed windows that begin at window_start (Unix seconds).
create table signin_failure (
    subject varchar(255) primary key,
    failures int not null,
    window_start bigint not null
) ;
