//! Netstrings (`LEN:DATA,`), the framing of Postfix's socketmap protocol.

use std::io::{self, BufRead, Write};

/// Postfix's own limit on a socketmap reply; requests are held to the same bound.
pub const MAX_LEN: usize = 100_000;

/// Why a netstring could not be read. After any of these the stream is out of step (the
/// length is unknown or the data too long to skip safely), so the connection must end.
#[derive(Debug)]
pub enum FrameError {
    /// The peer closed the connection between two requests.
    Closed,
    /// A read failed or timed out.
    Io(io::Error),
    /// Not a netstring: a bad length, a missing `:` or `,`, or over [`MAX_LEN`].
    Malformed(&'static str),
}

/// Reads one netstring.
pub fn read(input: &mut impl BufRead) -> Result<Vec<u8>, FrameError> {
    let len = read_length(input)?;
    let mut data = vec![0; len + 1];
    input.read_exact(&mut data).map_err(eof_is_malformed)?;
    if data.pop() != Some(b',') {
        return Err(FrameError::Malformed("netstring not terminated by ','"));
    }
    Ok(data)
}

fn read_length(input: &mut impl BufRead) -> Result<usize, FrameError> {
    let mut len: usize = 0;
    let mut digits = 0;
    loop {
        let mut byte = [0u8];
        match input.read(&mut byte) {
            Ok(0) if digits == 0 => return Err(FrameError::Closed),
            Ok(0) => {
                return Err(FrameError::Malformed(
                    "connection closed inside a netstring",
                ))
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(FrameError::Io(e)),
        }
        match byte[0] {
            b':' if digits > 0 => return Ok(len),
            b @ b'0'..=b'9' if digits < 6 => {
                len = len * 10 + usize::from(b - b'0');
                digits += 1;
                if len > MAX_LEN {
                    return Err(FrameError::Malformed("netstring longer than 100000 bytes"));
                }
            }
            _ => {
                return Err(FrameError::Malformed(
                    "netstring length is not digits then ':'",
                ))
            }
        }
    }
}

fn eof_is_malformed(e: io::Error) -> FrameError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        FrameError::Malformed("connection closed inside a netstring")
    } else {
        FrameError::Io(e)
    }
}

/// Writes `data` as one netstring (the caller keeps it under [`MAX_LEN`]).
pub fn write(output: &mut impl Write, data: &[u8]) -> io::Result<()> {
    let mut frame = Vec::with_capacity(data.len() + 8);
    frame.extend_from_slice(data.len().to_string().as_bytes());
    frame.push(b':');
    frame.extend_from_slice(data);
    frame.push(b',');
    output.write_all(&frame)?;
    output.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(bytes: &[u8]) -> Vec<Result<Vec<u8>, String>> {
        let mut input = io::BufReader::new(bytes);
        let mut out = Vec::new();
        loop {
            match read(&mut input) {
                Ok(v) => out.push(Ok(v)),
                Err(FrameError::Closed) => return out,
                Err(e) => {
                    out.push(Err(format!("{e:?}")));
                    return out;
                }
            }
        }
    }

    #[test]
    fn reads_consecutive_netstrings() {
        let got = read_all(b"13:aliases a@b.c,0:,3:x y,");
        assert_eq!(
            got,
            vec![
                Ok(b"aliases a@b.c".to_vec()),
                Ok(vec![]),
                Ok(b"x y".to_vec())
            ]
        );
    }

    #[test]
    fn refuses_malformed_frames() {
        for bad in [
            &b"x:abc,"[..],
            b":abc,",
            b"3:abc;",
            b"3:ab",
            b"1000000:",
            b"5",
        ] {
            let got = read_all(bad);
            assert!(
                matches!(got.last(), Some(Err(e)) if e.contains("Malformed")),
                "{bad:?}: {got:?}"
            );
        }
    }

    #[test]
    fn writes_a_netstring() {
        let mut out = Vec::new();
        write(&mut out, b"OK a@b.c").unwrap();
        assert_eq!(out, b"8:OK a@b.c,");
    }
}
