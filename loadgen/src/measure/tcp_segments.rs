//! TCP segments the machine sent, from `/proc/net/snmp` (`Tcp: … OutSegs`): host-wide, both
//! directions of a loopback connection. Per event over a step, beside pgbench's over its run,
//! it counts round trips: a request and its reply are two segments, and each extra round
//! trip of a harness adds two more.

/// A reading of the segments sent so far.
#[derive(Debug, Clone, Copy)]
pub struct TcpSegments(u64);

impl TcpSegments {
    /// The count now; `None` where `/proc/net/snmp` cannot be read.
    pub fn now() -> Option<Self> {
        parse(&std::fs::read_to_string("/proc/net/snmp").ok()?).map(Self)
    }

    /// Segments per event between two readings; `None` when either is unknown, nothing was
    /// done, or nothing was sent (a server reached over a Unix socket).
    pub fn per_event(before: Option<Self>, after: Option<Self>, events: u64) -> Option<f64> {
        let (before, after) = (before?, after?);
        let sent = after.0.saturating_sub(before.0);
        (events > 0 && sent > 0).then(|| sent as f64 / events as f64)
    }
}

/// `OutSegs` from the two `Tcp:` lines (names, then values).
fn parse(snmp: &str) -> Option<u64> {
    let mut tcp = snmp.lines().filter(|l| l.starts_with("Tcp:"));
    let (names, values) = (tcp.next()?, tcp.next()?);
    let at = names.split_whitespace().position(|n| n == "OutSegs")?;
    values.split_whitespace().nth(at)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_segs_is_read_from_the_tcp_lines() {
        let snmp = "Ip: Forwarding DefaultTTL\nIp: 1 64\n\
                    Tcp: RtoAlgorithm RtoMin ActiveOpens InSegs OutSegs RetransSegs\n\
                    Tcp: 1 200 12 5000 4242 3\nUdp: InDatagrams\nUdp: 9\n";
        assert_eq!(parse(snmp), Some(4242));
        assert_eq!(parse("Ip: a\nIp: 1\n"), None);
        let (a, b) = (Some(TcpSegments(100)), Some(TcpSegments(300)));
        assert_eq!(TcpSegments::per_event(a, b, 50), Some(4.0));
        assert_eq!(TcpSegments::per_event(a, a, 50), None);
    }

    #[test]
    fn this_machine_has_a_count() {
        assert!(TcpSegments::now().is_some(), "no /proc/net/snmp here");
    }
}
