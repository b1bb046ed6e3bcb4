//! ZAP (RFC 27) messages: the request a server-side connection sends to the authentication
//! handler bound at `inproc://zeromq.zap.01`, and the reply it gets back. Only the encoding
//! and the checks live here; carrying them is the engine's business.

use super::ProtocolError;
use crate::msg::Msg;
use crate::peer::Properties;
use bytes::Bytes;

/// The inproc name a ZAP handler binds, as in libzmq.
pub(crate) const ZAP_ENDPOINT: &str = "zeromq.zap.01";
/// The only ZAP version there is.
pub(crate) const ZAP_VERSION: &[u8] = b"1.0";
/// Each connection has one request in flight at most, so one id serves.
const REQUEST_ID: &[u8] = b"1";

/// What a connection asks the handler about its peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ZapRequest {
    pub(crate) mechanism: &'static str,
    /// PLAIN: username and password; NULL: none.
    pub(crate) credentials: Vec<Bytes>,
}

impl ZapRequest {
    /// The request's frames, starting with the empty delimiter a REQ would send, so that a
    /// REP or a ROUTER handler reads it as libzmq's requests.
    pub(crate) fn frames(&self, domain: &[u8], address: &str, identity: &[u8]) -> Vec<Msg> {
        let mut frames: Vec<Msg> = vec![
            Msg::default(),
            Msg::from(ZAP_VERSION),
            Msg::from(REQUEST_ID),
            Msg::from(domain),
            Msg::from(address.as_bytes()),
            Msg::from(identity),
            Msg::from(self.mechanism.as_bytes()),
        ];
        frames.extend(self.credentials.iter().map(|c| Msg::from(c.clone())));
        let last = frames.len() - 1;
        for frame in &mut frames[..last] {
            frame.set_more(true);
        }
        frames
    }
}

/// The handler's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ZapReply {
    /// 200, 300, 400 or 500.
    pub(crate) status: u16,
    pub(crate) user_id: Bytes,
    /// Properties the handler attaches to the peer's messages.
    pub(crate) metadata: Properties,
}

impl ZapReply {
    /// Checks a whole reply message (delimiter included) as libzmq does: seven frames, an
    /// empty delimiter, version 1.0, our request id, a status of 200/300/400/500, and
    /// well-formed metadata.
    pub(crate) fn parse(frames: &[Msg]) -> Result<ZapReply, ProtocolError> {
        let bad = ProtocolError::BadZapReply;
        let [delimiter, version, id, status, _text, user_id, metadata] = frames else {
            return Err(bad("not seven frames"));
        };
        if !delimiter.is_empty() {
            return Err(bad("no empty delimiter"));
        }
        if &version[..] != ZAP_VERSION {
            return Err(bad("version is not 1.0"));
        }
        if &id[..] != REQUEST_ID {
            return Err(bad("wrong request id"));
        }
        let status = match &status[..] {
            b"200" => 200,
            b"300" => 300,
            b"400" => 400,
            b"500" => 500,
            _ => return Err(bad("status is not 200, 300, 400 or 500")),
        };
        let metadata = Properties::parse(Bytes::copy_from_slice(metadata))
            .map_err(|_| bad("malformed metadata"))?;
        Ok(ZapReply {
            status,
            user_id: Bytes::copy_from_slice(user_id),
            metadata,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(parts: &[&[u8]]) -> Vec<Msg> {
        parts.iter().map(|p| Msg::from(*p)).collect()
    }

    #[test]
    fn request_frames_follow_rfc_27() {
        let req = ZapRequest {
            mechanism: "PLAIN",
            credentials: vec![Bytes::from_static(b"admin"), Bytes::from_static(b"pw")],
        };
        let frames = req.frames(b"global", "127.0.0.1", b"");
        let bodies: Vec<&[u8]> = frames.iter().map(|f| &f[..]).collect();
        assert_eq!(
            bodies,
            [
                &b""[..],
                b"1.0",
                b"1",
                b"global",
                b"127.0.0.1",
                b"",
                b"PLAIN",
                b"admin",
                b"pw"
            ]
        );
        let more: Vec<bool> = frames.iter().map(|f| f.more()).collect();
        assert_eq!(
            more,
            [true, true, true, true, true, true, true, true, false]
        );
    }

    #[test]
    fn replies_are_checked() {
        let ok = ZapReply::parse(&reply(&[b"", b"1.0", b"1", b"200", b"OK", b"alice", b""]));
        assert_eq!(ok.unwrap().user_id, Bytes::from_static(b"alice"));
        let meta = b"\x05X-Key\x00\x00\x00\x01v";
        let with_meta =
            ZapReply::parse(&reply(&[b"", b"1.0", b"1", b"400", b"", b"", meta])).unwrap();
        assert_eq!(with_meta.status, 400);
        assert_eq!(
            with_meta.metadata.get("x-key").map(|v| &v[..]),
            Some(&b"v"[..])
        );
        for bad in [
            reply(&[b"", b"1.0", b"1", b"200", b"OK", b""]),
            reply(&[b"x", b"1.0", b"1", b"200", b"OK", b"", b""]),
            reply(&[b"", b"2.0", b"1", b"200", b"OK", b"", b""]),
            reply(&[b"", b"1.0", b"7", b"200", b"OK", b"", b""]),
            reply(&[b"", b"1.0", b"1", b"201", b"OK", b"", b""]),
            reply(&[b"", b"1.0", b"1", b"200", b"OK", b"", b"\x05X-Key\x00"]),
        ] {
            assert!(ZapReply::parse(&bad).is_err());
        }
    }
}
