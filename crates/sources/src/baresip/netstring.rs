//! Netstring framing (`<decimal length>:<bytes>,`), the framing of baresip's ctrl_tcp socket.
//!
//! [`NetstringCodec`] is a `tokio_util` codec: it decodes frames as they arrive, however the
//! bytes are split across reads, and refuses a frame longer than its limit before buffering
//! it, so a peer cannot make the source allocate without bound.

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
        // Parse the length prefix; it is short, so re-reading it on each call is cheap.
        let mut length: usize = 0;
        let mut digits = 0;
        let mut colon = None;
        for (i, &b) in src.iter().enumerate() {
            match b {
                b'0'..=b'9' => {
                    length = length
                        .checked_mul(10)
                        .and_then(|l| l.checked_add(usize::from(b - b'0')))
                        .unwrap_or(usize::MAX);
                    digits += 1;
                    if length > self.max_frame {
                        return Err(NetstringError::TooLong {
                            length,
                            max: self.max_frame,
                        });
                    }
                }
                b':' if digits == 0 => return Err(NetstringError::EmptyLength),
                b':' => {
                    colon = Some(i);
                    break;
                }
                found => return Err(NetstringError::BadLength { found }),
            }
        }
        let Some(colon) = colon else {
            return Ok(None);
        };
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
