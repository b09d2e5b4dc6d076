//! Netstring framing (`<decimal length>:<bytes>,`), the framing of baresip's ctrl_tcp socket.
//!
//! [`NetstringCodec`] is a `tokio_util` codec: it decodes frames as they arrive, however the
//! bytes are split across reads, and refuses a frame longer than its limit before buffering
//! it, so a peer cannot make the source allocate without bound. The length prefix itself is
//! bounded too: no leading zeros (except the empty frame's `0:`) and no more digits than the
//! limit has, so a run of digits is refused at its first superfluous byte.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

/// The largest frame accepted by default: 1 MiB. baresip's largest answers (`help`,
/// `callstat`) are a few KiB.
pub const DEFAULT_MAX_FRAME: usize = 1024 * 1024;

/// Why a byte stream is not a sequence of netstrings. After an error the stream cannot be
/// resynchronised: the connection has to be dropped.
#[derive(Debug, thiserror::Error)]
pub enum NetstringError {
    /// The length prefix announces a frame longer than the limit.
    #[error("netstring length {length} exceeds the limit of {max} bytes")]
    TooLong {
        /// The announced length (saturated at `usize::MAX` when it does not fit).
        length: usize,
        /// The limit.
        max: usize,
    },
    /// The length prefix holds something other than decimal digits before its `:`.
    #[error("netstring length: expected a decimal digit or ':', found byte 0x{found:02x}")]
    BadLength {
        /// The offending byte.
        found: u8,
    },
    /// The length prefix starts with `0` but is not `0:` (leading zeros would let a prefix
    /// grow without bound below the limit).
    #[error("netstring length: leading zero (only the empty frame `0:,` may start with 0)")]
    LeadingZero,
    /// The length prefix is empty (`:` first).
    #[error("netstring length: expected at least one decimal digit before ':'")]
    EmptyLength,
    /// The frame's payload is not followed by `,`.
    #[error("netstring: expected ',' after {length} bytes of payload, found byte 0x{found:02x}")]
    MissingComma {
        /// The payload length.
        length: usize,
        /// What came instead of the comma.
        found: u8,
    },
    /// Reading or writing the socket failed.
    #[error("netstring I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// Encodes and decodes netstrings, one payload per frame.
///
/// # Examples
/// ```
/// use bytes::BytesMut;
/// use tokio_util::codec::{Decoder, Encoder};
/// use voicetk_sources::baresip::NetstringCodec;
///
/// let mut codec = NetstringCodec::default();
/// let mut wire = BytesMut::new();
/// codec.encode(&b"{\"command\":\"help\"}"[..], &mut wire)?;
/// assert_eq!(&wire[..], b"18:{\"command\":\"help\"},");
///
/// // A frame split across reads comes out once it is complete.
/// let mut partial = BytesMut::from(&b"5:hel"[..]);
/// assert!(codec.decode(&mut partial)?.is_none());
/// partial.extend_from_slice(b"lo,");
/// assert_eq!(codec.decode(&mut partial)?.as_deref(), Some(&b"hello"[..]));
///
/// // An absurd length is refused before anything is buffered.
/// let mut huge = BytesMut::from(&b"99999999:"[..]);
/// assert!(codec.decode(&mut huge).is_err());
/// # Ok::<(), voicetk_sources::baresip::NetstringError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetstringCodec {
    /// Frames longer than this are refused, to bound memory.
    max_frame: usize,
}

impl Default for NetstringCodec {
    fn default() -> Self {
        NetstringCodec::new(DEFAULT_MAX_FRAME)
    }
}

impl NetstringCodec {
    /// A codec refusing frames longer than `max_frame` bytes.
    pub fn new(max_frame: usize) -> NetstringCodec {
        NetstringCodec { max_frame }
    }

    /// The frame length limit.
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }
}

impl Decoder for NetstringCodec {
    type Item = Bytes;
    type Error = NetstringError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, NetstringError> {
        let decoded = match self.parse_prefix(src) {
            Ok(Some((colon, length))) => take_frame(src, colon, length),
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        };
        if decoded.is_err() {
            // The stream cannot be resynchronised: what is buffered is of no further use, so
            // it is released now rather than kept until the connection is dropped.
            *src = BytesMut::new();
        }
        decoded
    }
}

impl NetstringCodec {
    /// Reads the length prefix: `Some((index of ':', length))` once complete, `None` while
    /// more digits may come.
    ///
    /// The prefix is bounded: a length within the limit has at most as many digits as the
    /// limit itself, and no leading zero (only `0:` starts with one). Anything else is refused
    /// as soon as its first superfluous digit arrives, so an endless run of digits is never
    /// buffered nor scanned again on the next read.
    fn parse_prefix(&self, src: &BytesMut) -> Result<Option<(usize, usize)>, NetstringError> {
        // Digits in `max_frame` written in decimal (1 for 0..=9).
        let max_digits = self
            .max_frame
            .checked_ilog10()
            .map_or(1, |d| d as usize + 1);
        let mut length: usize = 0;
        let mut digits = 0;
        for (i, &b) in src.iter().enumerate() {
            match b {
                b'0'..=b'9' => {
                    if digits == 1 && length == 0 {
                        return Err(NetstringError::LeadingZero);
                    }
                    length = length
                        .checked_mul(10)
                        .and_then(|l| l.checked_add(usize::from(b - b'0')))
                        .unwrap_or(usize::MAX);
                    digits += 1;
                    if length > self.max_frame || digits > max_digits {
                        return Err(NetstringError::TooLong {
                            length,
                            max: self.max_frame,
                        });
                    }
                }
                b':' if digits == 0 => return Err(NetstringError::EmptyLength),
                b':' => return Ok(Some((i, length))),
                found => return Err(NetstringError::BadLength { found }),
            }
        }
        Ok(None)
    }
}

/// The frame whose length prefix ends at `colon`, once all of it (and its comma) is there.
fn take_frame(
    src: &mut BytesMut,
    colon: usize,
    length: usize,
) -> Result<Option<Bytes>, NetstringError> {
    let frame_end = colon + 1 + length;
    if src.len() <= frame_end {
        // Room for the rest of the frame and its comma, once.
        src.reserve(frame_end + 1 - src.len());
        return Ok(None);
    }
    if src[frame_end] != b',' {
        return Err(NetstringError::MissingComma {
            length,
            found: src[frame_end],
        });
    }
    src.advance(colon + 1);
    let payload = src.split_to(length).freeze();
    src.advance(1);
    Ok(Some(payload))
}

impl Encoder<&[u8]> for NetstringCodec {
    type Error = NetstringError;

    fn encode(&mut self, item: &[u8], dst: &mut BytesMut) -> Result<(), NetstringError> {
        if item.len() > self.max_frame {
            return Err(NetstringError::TooLong {
                length: item.len(),
                max: self.max_frame,
            });
        }
        let prefix = item.len().to_string();
        dst.reserve(prefix.len() + item.len() + 2);
        dst.put_slice(prefix.as_bytes());
        dst.put_u8(b':');
        dst.put_slice(item);
        dst.put_u8(b',');
        Ok(())
    }
}

impl Encoder<Vec<u8>> for NetstringCodec {
    type Error = NetstringError;

    fn encode(&mut self, item: Vec<u8>, dst: &mut BytesMut) -> Result<(), NetstringError> {
        self.encode(item.as_slice(), dst)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(codec: &mut NetstringCodec, bytes: &[u8]) -> Vec<Bytes> {
        let mut buf = BytesMut::from(bytes);
        let mut out = Vec::new();
        while let Some(frame) = codec.decode(&mut buf).unwrap() {
            out.push(frame);
        }
        out
    }

    #[test]
    fn decodes_back_to_back_frames_and_the_empty_frame() {
        let mut c = NetstringCodec::default();
        let frames = decode_all(&mut c, b"3:abc,0:,5:hello,");
        assert_eq!(frames, [&b"abc"[..], b"", b"hello"]);
    }

    #[test]
    fn a_recorded_baresip_frame() {
        let wire = br#"66:{"response":true,"ok":true,"data":"\ncall muted\n","token":"vt-3"},"#;
        let frames = decode_all(&mut NetstringCodec::default(), wire);
        assert_eq!(frames.len(), 1);
        let v: serde_json::Value = serde_json::from_slice(&frames[0]).unwrap();
        assert_eq!(v["data"], "\ncall muted\n");
    }

    #[test]
    fn waits_for_a_partial_frame_byte_by_byte() {
        let mut c = NetstringCodec::default();
        let wire = b"11:hello world,2:ok,";
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for &b in wire {
            buf.put_u8(b);
            while let Some(f) = c.decode(&mut buf).unwrap() {
                out.push(f);
            }
        }
        assert_eq!(out, [&b"hello world"[..], b"ok"]);
        assert!(buf.is_empty());
    }

    #[test]
    fn refuses_absurd_lengths_before_buffering() {
        let mut c = NetstringCodec::new(1024 * 1024);
        let err = c.decode(&mut BytesMut::from(&b"1048577:"[..])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "netstring length 1048577 exceeds the limit of 1048576 bytes"
        );
        // Even without the colon yet, and even when the number overflows.
        assert!(matches!(
            c.decode(&mut BytesMut::from(&b"99999999999999999999999999"[..])),
            Err(NetstringError::TooLong { .. })
        ));
        // Exactly the limit is fine.
        let mut ok = BytesMut::from(&b"1048576:"[..]);
        assert!(c.decode(&mut ok).unwrap().is_none());
    }

    #[test]
    fn refuses_malformed_frames_with_clear_errors() {
        let mut c = NetstringCodec::default();
        let err = c.decode(&mut BytesMut::from(&b"3x:abc,"[..])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "netstring length: expected a decimal digit or ':', found byte 0x78"
        );
        let err = c.decode(&mut BytesMut::from(&b":abc,"[..])).unwrap_err();
        assert!(matches!(err, NetstringError::EmptyLength), "{err}");
        let err = c.decode(&mut BytesMut::from(&b"3:abcd"[..])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "netstring: expected ',' after 3 bytes of payload, found byte 0x64"
        );
    }

    /// Feeds `total` bytes of `byte` the way socket reads would, 4 KiB at a time; returns
    /// the error and how many bytes had been fed when it came.
    fn feed_digit_run(byte: u8, total: usize) -> (NetstringError, usize, BytesMut) {
        let mut c = NetstringCodec::default();
        let mut buf = BytesMut::new();
        let chunk = vec![byte; 4096];
        let mut fed = 0;
        while fed < total {
            buf.extend_from_slice(&chunk);
            fed += chunk.len();
            match c.decode(&mut buf) {
                Ok(None) => {}
                Ok(Some(f)) => panic!("a frame out of a digit run: {f:?}"),
                Err(e) => return (e, fed, buf),
            }
        }
        panic!(
            "{total} bytes of {:?} accepted as a length prefix",
            byte as char
        );
    }

    #[test]
    fn an_endless_run_of_zeros_is_refused_at_once_and_not_kept() {
        let (err, fed, buf) = feed_digit_run(b'0', 1024 * 1024);
        assert!(matches!(err, NetstringError::LeadingZero), "{err}");
        assert_eq!(fed, 4096, "refused on the first read, not after 1 MB");
        assert!(buf.is_empty());
        assert_eq!(buf.capacity(), 0, "the buffered bytes are released");
    }

    #[test]
    fn an_endless_run_of_nines_is_refused_at_once_and_not_kept() {
        let (err, fed, buf) = feed_digit_run(b'9', 1024 * 1024);
        assert_eq!(
            err.to_string(),
            "netstring length 9999999 exceeds the limit of 1048576 bytes"
        );
        assert_eq!(fed, 4096, "refused on the first read, not after 1 MB");
        assert_eq!(buf.capacity(), 0, "the buffered bytes are released");
    }

    #[test]
    fn the_length_prefix_is_refused_at_its_first_superfluous_digit() {
        // Byte by byte: a second digit after a leading 0 is refused.
        let mut c = NetstringCodec::default();
        let mut buf = BytesMut::from(&b"0"[..]);
        assert!(c.decode(&mut buf).unwrap().is_none());
        buf.put_u8(b'0');
        assert!(matches!(
            c.decode(&mut buf),
            Err(NetstringError::LeadingZero)
        ));
        for wire in [&b"00:,"[..], b"01:a,", b"007:abcdefg,"] {
            let err = c.decode(&mut BytesMut::from(wire)).unwrap_err();
            assert_eq!(
                err.to_string(),
                "netstring length: leading zero (only the empty frame `0:,` may start with 0)"
            );
        }
        // `0:` itself is the empty frame; a 0 inside a length is fine.
        assert_eq!(
            decode_all(&mut c, b"0:,10:0123456789,"),
            [&b""[..], b"0123456789"]
        );

        // The limit's own digit count: 1048576 waits for its colon, one more digit is refused.
        let mut buf = BytesMut::from(&b"104857"[..]);
        assert!(c.decode(&mut buf).unwrap().is_none());
        buf.put_u8(b'6');
        assert!(c.decode(&mut buf).unwrap().is_none());
        buf.put_u8(b'0');
        assert!(matches!(
            c.decode(&mut buf),
            Err(NetstringError::TooLong {
                length: 10485760,
                max: 1048576
            })
        ));

        // With no practical limit, the digit count still bounds the prefix (20 digits for
        // u64::MAX), even where the value saturates instead of exceeding the limit.
        let mut unlimited = NetstringCodec::new(usize::MAX);
        let digits = usize::MAX.to_string().len();
        let mut buf = BytesMut::from(vec![b'9'; digits].as_slice());
        assert!(unlimited.decode(&mut buf).unwrap().is_none());
        buf.put_u8(b'9');
        assert!(matches!(
            unlimited.decode(&mut buf),
            Err(NetstringError::TooLong {
                length: usize::MAX,
                ..
            })
        ));
        // A tiny limit has one digit.
        let mut tiny = NetstringCodec::new(0);
        assert!(decode_all(&mut tiny, b"0:,").len() == 1);
        assert!(tiny.decode(&mut BytesMut::from(&b"1:"[..])).is_err());
    }

    #[test]
    fn a_malformed_frame_releases_the_buffer() {
        let mut c = NetstringCodec::default();
        let mut buf = BytesMut::from(&b"3:abcd and more bytes that will never be read"[..]);
        assert!(matches!(
            c.decode(&mut buf),
            Err(NetstringError::MissingComma {
                length: 3,
                found: b'd'
            })
        ));
        assert_eq!(buf.capacity(), 0);
    }

    #[test]
    fn encode_refuses_oversized_payloads() {
        let mut c = NetstringCodec::new(4);
        let mut dst = BytesMut::new();
        assert!(c.encode(&b"12345"[..], &mut dst).is_err());
        assert!(dst.is_empty());
        c.encode(&b"1234"[..], &mut dst).unwrap();
        assert_eq!(&dst[..], b"4:1234,");
    }

    proptest! {
        #[test]
        fn encode_then_decode_roundtrips(
            frames in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..8),
            split in 1usize..64,
        ) {
            let mut c = NetstringCodec::default();
            let mut wire = BytesMut::new();
            for f in &frames {
                c.encode(f.as_slice(), &mut wire).unwrap();
            }
            // Feed the wire in chunks of `split` bytes, as reads might deliver it.
            let mut buf = BytesMut::new();
            let mut out = Vec::new();
            for chunk in wire.chunks(split) {
                buf.extend_from_slice(chunk);
                while let Some(f) = c.decode(&mut buf).unwrap() {
                    out.push(f.to_vec());
                }
            }
            prop_assert_eq!(out, frames);
            prop_assert!(buf.is_empty());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512), max in 0usize..2048) {
            let mut c = NetstringCodec::new(max);
            let mut buf = BytesMut::from(bytes.as_slice());
            // Decode until it needs more bytes or errors; every frame respects the limit.
            for _ in 0..=bytes.len() {
                match c.decode(&mut buf) {
                    Ok(Some(f)) => prop_assert!(f.len() <= max),
                    Ok(None) | Err(_) => break,
                }
            }
        }
    }
}
