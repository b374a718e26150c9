//! Parsing binary `COPY … TO STDOUT` output as it streams in, one chunk at a time.

use bytes::{Buf, BytesMut};

use crate::error::{Error, Result};

const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";
/// The most columns a row may have here.
pub const MAX_FIELDS: usize = 8;

/// Accumulates COPY bytes and hands out complete rows.
#[derive(Debug, Default)]
pub struct CopyRows {
    buf: BytesMut,
    header_done: bool,
    finished: bool,
}

impl CopyRows {
    /// Appends a chunk as received.
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// Whether the trailer was seen.
    pub fn finished(&self) -> bool {
        self.finished
    }

    /// Calls `row` for every complete row buffered, with each field's bytes (`None` = NULL).
    pub fn drain(&mut self, mut row: impl FnMut(&[Option<&[u8]>]) -> Result<()>) -> Result<()> {
        let buf = &self.buf[..];
        let mut pos = 0usize;
        if !self.header_done {
            if buf.len() < SIGNATURE.len() + 8 {
                return Ok(());
            }
            if &buf[..SIGNATURE.len()] != SIGNATURE {
                return Err(Error::Decode {
                    id: uuid::Uuid::nil(),
                    event_type: "COPY".into(),
                    reason: "not binary COPY output".into(),
                });
            }
            let ext = u32::from_be_bytes(buf[15..19].try_into().expect("4 bytes")) as usize;
            if buf.len() < 19 + ext {
                return Ok(());
            }
            pos = 19 + ext;
            self.header_done = true;
        }
        let mut fields: [Option<&[u8]>; MAX_FIELDS] = [None; MAX_FIELDS];
        'rows: loop {
            if buf.len() < pos + 2 {
                break;
            }
            let n = i16::from_be_bytes([buf[pos], buf[pos + 1]]);
            if n == -1 {
                self.finished = true;
                pos += 2;
                break;
            }
            let n = n as usize;
            let mut p = pos + 2;
            for f in fields.iter_mut().take(n.min(MAX_FIELDS)) {
                if buf.len() < p + 4 {
                    break 'rows;
                }
                let len = i32::from_be_bytes(buf[p..p + 4].try_into().expect("4 bytes"));
                p += 4;
                if len < 0 {
                    *f = None;
                } else {
                    let len = len as usize;
                    if buf.len() < p + len {
                        break 'rows;
                    }
                    *f = Some(&buf[p..p + len]);
                    p += len;
                }
            }
            row(&fields[..n.min(MAX_FIELDS)])?;
            pos = p;
        }
        self.buf.advance(pos);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy_bytes() -> Vec<u8> {
        let mut b = SIGNATURE.to_vec();
        b.extend([0u8; 8]);
        for i in 0..3i32 {
            b.extend(2i16.to_be_bytes());
            b.extend(4i32.to_be_bytes());
            b.extend(i.to_be_bytes());
            b.extend((-1i32).to_be_bytes());
        }
        b.extend((-1i16).to_be_bytes());
        b
    }

    #[test]
    fn rows_split_anywhere_across_chunks_come_out_whole() {
        let bytes = copy_bytes();
        for chunk in 1..bytes.len() {
            let mut rows = CopyRows::default();
            let mut seen = Vec::new();
            for c in bytes.chunks(chunk) {
                rows.push(c);
                rows.drain(|f| {
                    seen.push((i32::from_be_bytes(f[0].unwrap().try_into().unwrap()), f[1].is_none()));
                    Ok(())
                })
                .unwrap();
            }
            assert!(rows.finished());
            assert_eq!(seen, vec![(0, true), (1, true), (2, true)], "chunk size {chunk}");
        }
    }
}
