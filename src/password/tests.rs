//! Unit tests: the vectors of legacy-contract §5 for both passwords, vectors produced by libxcrypt
//! (Python `crypt`) and `doveadm pw` for the other schemes, the 2003 tpop3d regressions, malformed
//! values, APOP, and `hash()` round trips. `tests/password_tools.rs` checks against the live tools.

use super::*;

const SECRET: &str = "secret";
/// "pässwörd" in UTF-8 NFC: 70c3a4737377c3b67264.
const UMLAUT: &str = "p\u{e4}ssw\u{f6}rd";

/// Passwords that must fail against a hash of `right` (one of the two above), chosen so that no
/// scheme's documented quirk (DES's 8 bytes, MySQL's skipped blanks) makes them equivalent.
fn wrong_for(right: &str) -> Vec<&'static str> {
    let mut w = vec![
        "Secret",
        "secre",
        "secret1",
        "wrong",
        "pässwort",
        "PÄSSWÖRD",
        "x",
    ];
    w.push(if right == SECRET { UMLAUT } else { SECRET });
    w
}

/// `stored` verifies `right`, rejects every wrong password, and is identified.
#[track_caller]
fn check(stored: &str, right: &str) {
    assert!(verify(stored, right), "{stored} must verify {right:?}");
    for wrong in wrong_for(right) {
        assert!(!verify(stored, wrong), "{stored} must reject {wrong:?}");
    }
    assert!(identify(stored).is_some(), "{stored} must be identified");
}

/// Like [`check`] with a single wrong password, for the slow memory-hard schemes.
#[track_caller]
fn check_slow(stored: &str, right: &str) {
    assert!(verify(stored, right), "{stored} must verify {right:?}");
    let wrong = if right == SECRET { UMLAUT } else { SECRET };
    assert!(!verify(stored, wrong), "{stored} must reject {wrong:?}");
    assert!(identify(stored).is_some(), "{stored} must be identified");
}

/// Legacy-contract §5, "secret" and "pässwörd", under every prefix that reads each form.
#[test]
fn contract_vectors() {
    let vectors: [(&str, &str, &str); 8] = [
        ("MD5 hex", "5ebe2294ecd0e0f08eab7690d2a6ee69", "12841e4ba5e37d2fbfc78458c6714ade"),
        ("MD5 b64", "Xr4ilOzQ4PCOq3aQ0qbuaQ==", "EoQeS6XjfS+/x4RYxnFK3g=="),
        ("SHA1 hex", "e5e9fa1ba31ecd1ae84f75caaa474f3a663f05f4", "f517ddf1d32a112ff1ad55c66d1b12cb38e7e8f7"),
        ("DES", "abNANd1rDfiNc", "abzp3RXJm5gNA"),
        ("MD5-crypt", "$1$abcdefgh$cHJi5PXp/ki/ktXzqlk6I1", "$1$abcdefgh$xYuxUFvxUOR4Pd6a7EeUS0"),
        (
            "SHA-256-crypt",
            "$5$saltsaltsaltsalt$X0ra9qlY7TJaGBDgorLevriQfwysW8fXnbybcO4mF4/",
            "$5$saltsaltsaltsalt$DQML1zBzgnGKZzzHKgCBv5swKIuOk206JdqmVkFv1f6",
        ),
        (
            "SHA-512-crypt",
            "$6$saltsaltsaltsalt$ph0yGsyjzqdeFaon7.gJZo8eAG5/rj9/JdzOu1Rl7dKzBYg3xgvl7T2VQ2Rt81bc5AXkdA54r0p8QvC1omD6R1",
            "$6$saltsaltsaltsalt$0OIGPDuiRPKNh88M0FmGG9U7BYCvo0nHRIKXtLm6h.s3IpT2dycI8djpM2Nhd7bEUCkEMhwvDfAYRqNrQ0Qc8/",
        ),
        ("old MySQL", "428567f408994404", "4abeaead409936b7"),
    ];
    let prefixes: &[(&str, &[&str])] = &[
        (
            "MD5 hex",
            &[
                "",
                "{md5}",
                "{MD5}",
                "{PLAIN-MD5}",
                "{plain-md5}",
                "{LDAP-MD5}",
            ],
        ),
        ("MD5 b64", &["{md5}", "{MD5}", "{LDAP-MD5}", "{PLAIN-MD5}"]),
        ("SHA1 hex", &["{sha1}", "{SHA1}", "{SHA}", "{sha}"]),
        ("DES", &["{crypt}", "{CRYPT}"]),
        (
            "MD5-crypt",
            &[
                "",
                "{crypt}",
                "{crypt_md5}",
                "{crypt-md5}",
                "{MD5-CRYPT}",
                "{MD5}",
                "{md5}",
            ],
        ),
        (
            "SHA-256-crypt",
            &["", "{crypt}", "{CRYPT}", "{SHA256-CRYPT}"],
        ),
        (
            "SHA-512-crypt",
            &["", "{crypt}", "{CRYPT}", "{SHA512-CRYPT}", "{sha512-crypt}"],
        ),
        ("old MySQL", &["{mysql}", "{MYSQL}"]),
    ];
    for (form, secret, umlaut) in vectors {
        let (_, pfx) = prefixes.iter().find(|(f, _)| *f == form).unwrap();
        for p in pfx.iter() {
            check(&format!("{p}{secret}"), SECRET);
            check(&format!("{p}{umlaut}"), UMLAUT);
        }
    }
    // Hex digests in either case.
    check("5EBE2294ECD0E0F08EAB7690D2A6EE69", SECRET);
    check("{md5}12841E4BA5E37D2FBFC78458C6714ADE", UMLAUT);
    check("{sha1}E5E9FA1BA31ECD1AE84F75CAAA474F3A663F05F4", SECRET);
}

/// Vectors from libxcrypt (Python `crypt`) for formats the contract table does not list.
#[test]
fn libxcrypt_vectors() {
    let bcrypt_secret = "abcdefghijklmnopqrstuuOQiyCxlgf/oeuTqixKmWdcYUh4Hjl0a";
    let bcrypt_umlaut = "abcdefghijklmnopqrstuuZVEMa1pjhlynBQ1qXmSvGBJpN9h1w8G";
    for variant in ["2a", "2b", "2y"] {
        for prefix in ["", "{crypt}", "{BLF-CRYPT}", "{blf-crypt}"] {
            check(&format!("{prefix}${variant}$05${bcrypt_secret}"), SECRET);
            check(&format!("{prefix}${variant}$05${bcrypt_umlaut}"), UMLAUT);
        }
    }
    let sha_rounds = [
        ("$6$rounds=10000$saltsalt$WowrPBpEDVlCoruBosYlrZycTCx3//TyDHYqEhX9DUHHt0XTztUqzQDDUuvUGRA8aUe9p55hcAxeGcu58sm3u.", SECRET),
        ("$6$rounds=10000$saltsalt$DWODAoD4tL/RVbgQsRZeD.TW6CZc.QAIqFhN54K2U4LTsS2vUWd9OxL4rWK1YapHSyWrs3yRSc/yekwDIsNyS0", UMLAUT),
        ("$5$rounds=1000$saltsalt$eKLZU9t9OoPWrqOQsoTIKG0aYkZ5rGOoOQhiIvoSWX2", SECRET),
        ("$5$rounds=1000$saltsalt$YRVhx9PBSueDWHkEqtuHEqx1Nq8ox8e8Dq1KpMd3bdC", UMLAUT),
        // MD5-crypt with an empty salt, and with a salt glibc cut to 8 characters.
        ("$1$$ysVNzQc4CTMkp5daOdZ.3/", SECRET),
        ("$1$$G9xLeipIGv89GurZHGiz00", UMLAUT),
    ];
    for (h, pw) in sha_rounds {
        check(&format!("{{crypt}}{h}"), pw);
    }
    // DES: only the first 8 bytes count, 7 bits each ("é" = c3 a9 reads as "C)").
    check("{crypt}abzp3RXJm5gNA", UMLAUT);
    assert!(verify("{crypt}abzp3RXJm5gNA", "p\u{e4}ssw\u{f6}"));
    assert!(verify("{crypt}abNANd1rDfiNc", "secret"));
    assert!(verify("{crypt}abhv/ZnAzL36k", "secret12345"));
    assert!(verify("{crypt}ab3TLBXmeOVag", "s\u{e9}cret"));
    assert!(verify("{crypt}ab3TLBXmeOVag", "sC)cret"));
    assert!(!verify("{crypt}abmizb72ph5go", "secret12"));
}

/// yescrypt from libxcrypt; kept apart because it is slow in debug builds.
#[test]
fn yescrypt_vectors() {
    check_slow(
        "{crypt}$y$j9T$abcdefgh$IUWJt2doU4Kf6E/JP1UkAT3S5O3Q7SSA8SJirXIlEu9",
        SECRET,
    );
    check_slow(
        "$y$j9T$abcdefgh$IWHRgaHCjXigFbSzo1yRMlRbRy06QHlEGGJjki14ew0",
        UMLAUT,
    );
    check_slow(
        "{CRYPT}$y$j75$0123456789abcdef$lXHUUCWrHwrLzNyofvDlYR5/ZFIhJH2eYDk.xm2Urd6",
        SECRET,
    );
    check_slow(
        "{crypt}$y$j75$0123456789abcdef$W4y0hrCa4mZVks2RPUhZLtNDhmCbfezAIhS.qF.bJq0",
        UMLAUT,
    );
}

/// Argon2 strings written by `doveadm pw` (libsodium).
#[test]
fn argon2_vectors() {
    check_slow(
        "{ARGON2I}$argon2i$v=19$m=32768,t=4,p=1$RlFszHy9ROZQ+onddjSlbA$UFzmVQ3x83atYS+vj7Cw0BaqPovmUGCadoN7F7Z6GIY",
        SECRET,
    );
    // Right password only for the second of each pair: these take seconds in debug builds.
    assert!(verify(
        "{argon2i}$argon2i$v=19$m=32768,t=4,p=1$RgAnh+uk0tTkMKu3/vTO9g$8km/H+UVxsSWHwFTPa7m42Q9Djk5suQdvOxIyt6M3Iw",
        UMLAUT,
    ));
    check_slow(
        "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$Prh814IPUO7YmB8qD476mg$hMianaO2BMuY3J+6+y63VBIyI2s6IRPjhMgOBQ/VNSo",
        SECRET,
    );
    assert!(verify(
        "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$/ij+HtzdGHnUnDdNi1NlQA$1FPp9AZURickSA6IQ2I9iNP0f9/li2VVI4mkTn6Napg",
        UMLAUT,
    ));
}

/// Dovecot's digest schemes, from `doveadm pw` and Python `hashlib`.
#[test]
fn dovecot_digest_vectors() {
    let cases = [
        ("{SSHA}0a2XYyR9GJLYY2hswupjulmbMjJtHQpV", SECRET),
        ("{SSHA}kS+Nxjv0eU+BOde/HnhwbZEtnUtpnSFl", UMLAUT),
        ("{SSHA256}awZzX6PVAbnD5QbZMfxRfPALolQ01XRBvPxpZ7g1l4/JaLmh", SECRET),
        ("{SSHA256}bwmNc5YoUBnULuKsgrtHrOoqinGP0DKJsVS/K7TxQJpL4zvJ", UMLAUT),
        ("{SSHA512}QDAcIlJ2DhzCmuKNzPdaFHv5QDXgnfWH+ZjtkM0+FX8kC5DGdaAqSsKbOWV4IQyoQ1sMzmq98pkf5ScXYkNrSBBfkbM=", SECRET),
        ("{SSHA512}1H5EPn8U0xuw7AXH7YRItsx0xfPWR0iKDYjlgcn1HCyTOKesBNi8TXlRZDONJABA2cjwAiR/W0z0UaUDEyp40Wgtcq4=", UMLAUT),
        ("{SMD5}+yasjKOPYoSXtg1xDDN8gDY7fao=", SECRET),
        ("{SMD5}gTmVr6nbjnQMoQ3AnbeOI2Xsk5s=", UMLAUT),
        ("{SHA1}5en6G6MezRroT3XKqkdPOmY/BfQ=", SECRET),
        ("{sha1}9Rfd8dMqES/xrVXGbRsSyzjn6Pc=", UMLAUT),
        ("{SHA256}K7gNU3sdo+OL0wNhqoVWhr3g6s1xYv72ol/pe/Unols=", SECRET),
        ("{SHA256}46970bef70aced8123f0d5d094717e2a5cd412041e03b26376049fe65b2834a4", UMLAUT),
        ("{SHA256}2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b", SECRET),
        ("{SHA512}vSsar3708Jvp9Szi2NWZZ02Bqp1qRCFpbcTZPdBhnWgs5WtNZKnvCXdhztmeD2cmW192CF5bDufKRpayrW/isg==", SECRET),
        ("{SHA512}csf+G9M7eFdGqclPm4DSWRzTjzwTyKpD91N/MqKoxfm10c7ha2nwIS4OOalNg/V7zzomuud2AHzrsB8NYxEnPg==", UMLAUT),
        ("{SHA512}72c7fe1bd33b785746a9c94f9b80d2591cd38f3c13c8aa43f7537f32a2a8c5f9b5d1cee16b69f0212e0e39a94d83f57bcf3a26bae776007cebb01f0d6311273e", UMLAUT),
    ];
    for (stored, pw) in cases {
        check(stored, pw);
    }
}

#[test]
fn plaintext_schemes() {
    for prefix in [
        "{plaintext}",
        "{PLAINTEXT}",
        "{PLAIN}",
        "{plain}",
        "{CLEAR}",
        "{CLEARTEXT}",
    ] {
        let stored = format!("{prefix}{SECRET}");
        check(&stored, SECRET);
        assert_eq!(plaintext(&stored), Some(SECRET));
        let id = identify(&stored).unwrap();
        assert!(id.plaintext && id.weak);
        let stored = format!("{prefix}{UMLAUT}");
        check(&stored, UMLAUT);
        assert_eq!(plaintext(&stored), Some(UMLAUT));
    }
    // Exact bytes: no trimming, no case folding, no Unicode normalisation.
    assert!(!verify("{plaintext}secret", "secret "));
    assert!(!verify("{plaintext}secret ", "secret"));
    assert!(!verify("{plaintext}secret", "secret\0"));
    assert!(!verify(
        "{plaintext}p\u{e4}ssw\u{f6}rd",
        "pa\u{308}ssw\u{f6}rd"
    ));
    // A cleartext may itself look like a prefix or a hash.
    check("{plaintext}{md5}x", "{md5}x");
    assert!(!verify("{plaintext}{md5}x", "x"));
    // Not plaintext, or empty: no cleartext.
    assert_eq!(plaintext("{md5}5ebe2294ecd0e0f08eab7690d2a6ee69"), None);
    assert_eq!(plaintext("secret"), None);
    assert_eq!(plaintext("{plaintext}"), None);
    assert!(!verify("{plaintext}", ""));
}

/// tpop3d 2003 snapshot bug: `{md5}` accepted wrong passwords. Also: its base64 encoder produced
/// all-`A` strings; such a value must never match a real password.
#[test]
fn regression_md5_not_inverted() {
    for stored in [
        "5ebe2294ecd0e0f08eab7690d2a6ee69",
        "{md5}5ebe2294ecd0e0f08eab7690d2a6ee69",
        "{md5}Xr4ilOzQ4PCOq3aQ0qbuaQ==",
    ] {
        assert!(verify(stored, SECRET));
        for wrong in ["", "wrong", "secret2", "5ebe2294ecd0e0f08eab7690d2a6ee69"] {
            assert!(!verify(stored, wrong), "{stored} accepted {wrong:?}");
        }
    }
    for pw in ["", SECRET, UMLAUT, "AAAAAAAAAAAAAAAAAAAAAA==", "A"] {
        assert!(!verify("{md5}AAAAAAAAAAAAAAAAAAAAAA==", pw));
    }
}

/// tpop3d 2003 snapshot bug: `{mysql}` compared the hash with itself, accepting any password.
#[test]
fn regression_mysql_not_self_compare() {
    let stored = "{mysql}428567f408994404";
    assert!(verify(stored, SECRET));
    for wrong in [
        "",
        "wrong",
        "secreT",
        "428567f408994404",
        "{mysql}428567f408994404",
    ] {
        assert!(!verify(stored, wrong), "accepted {wrong:?}");
    }
}

#[test]
fn mysql_details() {
    // Spaces and tabs are skipped, as MySQL's PASSWORD() did.
    assert!(verify("{mysql}428567f408994404", "sec ret"));
    assert!(verify("{mysql}428567f408994404", " secret\t"));
    assert!(verify("{mysql}4abeaead409936b7", "p\u{e4}ss w\u{f6}rd"));
    // The 8-digit variant holds the first word only.
    check("{mysql}428567f4", SECRET);
    check("{mysql}4abeaead", UMLAUT);
    assert_eq!(
        identify("{mysql}428567f4").unwrap().name,
        "old MySQL PASSWORD (short)"
    );
    // PASSWORD() wrote lower case and cleared the top bit of each word.
    assert_eq!(identify("{mysql}428567F408994404"), None);
    assert_eq!(identify("{mysql}c28567f408994404"), None);
    assert_eq!(identify("{mysql}428567f4089944"), None);
}

#[test]
fn apop() {
    let stored = "{plaintext}tanstaaf";
    let ts = "<1896.697170952@dbc.mtview.ca.us>";
    assert!(verify_apop(stored, ts, "c4c9334bac560ecc979e58001b3e22fb"));
    assert!(verify_apop(stored, ts, "C4C9334BAC560ECC979E58001B3E22FB"));
    assert!(verify_apop(
        "{CLEARTEXT}tanstaaf",
        ts,
        "c4c9334bac560ecc979e58001b3e22fb"
    ));
    assert!(!verify_apop(stored, ts, "c4c9334bac560ecc979e58001b3e22fc"));
    assert!(!verify_apop(stored, ts, "c4c9334bac560ecc979e58001b3e22f"));
    assert!(!verify_apop(
        stored,
        ts,
        "c4c9334bac560ecc979e58001b3e22fbb"
    ));
    assert!(!verify_apop(stored, ts, ""));
    assert!(!verify_apop(
        stored,
        "<1896.697170953@dbc.mtview.ca.us>",
        "c4c9334bac560ecc979e58001b3e22fb"
    ));
    assert!(!verify_apop(
        "{plaintext}tanstaaF",
        ts,
        "c4c9334bac560ecc979e58001b3e22fb"
    ));
    // Only plaintext permits APOP, even when the digest stored is the cleartext's MD5.
    let md5_of_secret = "{md5}5ebe2294ecd0e0f08eab7690d2a6ee69";
    let digest = digest::md5_hex(format!("{ts}secret").as_bytes());
    assert!(!verify_apop(md5_of_secret, ts, &digest));
    // A missing timestamp would make md5(password) a replayable password equivalent.
    let bare = digest::md5_hex(b"tanstaaf");
    assert!(!verify_apop(stored, "", &bare));
    assert!(!verify_apop(
        stored,
        "1896.697170952@dbc",
        "c4c9334bac560ecc979e58001b3e22fb"
    ));
}

/// Empty, unknown, truncated and hostile stored values: never accepted, never a panic.
#[test]
fn malformed_values() {
    let huge_argon = "{ARGON2ID}$argon2id$v=19$m=4194304,t=3,p=1$Prh814IPUO7YmB8qD476mg$hMianaO2BMuY3J+6+y63VBIyI2s6IRPjhMgOBQ/VNSo";
    let huge_yescrypt = "{crypt}$y$jRT$abcdefgh$IUWJt2doU4Kf6E/JP1UkAT3S5O3Q7SSA8SJirXIlEu9";
    let bad = [
        "",
        "{md5}",
        "{}5ebe2294ecd0e0f08eab7690d2a6ee69",
        "{md5 }5ebe2294ecd0e0f08eab7690d2a6ee69",
        "{unknown}5ebe2294ecd0e0f08eab7690d2a6ee69",
        "{md5",
        "md5}5ebe2294ecd0e0f08eab7690d2a6ee69",
        "5ebe2294ecd0e0f08eab7690d2a6ee6",
        "5ebe2294ecd0e0f08eab7690d2a6ee699",
        "5ebe2294ecd0e0f08eab7690d2a6ee6g",
        " 5ebe2294ecd0e0f08eab7690d2a6ee69",
        "5ebe2294ecd0e0f08eab7690d2a6ee69\n",
        "Xr4ilOzQ4PCOq3aQ0qbuaQ==",
        "{md5}Xr4ilOzQ4PCOq3aQ0qbuaQ",
        "{md5}Xr4ilOzQ4PCOq3aQ0qbuaR==",
        "secret",
        "abNANd1rDfiNc",
        "{crypt}",
        "{crypt}*",
        "{crypt}!abNANd1rDfiNc",
        "{crypt}abNANd1rDfiN",
        "{crypt}a\u{1}NANd1rDfiNc",
        "{crypt}ab\u{e9}ANd1rDfiN",
        "{crypt}$1$abcdefghi$cHJi5PXp/ki/ktXzqlk6I1",
        "{crypt}$1$abcdefgh$cHJi5PXp/ki/ktXzqlk6I",
        "{crypt}$1$ab\u{1}defgh$cHJi5PXp/ki/ktXzqlk6I1",
        "{crypt_md5}abNANd1rDfiNc",
        "{crypt}$6$saltsaltsaltsalt$short",
        "{crypt}$6$rounds=$saltsalt$WowrPBpEDVlCoruBosYlrZycTCx3//TyDHYqEhX9DUHHt0XTztUqzQDDUuvUGRA8aUe9p55hcAxeGcu58sm3u.",
        "{crypt}$6$rounds=",
        "{crypt}$6$rounds=010000$saltsalt$WowrPBpEDVlCoruBosYlrZycTCx3//TyDHYqEhX9DUHHt0XTztUqzQDDUuvUGRA8aUe9p55hcAxeGcu58sm3u.",
        "{crypt}$6$rounds=999$saltsalt$WowrPBpEDVlCoruBosYlrZycTCx3//TyDHYqEhX9DUHHt0XTztUqzQDDUuvUGRA8aUe9p55hcAxeGcu58sm3u.",
        "{crypt}$6$rounds=99999999999$saltsalt$WowrPBpEDVlCoruBosYlrZycTCx3//TyDHYqEhX9DUHHt0XTztUqzQDDUuvUGRA8aUe9p55hcAxeGcu58sm3u.",
        "{crypt}$6$saltsaltsaltsaltX$ph0yGsyjzqdeFaon7.gJZo8eAG5/rj9/JdzOu1Rl7dKzBYg3xgvl7T2VQ2Rt81bc5AXkdA54r0p8QvC1omD6R1",
        "{SHA512-CRYPT}$5$saltsaltsaltsalt$X0ra9qlY7TJaGBDgorLevriQfwysW8fXnbybcO4mF4/",
        "{SHA256-CRYPT}$6$saltsaltsaltsalt$ph0yGsyjzqdeFaon7.gJZo8eAG5/rj9/JdzOu1Rl7dKzBYg3xgvl7T2VQ2Rt81bc5AXkdA54r0p8QvC1omD6R1",
        "$2y$05$short",
        "$2y$5$abcdefghijklmnopqrstuuOQiyCxlgf/oeuTqixKmWdcYUh4Hjl0a",
        "$2y$03$abcdefghijklmnopqrstuuOQiyCxlgf/oeuTqixKmWdcYUh4Hjl0a",
        "$2y$32$abcdefghijklmnopqrstuuOQiyCxlgf/oeuTqixKmWdcYUh4Hjl0a",
        "$2x$05$abcdefghijklmnopqrstuuOQiyCxlgf/oeuTqixKmWdcYUh4Hjl0a",
        "$2y$05$abcdefghijklmnopqrstuuOQiyCxlgf/oeuTqixKmWdcYUh4Hjl0",
        "{crypt}$y$j9T$abcdefgh$",
        "{crypt}$y$j9T$$IUWJt2doU4Kf6E/JP1UkAT3S5O3Q7SSA8SJirXIlEu9",
        "{crypt}$y$$abcdefgh$IUWJt2doU4Kf6E/JP1UkAT3S5O3Q7SSA8SJirXIlEu9",
        "{crypt}$y$j9T$abcdefgh$IUWJt2doU4Kf6E/JP1UkAT3S5O3Q7SSA8SJirXIlEu9$",
        "{crypt}$y$!9T$abcdefgh$IUWJt2doU4Kf6E/JP1UkAT3S5O3Q7SSA8SJirXIlEu9",
        huge_yescrypt,
        huge_argon,
        "{crypt}$argon2id$v=19$m=65536,t=3,p=1$Prh814IPUO7YmB8qD476mg$hMianaO2BMuY3J+6+y63VBIyI2s6IRPjhMgOBQ/VNSo",
        "{ARGON2I}$argon2id$v=19$m=65536,t=3,p=1$Prh814IPUO7YmB8qD476mg$hMianaO2BMuY3J+6+y63VBIyI2s6IRPjhMgOBQ/VNSo",
        "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$Prh814IPUO7YmB8qD476mg$",
        "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$Prh814IPUO7YmB8qD476mg",
        "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$AAAA$hMianaO2BMuY3J+6+y63VBIyI2s6IRPjhMgOBQ/VNSo",
        "{ARGON2ID}$argon2id$v=18$m=65536,t=3,p=1$Prh814IPUO7YmB8qD476mg$hMianaO2BMuY3J+6+y63VBIyI2s6IRPjhMgOBQ/VNSo",
        "{SSHA}5en6G6MezRroT3XKqkdPOmY/BfQ=",
        "{SSHA}!!!!",
        "{sha1}e5e9fa1ba31ecd1ae84f75caaa474f3a663f05f",
        "{SHA256}K7gNU3sdo+OL0wNhqoVWhr3g6s1xYv72ol/pe/Unol=",
        "{mysql}",
        "{mysql}428567f40899440",
        "{mysql} 428567f408994404",
        "{plaintext}",
    ];
    for stored in bad {
        assert_eq!(identify(stored), None, "{stored:?} must be malformed");
        for pw in ["", SECRET, UMLAUT, "wrong"] {
            assert!(!verify(stored, pw), "{stored:?} accepted {pw:?}");
        }
        assert_eq!(plaintext(stored), None);
    }
}

/// Every prefix of every valid value is malformed or fails to verify, without panicking.
#[test]
fn truncations_never_verify() {
    let valid = [
        ("{md5}Xr4ilOzQ4PCOq3aQ0qbuaQ==", SECRET),
        ("{crypt}abNANd1rDfiNc", SECRET),
        ("{crypt}$1$abcdefgh$cHJi5PXp/ki/ktXzqlk6I1", SECRET),
        (
            "{crypt}$5$rounds=1000$saltsalt$eKLZU9t9OoPWrqOQsoTIKG0aYkZ5rGOoOQhiIvoSWX2",
            SECRET,
        ),
        (
            "{BLF-CRYPT}$2y$05$abcdefghijklmnopqrstuuOQiyCxlgf/oeuTqixKmWdcYUh4Hjl0a",
            SECRET,
        ),
        (
            "{SSHA256}awZzX6PVAbnD5QbZMfxRfPALolQ01XRBvPxpZ7g1l4/JaLmh",
            SECRET,
        ),
        ("{mysql}428567f408994404", SECRET),
        ("{plaintext}secret", SECRET),
    ];
    for (stored, pw) in valid {
        for (i, _) in stored.char_indices().skip(1) {
            let cut = &stored[..i];
            // The one legitimate short form: {mysql} with only the first word.
            let expected = cut == "{mysql}428567f4";
            assert_eq!(verify(cut, pw), expected, "{cut:?}");
        }
    }
    // The memory-hard strings: parsing only (each verification takes a while in debug builds).
    for stored in [
        "{crypt}$y$j9T$abcdefgh$IUWJt2doU4Kf6E/JP1UkAT3S5O3Q7SSA8SJirXIlEu9",
        "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$Prh814IPUO7YmB8qD476mg$hMianaO2BMuY3J+6+y63VBIyI2s6IRPjhMgOBQ/VNSo",
    ] {
        for (i, _) in stored.char_indices() {
            let _ = identify(&stored[..i]);
        }
    }
}

/// crypt(3) takes C strings: a NUL never reaches it, and over-long passwords are refused.
#[test]
fn crypt_password_limits() {
    assert!(!verify("{crypt}abNANd1rDfiNc", "secret\0"));
    assert!(!verify("{crypt}abNANd1rDfiNc", "secret\0xyz"));
    let long = "a".repeat(MAX_PASSWORD_LEN + 1);
    let started = std::time::Instant::now();
    assert!(!verify(
        "{crypt}$6$saltsaltsaltsalt$ph0yGsyjzqdeFaon7.gJZo8eAG5/rj9/JdzOu1Rl7dKzBYg3xgvl7T2VQ2Rt81bc5AXkdA54r0p8QvC1omD6R1",
        &"a".repeat(1 << 20)
    ));
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    assert_eq!(
        hash(Scheme::Md5, &long).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    let max = "b".repeat(MAX_PASSWORD_LEN);
    let stored = hash(Scheme::Sha256Crypt, &max).unwrap();
    assert!(verify(&stored, &max));
}

#[test]
fn identify_names_and_weakness() {
    let cases: &[(&str, &str, bool)] = &[
        ("5ebe2294ecd0e0f08eab7690d2a6ee69", "MD5 (hex)", true),
        ("{md5}Xr4ilOzQ4PCOq3aQ0qbuaQ==", "MD5 (base64)", true),
        ("{sha1}e5e9fa1ba31ecd1ae84f75caaa474f3a663f05f4", "SHA-1 (hex)", true),
        ("{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=", "SHA-1 (base64)", true),
        ("{SHA256}K7gNU3sdo+OL0wNhqoVWhr3g6s1xYv72ol/pe/Unols=", "SHA-256 (base64)", true),
        ("{SSHA}0a2XYyR9GJLYY2hswupjulmbMjJtHQpV", "SSHA", true),
        ("{SSHA512}QDAcIlJ2DhzCmuKNzPdaFHv5QDXgnfWH+ZjtkM0+FX8kC5DGdaAqSsKbOWV4IQyoQ1sMzmq98pkf5ScXYkNrSBBfkbM=", "SSHA512", true),
        ("{mysql}428567f408994404", "old MySQL PASSWORD", true),
        ("{plaintext}secret", "plaintext", true),
        ("{crypt}abNANd1rDfiNc", "DES crypt", true),
        ("{crypt_md5}$1$abcdefgh$cHJi5PXp/ki/ktXzqlk6I1", "MD5-crypt", true),
        ("{MD5}$1$abcdefgh$cHJi5PXp/ki/ktXzqlk6I1", "MD5-crypt", true),
        ("$5$saltsaltsaltsalt$X0ra9qlY7TJaGBDgorLevriQfwysW8fXnbybcO4mF4/", "SHA-256-crypt", false),
        ("{crypt}$6$saltsaltsaltsalt$ph0yGsyjzqdeFaon7.gJZo8eAG5/rj9/JdzOu1Rl7dKzBYg3xgvl7T2VQ2Rt81bc5AXkdA54r0p8QvC1omD6R1", "SHA-512-crypt", false),
        ("{BLF-CRYPT}$2y$05$abcdefghijklmnopqrstuuOQiyCxlgf/oeuTqixKmWdcYUh4Hjl0a", "bcrypt", false),
        ("{crypt}$y$j9T$abcdefgh$IUWJt2doU4Kf6E/JP1UkAT3S5O3Q7SSA8SJirXIlEu9", "yescrypt", false),
        ("{ARGON2I}$argon2i$v=19$m=32768,t=4,p=1$RlFszHy9ROZQ+onddjSlbA$UFzmVQ3x83atYS+vj7Cw0BaqPovmUGCadoN7F7Z6GIY", "Argon2i", false),
        ("{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$Prh814IPUO7YmB8qD476mg$hMianaO2BMuY3J+6+y63VBIyI2s6IRPjhMgOBQ/VNSo", "Argon2id", false),
    ];
    for &(stored, name, weak) in cases {
        let id = identify(stored).unwrap_or_else(|| panic!("{stored} not identified"));
        assert_eq!((id.name, id.weak), (name, weak), "{stored}");
        assert_eq!(id.plaintext, name == "plaintext");
    }
}

#[test]
fn scheme_names() {
    for scheme in Scheme::ALL {
        assert_eq!(Scheme::parse(scheme.name()).unwrap(), scheme);
        assert_eq!(
            scheme.name().to_lowercase().parse::<Scheme>().unwrap(),
            scheme
        );
        assert_eq!(scheme.to_string(), scheme.name());
    }
    assert_eq!(Scheme::default(), Scheme::Crypt);
    assert_eq!(Scheme::parse("crypt").unwrap(), Scheme::Crypt);
    assert_eq!(Scheme::parse("sha512-crypt").unwrap(), Scheme::Sha512Crypt);
    assert_eq!(Scheme::parse("Blf-Crypt").unwrap(), Scheme::BlfCrypt);
    assert_eq!(Scheme::parse("yescrypt").unwrap(), Scheme::Yescrypt);
    for alias in ["CRYPT_MD5", "crypt-md5", "MD5-CRYPT"] {
        assert_eq!(Scheme::parse(alias).unwrap(), Scheme::CryptMd5);
    }
    assert_eq!(Scheme::parse("plain").unwrap(), Scheme::Plaintext);
    for bad in ["", "sha1", "DES", "ARGON2I", "crypt md5"] {
        let err = Scheme::parse(bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains("SHA512-CRYPT"), "{err}");
    }
}

/// `hash()` then `verify()` for every scheme and both passwords, with the expected prefixes.
#[test]
fn hash_round_trips() {
    let expect: &[(Scheme, &str, &str, bool)] = &[
        (Scheme::Crypt, "{crypt}$6$", "SHA-512-crypt", false),
        (
            Scheme::Sha512Crypt,
            "{SHA512-CRYPT}$6$",
            "SHA-512-crypt",
            false,
        ),
        (
            Scheme::Sha256Crypt,
            "{SHA256-CRYPT}$5$",
            "SHA-256-crypt",
            false,
        ),
        (Scheme::BlfCrypt, "{BLF-CRYPT}$2y$10$", "bcrypt", false),
        (
            Scheme::Argon2id,
            "{ARGON2ID}$argon2id$v=19$m=19456,t=2,p=1$",
            "Argon2id",
            false,
        ),
        (Scheme::Yescrypt, "{crypt}$y$j9T$", "yescrypt", false),
        (Scheme::CryptMd5, "{crypt_md5}$1$", "MD5-crypt", true),
        (Scheme::Md5, "{md5}", "MD5 (hex)", true),
        (Scheme::Plaintext, "{plaintext}", "plaintext", true),
    ];
    assert_eq!(expect.len(), Scheme::ALL.len());
    std::thread::scope(|s| {
        for &(scheme, prefix, name, weak) in expect {
            s.spawn(move || {
                for pw in [SECRET, UMLAUT] {
                    let stored = hash(scheme, pw).unwrap();
                    assert!(stored.starts_with(prefix), "{scheme}: {stored}");
                    check_slow(&stored, pw);
                    assert!(!verify(&stored, "wrong"), "{stored}");
                    let id = identify(&stored).unwrap();
                    assert_eq!((id.name, id.weak), (name, weak), "{stored}");
                    let again = hash(scheme, pw).unwrap();
                    let salted = !matches!(scheme, Scheme::Md5 | Scheme::Plaintext);
                    assert_eq!(again != stored, salted, "{scheme}: salt must be random");
                }
            });
        }
    });
    assert_eq!(
        hash(Scheme::Md5, SECRET).unwrap(),
        "{md5}5ebe2294ecd0e0f08eab7690d2a6ee69"
    );
    assert_eq!(
        hash(Scheme::Plaintext, UMLAUT).unwrap(),
        "{plaintext}p\u{e4}ssw\u{f6}rd"
    );
}

#[test]
fn hash_refuses_unusable_passwords() {
    for pw in ["", "a\0b"] {
        for scheme in Scheme::ALL {
            assert_eq!(
                hash(scheme, pw).unwrap_err().kind(),
                ErrorKind::InvalidInput
            );
        }
    }
}

/// Dovecot 2.3's DES-CRYPT and PBKDF2, written by `doveadm pw -s SCHEME` (dovecot-core 2.3.19).
#[test]
fn dovecot_des_crypt_and_pbkdf2_vectors() {
    let cases = [
        ("{DES-CRYPT}UPU4E2PEANVpo", SECRET),
        ("{DES-CRYPT}zhzR/CFYm97bQ", SECRET),
        ("{des-crypt}EnA40Q4w4cOqg", UMLAUT),
        (
            "{PBKDF2}$1$l45uC7dfLknp2Jok$5000$bdc1dba8000b899941d8463b5a2d134cd1420953",
            SECRET,
        ),
        (
            "{PBKDF2}$1$VRyPVipR2fuRD/Zy$5000$52f984a17eb8f81dcea4b08c54f05323d6f2ee66",
            UMLAUT,
        ),
        (
            "{PBKDF2}$1$k6dZOu5A7W9tqtlT$12000$d31412f2a1fb955b086711ec962b4363100014e6",
            UMLAUT,
        ),
    ];
    for (stored, pw) in cases {
        check(stored, pw);
    }
    assert_eq!(identify(cases[0].0).unwrap().name, "DES crypt");
    assert_eq!(identify(cases[3].0).unwrap().name, "PBKDF2-SHA1");
    for bad in [
        "{PBKDF2}$1$l45uC7dfLknp2Jok$5000$bdc1dba8000b899941d8463b5a2d134cd142095",
        "{PBKDF2}$1$l45uC7dfLknp2Jok$05000$bdc1dba8000b899941d8463b5a2d134cd1420953",
        "{PBKDF2}$1$l45uC7dfLknp2Jok$0$bdc1dba8000b899941d8463b5a2d134cd1420953",
        "{PBKDF2}$1$$5000$bdc1dba8000b899941d8463b5a2d134cd1420953",
        "{PBKDF2}$2$l45uC7dfLknp2Jok$5000$bdc1dba8000b899941d8463b5a2d134cd1420953",
        "{PBKDF2}$1$l45uC7dfLknp2Jok$5000$bdc1dba8000b899941d8463b5a2d134cd1420953$",
        "{DES-CRYPT}$1$abcdefgh$cHJi5PXp/ki/ktXzqlk6I1",
    ] {
        assert!(!verify(bad, SECRET), "{bad}");
        assert!(identify(bad).is_none(), "{bad}");
    }
}

/// Values whose cost exceeds the limits are recognised, flagged, and never computed (computing
/// the 999999999-round SHA-512-crypt or bcrypt cost 31 would take hours: this test would hang).
#[test]
fn over_cost_hashes_are_never_computed() {
    let costly = [
        "{crypt}$6$rounds=999999999$saltsaltsaltsalt$ph0yGsyjzqdeFaon7.gJZo8eAG5/rj9/JdzOu1Rl7dKzBYg3xgvl7T2VQ2Rt81bc5AXkdA54r0p8QvC1omD6R1",
        "{crypt}$5$rounds=500001$saltsalt$hc82M0f0nVCTJ2WBIqDWdNMwVUQZjCpAPQ3kssG6vOA",
        "{BLF-CRYPT}$2b$31$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui",
        "{crypt}$2y$13$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui",
        "{PBKDF2}$1$l45uC7dfLknp2Jok$4000000000$bdc1dba8000b899941d8463b5a2d134cd1420953",
        "{ARGON2ID}$argon2id$v=19$m=1048576,t=4,p=1$Prh814IPUO7YmB8qD476mg$hMianaO2BMuY3J+6+y63VBIyI2s6IRPjhMgOBQ/VNSo",
    ];
    for stored in costly {
        let id = identify(stored).unwrap_or_else(|| panic!("{stored} must be identified"));
        assert!(id.too_costly, "{stored}");
        assert!(!verify(stored, SECRET), "{stored}");
    }
    for fine in [
        "{crypt}$5$rounds=500000$saltsalt$hc82M0f0nVCTJ2WBIqDWdNMwVUQZjCpAPQ3kssG6vOA",
        "{BLF-CRYPT}$2y$12$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui",
        "{PBKDF2}$1$l45uC7dfLknp2Jok$5000$bdc1dba8000b899941d8463b5a2d134cd1420953",
        "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$Prh814IPUO7YmB8qD476mg$hMianaO2BMuY3J+6+y63VBIyI2s6IRPjhMgOBQ/VNSo",
    ] {
        assert!(!identify(fine).unwrap().too_costly, "{fine}");
    }
}

/// The vectors of `tests/data/dovecot-2.3-doveadm-pw.txt`: `(command, password, user, stored)`.
fn doveadm_vectors() -> Vec<(
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static str,
)> {
    include_str!("../../tests/data/dovecot-2.3-doveadm-pw.txt")
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            let (command, stored) = line.split_once('\t').expect("command TAB output");
            let password = command
                .split_once(" -p '")
                .and_then(|(_, p)| p.strip_suffix('\''))
                .expect("-p 'PASSWORD' ends the command");
            let user = command
                .split_once(" -u ")
                .and_then(|(_, rest)| rest.split(' ').next());
            (command, password, user, stored)
        })
        .collect()
}

/// Passwords that must not match `right` in any scheme, PLAIN-TRUNC's prefix rule included.
fn wrong_for_vector(right: &str) -> Vec<String> {
    let mut first_flipped: Vec<char> = right.chars().collect();
    first_flipped[0] = if first_flipped[0].is_uppercase() {
        first_flipped[0].to_lowercase().next().unwrap()
    } else {
        first_flipped[0].to_uppercase().next().unwrap()
    };
    vec![
        "wrong-password".to_string(),
        first_flipped.into_iter().collect(),
        right.chars().take(2).collect(),
    ]
}

/// Dovecot 2.3's challenge-response, one-time and odd plaintext schemes, as `doveadm pw` wrote
/// them: each verifies its password (DIGEST-MD5 with its user), refuses wrong ones, and the
/// length-less PLAIN-TRUNC that doveadm writes (and Dovecot refuses) never verifies.
#[test]
fn dovecot_doveadm_pw_vectors() {
    let vectors = doveadm_vectors();
    assert!(vectors.len() >= 30, "{} vectors", vectors.len());
    for (command, pw, user, stored) in vectors {
        if command.starts_with("doveadm pw -s PLAIN-TRUNC ") {
            assert!(!verify(stored, pw), "{command}: Dovecot refuses {stored}");
            assert!(identify(stored).is_none(), "{command}: {stored}");
            continue;
        }
        let id = identify(stored).unwrap_or_else(|| panic!("{command}: {stored} unidentified"));
        assert!(
            id.weak && !id.plaintext && !id.too_costly,
            "{command}: {id:?}"
        );
        let login = user.unwrap_or("someone@example.org");
        assert!(verify_user(stored, login, pw), "{command}: {stored}");
        for wrong in wrong_for_vector(pw) {
            assert!(!verify_user(stored, login, &wrong), "{command}: {wrong:?}");
        }
        match user {
            Some(user) => {
                assert!(id.needs_user && id.name == "DIGEST-MD5", "{command}");
                assert!(!verify(stored, pw), "{command}: no user, no match");
                for other in ["mallory@example.org", "alice", "alice@example.com", ""] {
                    assert!(!verify_user(stored, other, pw), "{command}: as {other}");
                }
                // The user and realm are compared as given: Dovecot hashed them that way.
                let flipped: String = user.chars().map(|c| c.to_ascii_uppercase()).collect();
                assert!(!verify_user(stored, &flipped, pw), "{command}: {flipped}");
            }
            None => {
                assert!(!id.needs_user, "{command}");
                assert!(verify(stored, pw), "{command}: {stored}");
            }
        }
    }
}

/// Names, weakness, encodings (Dovecot reads its hex schemes as base64 too, and prefixes in any
/// case) and cost classes of the new schemes.
#[test]
fn dovecot_challenge_schemes_identify_and_encode() {
    let named = [
        ("{SCRAM-SHA-1}4096,YfA1sDgAX9rhxB4OfLRA3g==,HKVM+K+rnPFD1U3s1wUOZmML3aY=,PugjxtLScHMiDJS7TWXb39shh8s=", "SCRAM-SHA-1", "SCRAM-SHA-1 4096"),
        ("{SCRAM-SHA-256}4096,mNBpcQNQtrf0/YoXV6GeWQ==,/m+3vDrF56xl1bUjAW0OYyyL01pHWxQZbrH20UWMC/o=,X+GtNnUbuBTXE8HPsr426bca+44YgZqra5JZv5iyVzg=", "SCRAM-SHA-256", "SCRAM-SHA-256 4096"),
        ("{CRAM-MD5}cd3ba7deaad6e5ca23448ba42e379747a9e0f7f1fbc00c8a81bbaac395731b56", "CRAM-MD5 (HMAC-MD5 context)", "CRAM-MD5 (HMAC-MD5 context)"),
        ("{OTP}sha1 1024 1ca7824842e04589 8b20adafa054dd45", "OTP (RFC 2289)", "OTP (RFC 2289) sha1 1024"),
        ("{PLAIN-MD4}67d3dafef63ff00603aeef3769cfbf0d", "MD4 (hex)", "MD4 (hex)"),
        ("{PLAIN-TRUNC}6-secret", "truncated plaintext", "truncated plaintext"),
    ];
    for (stored, name, class) in named {
        let id = identify(stored).unwrap();
        assert_eq!(
            (id.name, id.weak, id.plaintext),
            (name, true, false),
            "{stored}"
        );
        assert_eq!(cost_class(stored).as_deref(), Some(class), "{stored}");
        assert!(verify(stored, SECRET), "{stored}");
        assert_eq!(plaintext(stored), None, "{stored}: not usable for APOP");
    }
    // Verified with `doveadm pw -t`: base64 forms, upper-case hex, any case of the prefix.
    for stored in [
        "{CRAM-MD5}zTun3qrW5cojRIukLjeXR6ng9/H7wAyKgbuqw5VzG1Y=",
        "{hmac-md5}CD3BA7DEAAD6E5CA23448BA42E379747A9E0F7F1FBC00C8A81BBAAC395731B56",
        "{PLAIN-MD4}Z9Pa/vY/8AYDru83ac+/DQ==",
        "{plain-md4}67D3DAFEF63FF00603AEEF3769CFBF0D",
        "{scram-sha-1}4096,YfA1sDgAX9rhxB4OfLRA3g==,HKVM+K+rnPFD1U3s1wUOZmML3aY=,PugjxtLScHMiDJS7TWXb39shh8s=",
        "{OTP}sha1 1024 1CA7824842E04589 8B20ADAFA054DD45",
    ] {
        check(stored, SECRET);
    }
    assert!(verify_user(
        "{DIGEST-MD5}VD4a7F02FPAxQWUtatpRsg==",
        "alice@example.org",
        SECRET
    ));
    assert_eq!(
        identify("{PLAIN-MD4}Z9Pa/vY/8AYDru83ac+/DQ==")
            .unwrap()
            .name,
        "MD4 (base64)"
    );
}

/// Values Dovecot refuses as invalid entries (or that never matched there) are malformed here.
#[test]
fn dovecot_challenge_schemes_malformed() {
    for bad in [
        // SCRAM: too few iterations for RFC 5802 (Dovecot refuses below 4096), odd numbers,
        // wrong field counts, key sizes or base64.
        "{SCRAM-SHA-1}4095,YfA1sDgAX9rhxB4OfLRA3g==,HKVM+K+rnPFD1U3s1wUOZmML3aY=,PugjxtLScHMiDJS7TWXb39shh8s=",
        "{SCRAM-SHA-1}04096,YfA1sDgAX9rhxB4OfLRA3g==,HKVM+K+rnPFD1U3s1wUOZmML3aY=,PugjxtLScHMiDJS7TWXb39shh8s=",
        "{SCRAM-SHA-1}4096,YfA1sDgAX9rhxB4OfLRA3g==,HKVM+K+rnPFD1U3s1wUOZmML3aY=",
        "{SCRAM-SHA-1}4096,YfA1sDgAX9rhxB4OfLRA3g==,HKVM+K+rnPFD1U3s1wUOZmML3aY=,PugjxtLScHMiDJS7TWXb39shh8s=,",
        "{SCRAM-SHA-256}4096,YfA1sDgAX9rhxB4OfLRA3g==,HKVM+K+rnPFD1U3s1wUOZmML3aY=,PugjxtLScHMiDJS7TWXb39shh8s=",
        "{SCRAM-SHA-1}4096,,HKVM+K+rnPFD1U3s1wUOZmML3aY=,PugjxtLScHMiDJS7TWXb39shh8s=",
        "{SCRAM-SHA-1}4096,YfA1sDgAX9rhxB4OfLRA3g==,HKVM+K+rnPFD1U3s1wUOZmML3aY=,AAAAjxtLScHMiDJS7TWXb39shh8s=",
        // CRAM-MD5 and DIGEST-MD5 of the wrong length.
        "{CRAM-MD5}cd3ba7deaad6e5ca23448ba42e379747a9e0f7f1fbc00c8a81bbaac395731b5",
        "{CRAM-MD5}5ebe2294ecd0e0f08eab7690d2a6ee69",
        "{DIGEST-MD5}543e1aec5d3614f03141652d6ada51b",
        // OTP: an algorithm Dovecot does not know (or spells otherwise), a sign, leading
        // zeros, tabs, a seed too long or not alphanumeric, a short hash, trailing text.
        "{OTP}sha256 1024 1ca7824842e04589 8b20adafa054dd45",
        "{OTP}SHA1 1024 1ca7824842e04589 8b20adafa054dd45",
        "{OTP}sha1 -1 1ca7824842e04589 8b20adafa054dd45",
        "{OTP}sha1 01024 1ca7824842e04589 8b20adafa054dd45",
        "{OTP}sha1\t1024 1ca7824842e04589 8b20adafa054dd45",
        "{OTP}sha1 1024 1ca7824842e045891 8b20adafa054dd45",
        "{OTP}sha1 1024 1ca78248-2e04589 8b20adafa054dd45",
        "{OTP}sha1 1024 1ca7824842e04589 8b20adafa054dd4",
        "{OTP}sha1 1024 1ca7824842e04589 8b20adafa054dd45 x",
        // PLAIN-TRUNC without a dash, or with nothing left to compare (`0-` would match any
        // password in Dovecot).
        "{PLAIN-TRUNC}6secret",
        "{PLAIN-TRUNC}0-",
        "{PLAIN-TRUNC}-",
    ] {
        assert!(identify(bad).is_none(), "{bad}");
        assert!(!verify_user(bad, "alice@example.org", SECRET), "{bad}");
    }
}

/// SCRAM iterations and OTP sequences beyond the limits are recognised, flagged and never
/// computed; at the limit they still are.
#[test]
fn over_cost_challenge_schemes_are_never_computed() {
    let scram = |rounds: u32| {
        format!("{{SCRAM-SHA-256}}{rounds},mNBpcQNQtrf0/YoXV6GeWQ==,/m+3vDrF56xl1bUjAW0OYyyL01pHWxQZbrH20UWMC/o=,X+GtNnUbuBTXE8HPsr426bca+44YgZqra5JZv5iyVzg=")
    };
    let otp = |seq: u32| format!("{{OTP}}sha1 {seq} 1ca7824842e04589 8b20adafa054dd45");
    for costly in [
        scram(limits::MAX_SCRAM_ROUNDS + 1),
        scram(u32::MAX),
        otp(limits::MAX_OTP_SEQUENCE + 1),
        otp(u32::MAX),
    ] {
        let id = identify(&costly).unwrap();
        assert!(id.too_costly, "{costly}");
        assert!(!verify(&costly, SECRET), "{costly}");
        assert!(limits::refuse_over_cost(&costly).is_err(), "{costly}");
    }
    for fine in [
        scram(limits::MAX_SCRAM_ROUNDS),
        otp(limits::MAX_OTP_SEQUENCE),
    ] {
        assert!(!identify(&fine).unwrap().too_costly, "{fine}");
    }
    // At the limit it is computed (another sequence than the one it was made with: no match).
    assert!(!verify(&otp(limits::MAX_OTP_SEQUENCE), SECRET));
}

/// `hash_new` applies the length policy (counted in characters) before hashing.
#[test]
fn hash_new_applies_the_minimum_length() {
    let short = hash_new(Scheme::Md5, "seven77", 8).unwrap_err();
    assert_eq!(short.kind(), ErrorKind::InvalidInput);
    assert!(
        short.to_string().contains("at least 8 characters"),
        "{short}"
    );
    // Eight characters, ten bytes.
    assert!(verify(
        &hash_new(Scheme::Md5, "pässwörd", 8).unwrap(),
        "pässwörd"
    ));
    assert!(hash_new(Scheme::Md5, "pässwörd", 9).is_err());
    assert!(hash_new(Scheme::Md5, "a\0bcdefghi", 8).is_err());
}
