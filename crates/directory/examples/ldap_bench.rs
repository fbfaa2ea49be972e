//! A load generator for LDAP equality searches (issue #7's benchmark): many TCP connections,
//! each with several searches in flight (RFC 4511 §3.1 lets a client pipeline requests),
//! searching `(mail=userN@DOMAIN)` for random N below ACCOUNTS under BASE and counting the
//! SearchResultDone messages (and entries) that come back within the measured window. It
//! speaks to any LDAP server, so `scripts/bench-directory.sh` runs it against Cachet and
//! OpenLDAP `slapd` alike.
//!
//! Requests are encoded once per search with a few lines of BER (RFC 4511 §4.5.1) and
//! responses only framed and classified — the client must cost little next to the server
//! on the same two cores.
//!
//! Usage: `ldap_bench ADDR BASE DOMAIN ACCOUNTS [SECONDS] [CONNECTIONS] [DEPTH] [ATTRS]`
//! (ATTRS comma-separated; default `mail,userCertificate;binary`). Prints one JSON line:
//! `{"searches":…,"entries":…,"errors":…,"seconds":…,"rate":…}`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A BER length (X.690 §8.1.3, definite form).
fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u64).to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (8 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

fn tlv(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    out.push(tag);
    push_len(out, content.len());
    out.extend_from_slice(content);
}

/// An INTEGER's minimal two's-complement content (non-negative values).
fn int(v: u32) -> Vec<u8> {
    let b = v.to_be_bytes();
    let skip = b.iter().take_while(|x| **x == 0).count().min(3);
    let mut c = b[skip..].to_vec();
    if c[0] & 0x80 != 0 {
        c.insert(0, 0);
    }
    c
}

/// A SearchRequest (subtree, no limits) for `(mail=MAIL)` returning `attrs`.
fn search(msgid: u32, base: &str, mail: &str, attrs: &[String]) -> Vec<u8> {
    let mut body = Vec::with_capacity(128);
    tlv(&mut body, 0x04, base.as_bytes());
    tlv(&mut body, 0x0a, &[2]); // wholeSubtree
    tlv(&mut body, 0x0a, &[0]); // neverDerefAliases
    tlv(&mut body, 0x02, &[0]); // sizeLimit
    tlv(&mut body, 0x02, &[0]); // timeLimit
    tlv(&mut body, 0x01, &[0]); // typesOnly FALSE
    let mut ava = Vec::new();
    tlv(&mut ava, 0x04, b"mail");
    tlv(&mut ava, 0x04, mail.as_bytes());
    tlv(&mut body, 0xa3, &ava); // equalityMatch
    let mut list = Vec::new();
    for a in attrs {
        tlv(&mut list, 0x04, a.as_bytes());
    }
    tlv(&mut body, 0x30, &list);
    let mut msg = Vec::with_capacity(body.len() + 16);
    tlv(&mut msg, 0x02, &int(msgid));
    tlv(&mut msg, 0x63, &body);
    let mut out = Vec::with_capacity(msg.len() + 6);
    tlv(&mut out, 0x30, &msg);
    out
}

/// The length of the first complete message in `buf` and the tag of its protocolOp, with
/// the first content byte after it; `None` when more bytes are needed.
fn frame(buf: &[u8]) -> Option<(usize, u8, &[u8])> {
    fn header(b: &[u8]) -> Option<(usize, usize)> {
        let first = *b.get(1)? as usize;
        if first < 0x80 {
            return Some((2, first));
        }
        let n = first & 0x7f;
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *b.get(2 + i)? as usize;
        }
        Some((2 + n, len))
    }
    let (h, len) = header(buf)?;
    if buf.len() < h + len {
        return None;
    }
    let inner = &buf[h..h + len];
    let (ih, ilen) = header(inner)?; // messageID
    let op = inner.get(ih + ilen..)?;
    let (oh, _) = header(op)?;
    Some((h + len, *op.first()?, op.get(oh..).unwrap_or_default()))
}

struct Counters {
    searches: AtomicU64,
    entries: AtomicU64,
    errors: AtomicU64,
}

#[allow(clippy::too_many_arguments)]
async fn connection(
    addr: String,
    base: Arc<str>,
    domain: Arc<str>,
    accounts: u32,
    depth: usize,
    attrs: Arc<Vec<String>>,
    seed: u64,
    measuring: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
) -> std::io::Result<()> {
    let mut s = TcpStream::connect(&addr).await?;
    s.set_nodelay(true)?;
    let mut rng = seed | 1;
    let mut next = || {
        // xorshift64
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut msgid = 0u32;
    let mut in_flight = 0usize;
    let mut out = Vec::new();
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    while !stop.load(Ordering::Relaxed) {
        out.clear();
        while in_flight < depth {
            msgid = msgid % 0x7fff_fff0 + 1;
            let n = (next() % u64::from(accounts)) as u32;
            let mail = format!("user{n}@{domain}");
            out.extend_from_slice(&search(msgid, &base, &mail, &attrs));
            in_flight += 1;
        }
        if !out.is_empty() {
            s.write_all(&out).await?;
        }
        let n = tokio::time::timeout(Duration::from_secs(30), s.read(&mut chunk))
            .await
            .map_err(|_| std::io::Error::other("no response within 30 s"))??;
        if n == 0 {
            return Err(std::io::Error::other("the server closed the connection"));
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut used = 0;
        while let Some((len, op, content)) = frame(&buf[used..]) {
            let counting = measuring.load(Ordering::Relaxed);
            match op {
                0x64 if counting => {
                    counters.entries.fetch_add(1, Ordering::Relaxed);
                }
                0x65 => {
                    in_flight -= 1;
                    // resultCode: ENUMERATED, first in the LDAPResult.
                    let ok = content.get(..3) == Some(&[0x0a, 0x01, 0x00]);
                    if counting {
                        counters.searches.fetch_add(1, Ordering::Relaxed);
                        if !ok {
                            counters.errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                _ => {}
            }
            used += len;
        }
        buf.drain(..used);
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 4 {
        eprintln!(
            "usage: ldap_bench ADDR BASE DOMAIN ACCOUNTS [SECONDS] [CONNECTIONS] [DEPTH] [ATTRS]"
        );
        std::process::exit(2);
    }
    let num = |i: usize, default: u64| -> u64 {
        args.get(i)
            .map(|s| {
                s.parse().unwrap_or_else(|_| {
                    eprintln!("ldap_bench: argument {} is not a number: {s}", i + 1);
                    std::process::exit(2)
                })
            })
            .unwrap_or(default)
    };
    let addr = args[0].clone();
    let base: Arc<str> = args[1].as_str().into();
    let domain: Arc<str> = args[2].as_str().into();
    let accounts = num(3, 0).clamp(1, u64::from(u32::MAX)) as u32;
    let seconds = num(4, 10).max(1);
    let connections = num(5, 32).max(1);
    let depth = num(6, 8).max(1) as usize;
    let attrs: Arc<Vec<String>> = Arc::new(
        args.get(7)
            .map(String::as_str)
            .unwrap_or("mail,userCertificate;binary")
            .split(',')
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .collect(),
    );
    // One thread: the client should leave the cores to the server it measures.
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ldap_bench: {e}");
            std::process::exit(1)
        }
    };
    let counters = Arc::new(Counters {
        searches: AtomicU64::new(0),
        entries: AtomicU64::new(0),
        errors: AtomicU64::new(0),
    });
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let result = rt.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for c in 0..connections {
            tasks.spawn(connection(
                addr.clone(),
                base.clone(),
                domain.clone(),
                accounts,
                depth,
                attrs.clone(),
                0x9e37_79b9_7f4a_7c15u64.wrapping_mul(c + 1),
                measuring.clone(),
                stop.clone(),
                counters.clone(),
            ));
        }
        // One second of warm-up, then the measured window.
        tokio::time::sleep(Duration::from_secs(1)).await;
        measuring.store(true, Ordering::Relaxed);
        let started = Instant::now();
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        measuring.store(false, Ordering::Relaxed);
        let elapsed = started.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        let mut failures = Vec::new();
        while let Some(r) = tasks.join_next().await {
            match r {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failures.push(e.to_string()),
                Err(e) => failures.push(e.to_string()),
            }
        }
        (elapsed, failures)
    });
    let (elapsed, failures) = result;
    if let Some(f) = failures.first() {
        eprintln!(
            "ldap_bench: {} connection(s) failed, e.g.: {f}",
            failures.len()
        );
        std::process::exit(1);
    }
    let searches = counters.searches.load(Ordering::Relaxed);
    println!(
        "{{\"searches\":{searches},\"entries\":{},\"errors\":{},\"seconds\":{elapsed:.3},\"rate\":{:.0}}}",
        counters.entries.load(Ordering::Relaxed),
        counters.errors.load(Ordering::Relaxed),
        searches as f64 / elapsed
    );
}
