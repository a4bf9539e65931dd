//! The tar subset `kubectl cp` needs: writing ustar archives of local
//! files (GNU long names past ustar's limits) and reading what a
//! container's `tar cf -` produces (ustar, GNU long names, PAX paths).

use std::fmt;

const BLOCK: usize = 512;

/// What an archive entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    /// Hard links, devices, FIFOs: extracted as (empty) files, as upstream.
    Other,
}

/// One archive member.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub name: String,
    pub kind: Kind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: u64,
    pub link: String,
    pub data: Vec<u8>,
}

/// A malformed archive.
#[derive(Debug, thiserror::Error, PartialEq)]
pub struct TarError(pub String);

impl fmt::Display for TarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn octal(field: &mut [u8], v: u64) {
    // Zero-padded, NUL-terminated.
    let digits = field.len() - 1;
    let s = format!("{v:0digits$o}");
    let s = &s.as_bytes()[s.len().saturating_sub(digits)..];
    field[..digits].copy_from_slice(s);
    field[digits] = 0;
}

fn header(name: &[u8], prefix: &[u8], kind: u8, e: &Entry, size: u64) -> [u8; BLOCK] {
    let mut h = [0u8; BLOCK];
    h[..name.len()].copy_from_slice(name);
    octal(&mut h[100..108], u64::from(e.mode & 0o7777));
    octal(&mut h[108..116], u64::from(e.uid));
    octal(&mut h[116..124], u64::from(e.gid));
    octal(&mut h[124..136], size);
    octal(&mut h[136..148], e.mtime);
    h[156] = kind;
    let link = e.link.as_bytes();
    h[157..157 + link.len().min(100)].copy_from_slice(&link[..link.len().min(100)]);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[345..345 + prefix.len()].copy_from_slice(prefix);
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    octal(&mut h[148..155], u64::from(sum));
    h[155] = b' ';
    h
}

fn pad(out: &mut Vec<u8>) {
    let rem = out.len() % BLOCK;
    if rem != 0 {
        out.resize(out.len() + BLOCK - rem, 0);
    }
}

/// Splits a long name into ustar's prefix and name, if it fits.
fn split_ustar(name: &str) -> Option<(&str, &str)> {
    if name.len() <= 100 {
        return Some(("", name));
    }
    let b = name.as_bytes();
    for (i, c) in b.iter().enumerate() {
        if *c == b'/' && i <= 155 && b.len() - i - 1 <= 100 && i > 0 {
            return Some((&name[..i], &name[i + 1..]));
        }
    }
    None
}

/// Appends `e` to an archive.
pub fn write_entry(out: &mut Vec<u8>, e: &Entry) {
    let kind = match e.kind {
        Kind::File | Kind::Other => b'0',
        Kind::Dir => b'5',
        Kind::Symlink => b'2',
    };
    let mut name = e.name.clone();
    if e.kind == Kind::Dir && !name.ends_with('/') {
        name.push('/');
    }
    let (prefix, short) = match split_ustar(&name) {
        Some(p) => p,
        None => {
            // GNU long name: a `././@LongLink` member carries it.
            let mut long = name.clone().into_bytes();
            long.push(0);
            let meta = Entry {
                name: String::new(),
                kind: Kind::File,
                mode: 0,
                uid: 0,
                gid: 0,
                mtime: 0,
                link: String::new(),
                data: Vec::new(),
            };
            out.extend_from_slice(&header(
                b"././@LongLink",
                b"",
                b'L',
                &meta,
                long.len() as u64,
            ));
            out.extend_from_slice(&long);
            pad(out);
            ("", &name[..100])
        }
    };
    let size = if e.kind == Kind::File {
        e.data.len() as u64
    } else {
        0
    };
    out.extend_from_slice(&header(short.as_bytes(), prefix.as_bytes(), kind, e, size));
    if size > 0 {
        out.extend_from_slice(&e.data);
        pad(out);
    }
}

/// Ends an archive (two zero blocks).
pub fn finish(out: &mut Vec<u8>) {
    out.resize(out.len() + 2 * BLOCK, 0);
}

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn parse_octal(b: &[u8]) -> Result<u64, TarError> {
    // GNU base-256 for big numbers.
    if b.first().is_some_and(|c| c & 0x80 != 0) {
        let mut v: u64 = 0;
        for c in &b[1..] {
            v = (v << 8) | u64::from(*c);
        }
        return Ok(v);
    }
    let s = cstr(b);
    let s = s.trim_matches(|c: char| c == ' ' || c == '\0');
    if s.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(s, 8).map_err(|_| TarError("archive/tar: invalid header".to_string()))
}

/// PAX records (`len key=value\n`) that name a path or link.
fn pax(data: &[u8]) -> (Option<String>, Option<String>) {
    let (mut path, mut link) = (None, None);
    let text = String::from_utf8_lossy(data);
    let mut rest: &str = &text;
    while let Some((len, _)) = rest.split_once(' ') {
        let Ok(n) = len.parse::<usize>() else { break };
        if n == 0 || n > rest.len() {
            break;
        }
        let record = &rest[len.len() + 1..n];
        let record = record.strip_suffix('\n').unwrap_or(record);
        if let Some((k, v)) = record.split_once('=') {
            match k {
                "path" => path = Some(v.to_string()),
                "linkpath" => link = Some(v.to_string()),
                _ => {}
            }
        }
        rest = &rest[n..];
    }
    (path, link)
}

/// Reads every member of an archive.
pub fn read_all(data: &[u8]) -> Result<Vec<Entry>, TarError> {
    let mut out = Vec::new();
    let mut pos = 0;
    let (mut long_name, mut long_link): (Option<String>, Option<String>) = (None, None);
    while pos + BLOCK <= data.len() {
        let h = &data[pos..pos + BLOCK];
        pos += BLOCK;
        if h.iter().all(|b| *b == 0) {
            break;
        }
        let stored: u64 = parse_octal(&h[148..156])?;
        let mut sum: u64 = h.iter().map(|b| u64::from(*b)).sum();
        sum = sum - h[148..156].iter().map(|b| u64::from(*b)).sum::<u64>() + 8 * u64::from(b' ');
        if sum != stored {
            return Err(TarError("archive/tar: invalid header".into()));
        }
        let size = parse_octal(&h[124..136])? as usize;
        let kind = h[156];
        let body_end = pos + size;
        if body_end > data.len() {
            return Err(TarError("unexpected EOF".into()));
        }
        let body = &data[pos..body_end];
        pos = body_end.div_ceil(BLOCK) * BLOCK;
        match kind {
            b'L' => {
                long_name = Some(cstr(body));
                continue;
            }
            b'K' => {
                long_link = Some(cstr(body));
                continue;
            }
            b'x' => {
                let (p, l) = pax(body);
                if p.is_some() {
                    long_name = p;
                }
                if l.is_some() {
                    long_link = l;
                }
                continue;
            }
            b'g' => continue,
            _ => {}
        }
        let mut name = cstr(&h[0..100]);
        if &h[257..262] == b"ustar" {
            let prefix = cstr(&h[345..500]);
            if !prefix.is_empty() {
                name = format!("{prefix}/{name}");
            }
        }
        if let Some(n) = long_name.take() {
            name = n;
        }
        let link = long_link.take().unwrap_or_else(|| cstr(&h[157..257]));
        let kind = match kind {
            b'0' | 0 | b'7' => {
                if name.ends_with('/') {
                    Kind::Dir
                } else {
                    Kind::File
                }
            }
            b'5' => Kind::Dir,
            b'2' => Kind::Symlink,
            _ => Kind::Other,
        };
        out.push(Entry {
            name,
            kind,
            mode: parse_octal(&h[100..108])? as u32,
            uid: parse_octal(&h[108..116])? as u32,
            gid: parse_octal(&h[116..124])? as u32,
            mtime: parse_octal(&h[136..148])?,
            link,
            data: if kind == Kind::File {
                body.to_vec()
            } else {
                Vec::new()
            },
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, data: &[u8]) -> Entry {
        Entry {
            name: name.into(),
            kind: Kind::File,
            mode: 0o644,
            uid: 1,
            gid: 2,
            mtime: 1_700_000_000,
            link: String::new(),
            data: data.to_vec(),
        }
    }

    #[test]
    fn round_trip() {
        let long = format!("{}/{}", "d".repeat(120), "f".repeat(50));
        let longer = "x".repeat(300);
        let entries = vec![
            Entry {
                name: "dir".into(),
                kind: Kind::Dir,
                mode: 0o755,
                uid: 0,
                gid: 0,
                mtime: 1,
                link: String::new(),
                data: vec![],
            },
            file("dir/a.txt", b"hello\n"),
            file(&long, &[7u8; 1000]),
            file(&longer, b""),
            Entry {
                name: "ln".into(),
                kind: Kind::Symlink,
                mode: 0o777,
                uid: 0,
                gid: 0,
                mtime: 1,
                link: "dir/a.txt".into(),
                data: vec![],
            },
        ];
        let mut out = Vec::new();
        for e in &entries {
            write_entry(&mut out, e);
        }
        finish(&mut out);
        assert_eq!(out.len() % BLOCK, 0);
        let back = read_all(&out).unwrap();
        assert_eq!(back.len(), entries.len());
        assert_eq!(back[0].name, "dir/");
        assert_eq!(back[0].kind, Kind::Dir);
        assert_eq!(back[1], entries[1]);
        assert_eq!(back[2].name, long);
        assert_eq!(back[2].data.len(), 1000);
        assert_eq!(back[3].name, longer);
        assert_eq!(back[4].link, "dir/a.txt");
    }

    #[test]
    fn pax_paths_and_bad_checksums() {
        assert_eq!(
            pax(b"29 path=a/very/long/name.txt\n"),
            (Some("a/very/long/name.txt".into()), None)
        );
        let mut out = Vec::new();
        write_entry(&mut out, &file("a", b"x"));
        out[0] = b'b';
        assert!(read_all(&out).is_err());
    }
}
