create table web_session (
    domain_name varchar(255) primary key,   # domain name
    session_id char(32),                    # session token for this domain
    expires int
) ;
