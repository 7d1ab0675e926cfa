//! The two nf_tables requests hull-bridge makes on every ADD and DEL, sent
//! straight to the kernel over NETLINK_NETFILTER: list the rules of our
//! table (chain, handle, comment) and delete rules by handle in one atomic
//! batch. Running `nft` costs about 3 ms a time, most of it loading its
//! shared libraries; these requests cost a few hundred microseconds. Rules
//! are still added by `nft` (crate::nft): encoding nftables expressions is
//! its job, and it is only needed the first time a network is used and for
//! port mappings.

use std::io;

use netlink_sys::{Socket, SocketAddr};
use nix::errno::Errno;

const NETLINK_NETFILTER: isize = 12;
const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFT_MSG_NEWRULE: u16 = 6;
const NFT_MSG_GETRULE: u16 = 7;
const NFT_MSG_DELRULE: u16 = 8;
const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
const NFNL_MSG_BATCH_END: u16 = 0x11;
const NFTA_RULE_TABLE: u16 = 1;
const NFTA_RULE_CHAIN: u16 = 2;
const NFTA_RULE_HANDLE: u16 = 3;
const NFTA_RULE_USERDATA: u16 = 7;
/// libnftnl's user-data TLV type for a rule comment.
const UDATA_RULE_COMMENT: u8 = 0;
const NFPROTO_INET: u8 = 1;

const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_HDRLEN: usize = 16;
const NFGENMSG_LEN: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum NfError {
    #[error("nf_tables netlink socket: {0}")]
    Socket(#[source] io::Error),
    #[error("nf_tables {op}: {errno}")]
    Kernel { op: &'static str, errno: Errno },
    #[error("nf_tables reply could not be decoded: {0}")]
    Decode(&'static str),
}

impl NfError {
    /// The kernel has no nf_tables (not built, module not loadable): then
    /// no rule of ours can exist either.
    pub fn no_nftables(&self) -> bool {
        let errno = match self {
            NfError::Socket(e) => e.raw_os_error().map(Errno::from_raw),
            NfError::Kernel { errno, .. } => Some(*errno),
            NfError::Decode(_) => None,
        };
        matches!(
            errno,
            Some(Errno::EPROTONOSUPPORT | Errno::EOPNOTSUPP | Errno::EAFNOSUPPORT)
        )
    }
}

/// One rule of a table, as far as hull-bridge cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub chain: String,
    pub handle: u64,
    pub comment: String,
}

/// Builds one netlink message: header, nfgenmsg, attributes.
struct Msg {
    buf: Vec<u8>,
}

impl Msg {
    fn new(kind: u16, flags: u16, seq: u32, family: u8, res_id: u16) -> Msg {
        let mut buf = Vec::with_capacity(128);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // length, set in finish()
        buf.extend_from_slice(&kind.to_ne_bytes());
        buf.extend_from_slice(&flags.to_ne_bytes());
        buf.extend_from_slice(&seq.to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel's
        buf.push(family);
        buf.push(0); // NFNETLINK_V0
        buf.extend_from_slice(&res_id.to_be_bytes());
        Msg { buf }
    }

    fn attr(mut self, kind: u16, payload: &[u8]) -> Msg {
        let len = 4 + payload.len();
        // Attribute lengths are u16 by the netlink format; ours are names
        // and handles, far below that.
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(payload);
        self.buf.resize(self.buf.len() + (4 - len % 4) % 4, 0);
        self
    }

    fn str_attr(self, kind: u16, s: &str) -> Msg {
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s.as_bytes());
        v.push(0);
        self.attr(kind, &v)
    }

    fn finish(mut self, out: &mut Vec<u8>) {
        let len = self.buf.len() as u32;
        self.buf[..4].copy_from_slice(&len.to_ne_bytes());
        out.extend_from_slice(&self.buf);
    }
}

fn rule_msg_type(msg: u16) -> u16 {
    (NFNL_SUBSYS_NFTABLES << 8) | msg
}

fn open() -> Result<Socket, NfError> {
    let mut sock = Socket::new(NETLINK_NETFILTER).map_err(NfError::Socket)?;
    sock.bind_auto().map_err(NfError::Socket)?;
    sock.connect(&SocketAddr::new(0, 0))
        .map_err(NfError::Socket)?;
    Ok(sock)
}

/// Walks the netlink messages in one received buffer.
fn messages(data: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut rest = data;
    std::iter::from_fn(move || {
        if rest.len() < NLMSG_HDRLEN {
            return None;
        }
        let len = u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        if len < NLMSG_HDRLEN || len > rest.len() {
            return None;
        }
        let kind = u16::from_ne_bytes([rest[4], rest[5]]);
        let body = &rest[NLMSG_HDRLEN..len];
        rest = rest.get(len.next_multiple_of(4)..).unwrap_or_default();
        Some((kind, body))
    })
}

/// The errno of an NLMSG_ERROR body (0 is an acknowledgement).
fn error_of(body: &[u8]) -> Result<i32, NfError> {
    let b = body
        .get(..4)
        .ok_or(NfError::Decode("short error message"))?;
    Ok(-i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

/// Walks netlink attributes: (type, payload).
fn attrs(mut data: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if data.len() < 4 {
            return None;
        }
        let len = u16::from_ne_bytes([data[0], data[1]]) as usize;
        let kind = u16::from_ne_bytes([data[2], data[3]]) & 0x3fff;
        if len < 4 || len > data.len() {
            return None;
        }
        let payload = &data[4..len];
        data = data.get(len.next_multiple_of(4)..).unwrap_or_default();
        Some((kind, payload))
    })
}

fn c_string(b: &[u8]) -> String {
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// The comment in a rule's user data (libnftnl's TLVs: type, length, value).
fn comment_of(mut udata: &[u8]) -> String {
    while udata.len() >= 2 {
        let (kind, len) = (udata[0], udata[1] as usize);
        let Some(value) = udata.get(2..2 + len) else {
            break;
        };
        if kind == UDATA_RULE_COMMENT {
            return c_string(value);
        }
        udata = &udata[2 + len..];
    }
    String::new()
}

fn parse_rule(body: &[u8]) -> Option<Rule> {
    let (mut chain, mut handle, mut comment) = (None, None, String::new());
    for (kind, payload) in attrs(body.get(NFGENMSG_LEN..)?) {
        match kind {
            NFTA_RULE_CHAIN => chain = Some(c_string(payload)),
            NFTA_RULE_HANDLE => {
                handle = payload.get(..8).map(|b| {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(b);
                    u64::from_be_bytes(a)
                })
            }
            NFTA_RULE_USERDATA => comment = comment_of(payload),
            _ => {}
        }
    }
    Some(Rule {
        chain: chain?,
        handle: handle?,
        comment,
    })
}

/// Every rule of the inet table `table`; none when the table is absent.
pub fn list_rules(table: &str) -> Result<Vec<Rule>, NfError> {
    let sock = open()?;
    let mut req = Vec::new();
    Msg::new(
        rule_msg_type(NFT_MSG_GETRULE),
        NLM_F_REQUEST | NLM_F_DUMP,
        1,
        NFPROTO_INET,
        0,
    )
    .str_attr(NFTA_RULE_TABLE, table)
    .finish(&mut req);
    sock.send(&req, 0).map_err(NfError::Socket)?;
    let mut rules = Vec::new();
    loop {
        let (data, _) = sock.recv_from_full().map_err(NfError::Socket)?;
        if data.is_empty() {
            return Err(NfError::Decode("empty reply"));
        }
        for (kind, body) in messages(&data) {
            match kind {
                NLMSG_DONE => return Ok(rules),
                NLMSG_ERROR => match error_of(body)? {
                    0 => {}
                    e if e == Errno::ENOENT as i32 => return Ok(Vec::new()),
                    e => {
                        return Err(NfError::Kernel {
                            op: "list rules",
                            errno: Errno::from_raw(e),
                        })
                    }
                },
                k if k == rule_msg_type(NFT_MSG_NEWRULE) => {
                    rules.extend(parse_rule(body));
                }
                _ => {}
            }
        }
    }
}

/// Deletes rules of the inet table `table` by handle, all or none (one
/// nf_tables transaction).
pub fn delete_rules(table: &str, rules: &[Rule]) -> Result<(), NfError> {
    if rules.is_empty() {
        return Ok(());
    }
    let sock = open()?;
    let mut batch = Vec::new();
    let mut seq = 1;
    Msg::new(
        NFNL_MSG_BATCH_BEGIN,
        NLM_F_REQUEST,
        seq,
        0,
        NFNL_SUBSYS_NFTABLES,
    )
    .finish(&mut batch);
    for r in rules {
        seq += 1;
        Msg::new(
            rule_msg_type(NFT_MSG_DELRULE),
            NLM_F_REQUEST,
            seq,
            NFPROTO_INET,
            0,
        )
        .str_attr(NFTA_RULE_TABLE, table)
        .str_attr(NFTA_RULE_CHAIN, &r.chain)
        .attr(NFTA_RULE_HANDLE, &r.handle.to_be_bytes())
        .finish(&mut batch);
    }
    seq += 1;
    Msg::new(
        NFNL_MSG_BATCH_END,
        NLM_F_REQUEST,
        seq,
        0,
        NFNL_SUBSYS_NFTABLES,
    )
    .finish(&mut batch);
    sock.send(&batch, 0).map_err(NfError::Socket)?;
    // The kernel runs the batch inside sendmsg: an error is queued on the
    // socket by the time send returns, and nothing is queued on success
    // (no NLM_F_ACK asked), so a non-blocking read tells which it was.
    let mut buf = vec![0u8; 8192];
    loop {
        match sock.recv(&mut &mut buf[..], libc::MSG_DONTWAIT) {
            Ok(n) => {
                for (kind, body) in messages(&buf[..n]) {
                    if kind == NLMSG_ERROR {
                        let e = error_of(body)?;
                        if e != 0 {
                            return Err(NfError::Kernel {
                                op: "delete rules",
                                errno: Errno::from_raw(e),
                            });
                        }
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) => return Err(NfError::Socket(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `f` on a thread of its own in a new network namespace (unshare
    /// moves only the calling thread), so nothing reaches the host's tables.
    fn in_private_netns(f: impl FnOnce() + Send + 'static) {
        std::thread::spawn(move || {
            // SAFETY: unshare on this thread only; it owns no other state.
            let r = unsafe { libc::unshare(libc::CLONE_NEWNET) };
            assert_eq!(r, 0, "unshare: {}", io::Error::last_os_error());
            f();
        })
        .join()
        .expect("netns thread");
    }

    fn nft(args: &str) {
        let ok = std::process::Command::new("nft")
            .args(args.split(' '))
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "nft {args}");
    }

    #[test]
    fn rules_are_listed_and_deleted_over_netlink() {
        in_private_netns(|| {
            assert_eq!(list_rules("hbtest").expect("list"), Vec::new(), "no table");
            nft("add table inet hbtest");
            nft("add chain inet hbtest c");
            nft("add rule inet hbtest c counter comment a/b");
            nft("add rule inet hbtest c counter");
            let rules = list_rules("hbtest").expect("list");
            assert_eq!(rules.len(), 2, "{rules:?}");
            assert_eq!(
                (rules[0].chain.as_str(), rules[0].comment.as_str()),
                ("c", "a/b")
            );
            assert_eq!(rules[1].comment, "");
            // A handle that is not there fails the whole batch, by ENOENT.
            let mut bogus = rules[0].clone();
            bogus.handle += 1000;
            let err = delete_rules("hbtest", &[rules[0].clone(), bogus]).expect_err("bogus");
            assert!(
                matches!(
                    err,
                    NfError::Kernel {
                        errno: Errno::ENOENT,
                        ..
                    }
                ),
                "{err}"
            );
            assert_eq!(list_rules("hbtest").expect("list").len(), 2, "not atomic");
            delete_rules("hbtest", &rules[..1]).expect("delete");
            let left = list_rules("hbtest").expect("list");
            assert_eq!(left, rules[1..].to_vec());
        });
    }

    #[test]
    fn comment_is_found_among_user_data_tlvs() {
        // An unknown TLV first, then the comment with its NUL.
        let udata = [7u8, 2, 0xaa, 0xbb, 0, 4, b'a', b'/', b'b', 0];
        assert_eq!(comment_of(&udata), "a/b");
        assert_eq!(comment_of(&[0u8, 9, b'x']), "", "truncated TLV");
        assert_eq!(comment_of(&[]), "");
    }

    #[test]
    fn a_built_message_parses_back() {
        let mut buf = Vec::new();
        Msg::new(
            rule_msg_type(NFT_MSG_NEWRULE),
            NLM_F_REQUEST,
            9,
            NFPROTO_INET,
            0,
        )
        .str_attr(NFTA_RULE_CHAIN, "postrouting")
        .attr(NFTA_RULE_HANDLE, &42u64.to_be_bytes())
        .attr(NFTA_RULE_USERDATA, &[0, 4, b'n', b':', b'c', 0])
        .finish(&mut buf);
        // A second message right behind the first, as the kernel packs them.
        Msg::new(NLMSG_DONE, 0, 9, 0, 0).finish(&mut buf);
        let msgs: Vec<_> = messages(&buf).collect();
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[1].0, NLMSG_DONE);
        let rule = parse_rule(msgs[0].1).expect("rule");
        assert_eq!(
            rule,
            Rule {
                chain: "postrouting".into(),
                handle: 42,
                comment: "n:c".into()
            }
        );
        // Without a handle it is no rule we could delete.
        let mut buf = Vec::new();
        Msg::new(rule_msg_type(NFT_MSG_NEWRULE), 0, 1, NFPROTO_INET, 0)
            .str_attr(NFTA_RULE_CHAIN, "forward")
            .finish(&mut buf);
        let (_, body) = messages(&buf).next().expect("message");
        assert_eq!(parse_rule(body), None);
    }
}
