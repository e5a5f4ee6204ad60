//! The import's private copies of its input: unlinked files in `$TMPDIR` that only this
//! process can read (they hold password hashes) and nobody can change between passes.
//!
//! The input is copied once as it came (standard input can be read only once), parsed once,
//! and its records written to a second copy in a compact binary form that each of the
//! library's passes decodes far faster than it could parse JSON again.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use vmailsql::{Domain, DomainAlias, Forwarder, Popbox, Record};

use crate::exit::{Failure, Outcome};
use crate::jsonl;

/// A new file only this process can open, already unlinked.
fn unlinked_file() -> Outcome<File> {
    let dir = std::env::temp_dir();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let path = dir.join(format!("vmailctl-import.{}.{nanos}", std::process::id()));
    // create_new: never follows a link planted at that name.
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| {
            Failure::usage(format!(
                "cannot make a private copy of the input in {} (set TMPDIR): {e}",
                dir.display()
            ))
        })?;
    let _ = std::fs::remove_file(&path);
    Ok(file)
}

/// The input (a file, or standard input for none or `-`) copied as it is, with its number of
/// lines, for the progress bar.
pub fn copy_input(file: Option<&Path>) -> Outcome<(File, usize)> {
    let (mut input, name): (Box<dyn Read>, String) = match file {
        Some(path) if path != Path::new("-") => {
            let f = File::open(path)
                .map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))?;
            (Box::new(f), path.display().to_string())
        }
        _ => (Box::new(io::stdin().lock()), "standard input".into()),
    };
    let mut copy = unlinked_file()?;
    let mut lines = 0;
    let mut buf = vec![0; 1 << 16];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Failure::usage(format!("cannot read {name}: {e}"))),
        };
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count();
        copy.write_all(&buf[..n])
            .map_err(|e| Failure::usage(format!("cannot copy the input: {e}")))?;
    }
    Ok((copy, lines + 1))
}

/// The non-blank lines of a copy from its start, each parsed where it was read (no copy of
/// the line), with its number (from 1).
pub struct Lines {
    reader: BufReader<File>,
    number: usize,
    buf: String,
}

impl Lines {
    pub fn of(copy: &File) -> io::Result<Lines> {
        Ok(Lines {
            reader: BufReader::with_capacity(1 << 16, from_start(copy)?),
            number: 0,
            buf: String::new(),
        })
    }
}

impl Iterator for Lines {
    type Item = io::Result<(usize, Result<Record, String>)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            self.buf.clear();
            match self.reader.read_line(&mut self.buf) {
                Ok(0) => return None,
                Ok(_) => self.number += 1,
                Err(e) => return Some(Err(e)),
            }
            let line = self.buf.trim();
            if !line.is_empty() {
                return Some(Ok((self.number, jsonl::from_line(line))));
            }
        }
    }
}

fn from_start(file: &File) -> io::Result<File> {
    let mut file = file.try_clone()?;
    file.seek(SeekFrom::Start(0))?;
    Ok(file)
}

// The compact form: a tag byte per record, then its fields in declaration order; a string is
// its length (u32, little-endian) and its bytes, an optional field a 0/1 byte before it.
const DOMAIN: u8 = 1;
const ALIAS: u8 = 2;
const POPBOX: u8 = 3;
const FORWARDER: u8 = 4;

/// Writes records in the compact form to a private file.
pub struct Writer {
    out: BufWriter<File>,
}

impl Writer {
    pub fn new() -> Outcome<Writer> {
        Ok(Writer {
            out: BufWriter::with_capacity(1 << 16, unlinked_file()?),
        })
    }

    pub fn push(&mut self, record: &Record) -> io::Result<()> {
        let o = &mut self.out;
        match record {
            Record::Domain(d) => {
                o.write_all(&[DOMAIN])?;
                text(o, &d.name)?;
                optional(o, d.path.as_deref())?;
                optional(o, d.unix_user.as_deref())?;
                match d.max_popbox {
                    None => o.write_all(&[0])?,
                    Some(n) => {
                        o.write_all(&[1])?;
                        o.write_all(&n.to_le_bytes())?;
                    }
                }
                optional(o, d.password_hash.as_deref())
            }
            Record::Alias(a) => {
                o.write_all(&[ALIAS])?;
                text(o, &a.alias)?;
                text(o, &a.domain)
            }
            Record::Popbox(p) => {
                o.write_all(&[POPBOX])?;
                text(o, &p.domain)?;
                text(o, &p.local_part)?;
                optional(o, p.mbox_name.as_deref())?;
                optional(o, p.password_hash.as_deref())
            }
            Record::Forwarder(f) => {
                o.write_all(&[FORWARDER])?;
                text(o, &f.domain)?;
                text(o, &f.local_part)?;
                text(o, &f.remote_name)
            }
        }
    }

    /// The written file, to be read with [`Reader`].
    pub fn finish(self) -> io::Result<File> {
        self.out.into_inner().map_err(|e| e.into_error())
    }
}

fn text(o: &mut impl Write, s: &str) -> io::Result<()> {
    let len = u32::try_from(s.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a field over 4 GiB"))?;
    o.write_all(&len.to_le_bytes())?;
    o.write_all(s.as_bytes())
}

fn optional(o: &mut impl Write, s: Option<&str>) -> io::Result<()> {
    match s {
        None => o.write_all(&[0]),
        Some(s) => {
            o.write_all(&[1])?;
            text(o, s)
        }
    }
}

/// The records of a [`Writer`]'s file, from the first.
pub struct Reader {
    input: BufReader<File>,
}

impl Reader {
    pub fn of(file: &File) -> io::Result<Reader> {
        Ok(Reader {
            input: BufReader::with_capacity(1 << 16, from_start(file)?),
        })
    }

    fn record(&mut self, tag: u8) -> io::Result<Record> {
        Ok(match tag {
            DOMAIN => Record::Domain(Domain {
                name: self.text()?,
                path: self.optional()?,
                unix_user: self.optional()?,
                max_popbox: match self.byte()? {
                    0 => None,
                    _ => Some(i64::from_le_bytes(self.array()?)),
                },
                password_hash: self.optional()?,
            }),
            ALIAS => Record::Alias(DomainAlias {
                alias: self.text()?,
                domain: self.text()?,
            }),
            POPBOX => Record::Popbox(Popbox {
                domain: self.text()?,
                local_part: self.text()?,
                mbox_name: self.optional()?,
                password_hash: self.optional()?,
            }),
            FORWARDER => Record::Forwarder(Forwarder {
                domain: self.text()?,
                local_part: self.text()?,
                remote_name: self.text()?,
            }),
            _ => return Err(corrupt()),
        })
    }

    fn byte(&mut self) -> io::Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    fn array<const N: usize>(&mut self) -> io::Result<[u8; N]> {
        let mut a = [0; N];
        self.input.read_exact(&mut a)?;
        Ok(a)
    }

    fn text(&mut self) -> io::Result<String> {
        let len = u32::from_le_bytes(self.array()?) as usize;
        let mut bytes = vec![0; len];
        self.input.read_exact(&mut bytes)?;
        String::from_utf8(bytes).map_err(|_| corrupt())
    }

    fn optional(&mut self) -> io::Result<Option<String>> {
        match self.byte()? {
            0 => Ok(None),
            _ => self.text().map(Some),
        }
    }
}

impl Iterator for Reader {
    type Item = io::Result<Record>;

    fn next(&mut self) -> Option<io::Result<Record>> {
        // The end of the copy is only ever between two records.
        let tag = loop {
            match self.input.fill_buf() {
                Ok([]) => return None,
                Ok(buf) => break buf[0],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Some(Err(e)),
            }
        };
        self.input.consume(1);
        Some(self.record(tag))
    }
}

fn corrupt() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        "the private copy of the input changed under the import",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_record_type_comes_back_as_written() {
        // Beside the format's samples: the other value of every optional field, and non-ASCII.
        let mut records = crate::jsonl::tests::samples();
        records.push(Record::Domain(Domain {
            name: "bare.example".into(),
            path: None,
            unix_user: None,
            max_popbox: Some(-7),
            password_hash: Some("{crypt}$6$salt$hash".into()),
        }));
        records.push(Record::Popbox(Popbox {
            domain: "example.org".into(),
            local_part: "ölaf".into(),
            mbox_name: None,
            password_hash: Some(String::new()),
        }));
        let mut writer = Writer::new().unwrap();
        for record in &records {
            writer.push(record).unwrap();
        }
        let file = writer.finish().unwrap();
        for _ in 0..2 {
            let read: Vec<Record> = Reader::of(&file).unwrap().map(Result::unwrap).collect();
            assert_eq!(read, records);
        }
    }

    #[test]
    fn a_truncated_copy_is_an_error_not_a_shorter_import() {
        let mut writer = Writer::new().unwrap();
        writer
            .push(&Record::Alias(DomainAlias {
                alias: "example.net".into(),
                domain: "example.org".into(),
            }))
            .unwrap();
        let file = writer.finish().unwrap();
        file.set_len(5).unwrap();
        let mut reader = Reader::of(&file).unwrap();
        assert!(reader.next().unwrap().is_err());
    }
}
