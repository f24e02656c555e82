//! Emulation of the parts of CPython 3.11.7 `urllib.parse` that Airflow's connection code uses:
//! [`urlsplit`] (with its `username`, `password`, `hostname` and `port` properties), [`unquote`],
//! [`quote`], [`quote_plus`], [`parse_qsl`] and [`urlencode`].
//!
//! These follow CPython, not RFC 3986 or the WHATWG URL standard: leading C0 controls and spaces are
//! stripped, TAB/CR/LF are removed everywhere, the scheme is only recognised when every character before
//! the first `:` is a scheme character, the userinfo ends at the **last** `@`, the password starts after
//! the **first** `:`, the host is lowercased only before the first `%`, and `unquote` decodes each ASCII
//! run as UTF-8 with `errors="replace"`.

use crate::error::{ConnectionError, UriProblem};
use crate::pystr;

/// An error raised by [`urlsplit`] or by [`SplitResult::port`] (Python raises `ValueError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// Unbalanced `[` / `]` in the netloc ("Invalid IPv6 URL").
    #[error("unbalanced brackets in the URL authority")]
    UnbalancedBrackets,
    /// The bracketed host is not an IPv6 address or an IPvFuture literal.
    #[error("the bracketed host is not a valid IPv6 address or IPvFuture literal")]
    InvalidBracketedHost,
    /// The netloc contains characters that NFKC normalisation turns into `/?#@:`.
    #[error("the URL authority contains characters that become delimiters under NFKC normalization")]
    NfkcDelimiter,
    /// The port is not made of ASCII digits only ("Port could not be cast to integer value").
    #[error("the port is not an integer")]
    PortNotInteger,
    /// The port is above 65535 ("Port out of range 0-65535").
    #[error("the port is out of range 0-65535")]
    PortOutOfRange,
}

impl From<UrlError> for ConnectionError {
    fn from(e: UrlError) -> Self {
        match e {
            UrlError::UnbalancedBrackets => Self::InvalidUri(UriProblem::UnbalancedBrackets),
            UrlError::InvalidBracketedHost => Self::InvalidUri(UriProblem::InvalidBracketedHost),
            UrlError::NfkcDelimiter => Self::InvalidUri(UriProblem::NfkcDelimiter),
            UrlError::PortNotInteger => Self::UriPortNotInteger,
            UrlError::PortOutOfRange => Self::UriPortOutOfRange,
        }
    }
}

/// The result of [`urlsplit`]: Python's `SplitResult`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SplitResult {
    /// Lowercased scheme, or `""`.
    pub scheme: String,
    /// Authority (`userinfo@host:port`), or `""`.
    pub netloc: String,
    /// Path, or `""`.
    pub path: String,
    /// Query without the `?`, or `""`.
    pub query: String,
    /// Fragment without the `#`, or `""`.
    pub fragment: String,
}

impl std::fmt::Debug for SplitResult {
    // The netloc may hold a password and the query may hold secrets: never print them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SplitResult")
            .field("scheme", &self.scheme)
            .field("netloc", &"***")
            .field("path", &"***")
            .field("query", &"***")
            .field("fragment", &"***")
            .finish()
    }
}

const SCHEME_CHARS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.";

/// Python's `str.partition(sep)`: `(before, Some(after))`, or `(s, None)` when `sep` is absent.
fn partition(s: &str, sep: char) -> (&str, Option<&str>) {
    match s.split_once(sep) {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    }
}

/// Python's `str.rpartition(sep)`: `(Some(before), after)`, or `(None, s)` when `sep` is absent.
fn rpartition(s: &str, sep: char) -> (Option<&str>, &str) {
    match s.rsplit_once(sep) {
        Some((a, b)) => (Some(a), b),
        None => (None, s),
    }
}

/// CPython 3.11.7 `urllib.parse.urlsplit(url)` (default scheme `""`, fragments allowed).
///
/// ```
/// use airflow_compat::pyurllib::urlsplit;
/// let p = urlsplit("postgres://u:p@ss@HOST:5432/db?a=1#f").unwrap();
/// assert_eq!(p.scheme, "postgres");
/// assert_eq!(p.password(), Some("p@ss"));
/// assert_eq!(p.hostname().as_deref(), Some("host"));
/// assert_eq!(p.port(), Ok(Some(5432)));
/// assert_eq!((p.path.as_str(), p.query.as_str()), ("/db", "a=1"));
/// ```
pub fn urlsplit(url: &str) -> Result<SplitResult, UrlError> {
    let url = url.trim_start_matches(|c: char| c <= ' ');
    let cleaned: String = url.chars().filter(|c| !matches!(c, '\t' | '\r' | '\n')).collect();
    let mut rest: &str = &cleaned;
    let mut result = SplitResult::default();

    if let Some(i) = rest.find(':') {
        let candidate = &rest[..i];
        if let Some(first) = candidate.chars().next()
            && first.is_ascii_alphabetic()
            && candidate.chars().all(|c| SCHEME_CHARS.contains(c))
        {
            result.scheme = candidate.to_ascii_lowercase();
            rest = &rest[i + 1..];
        }
    }

    if let Some(after) = rest.strip_prefix("//") {
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        let netloc = &after[..end];
        rest = &after[end..];
        let open = netloc.contains('[');
        let close = netloc.contains(']');
        if open != close {
            return Err(UrlError::UnbalancedBrackets);
        }
        if open && close {
            let (_, bracketed) = partition(netloc, '[');
            let (host, _) = partition(bracketed.unwrap_or(""), ']');
            check_bracketed_host(host)?;
        }
        result.netloc = netloc.to_owned();
    }
    if let Some((before, fragment)) = rest.split_once('#') {
        result.fragment = fragment.to_owned();
        rest = before;
    }
    if let Some((before, query)) = rest.split_once('?') {
        result.query = query.to_owned();
        rest = before;
    }
    result.path = rest.to_owned();
    check_netloc(&result.netloc)?;
    Ok(result)
}

/// `urllib.parse._checknetloc`: reject authorities whose NFKC form contains new delimiters.
fn check_netloc(netloc: &str) -> Result<(), UrlError> {
    if netloc.is_ascii() {
        return Ok(());
    }
    // '@', ':', '#' and '?' are removed before normalising; each remaining character is checked on its
    // own, which is exact because composition never produces one of these ASCII delimiters.
    if netloc.chars().filter(|c| !matches!(c, '@' | ':' | '#' | '?')).any(pystr::nfkc_has_url_delimiter) {
        return Err(UrlError::NfkcDelimiter);
    }
    Ok(())
}

/// `urllib.parse._check_bracketed_host`: an IPvFuture literal or an IPv6 address (IPv4 is rejected).
fn check_bracketed_host(host: &str) -> Result<(), UrlError> {
    if let Some(rest) = host.strip_prefix('v') {
        // re.match(r"\Av[a-fA-F0-9]+\..+\Z", hostname)
        let hex_len = rest.bytes().take_while(u8::is_ascii_hexdigit).count();
        let valid = hex_len > 0
            && rest[hex_len..].strip_prefix('.').is_some_and(|tail| !tail.is_empty() && !tail.contains('\n'));
        return if valid { Ok(()) } else { Err(UrlError::InvalidBracketedHost) };
    }
    // ipaddress.ip_address(): IPv4 first (an IPv4 address in brackets is an error too), then IPv6.
    if is_ipv6_address(host) { Ok(()) } else { Err(UrlError::InvalidBracketedHost) }
}

/// `ipaddress.IPv4Address(s)` succeeds.
fn is_ipv4_address(s: &str) -> bool {
    if s.is_empty() || s.contains('/') {
        return false;
    }
    let octets: Vec<&str> = s.split('.').collect();
    octets.len() == 4
        && octets.iter().all(|o| {
            !o.is_empty()
                && o.len() <= 3
                && o.bytes().all(|b| b.is_ascii_digit())
                && (*o == "0" || !o.starts_with('0'))
                && o.parse::<u16>().is_ok_and(|v| v <= 255)
        })
}

/// `ipaddress.IPv6Address(s)` succeeds (scope ids allowed).
fn is_ipv6_address(s: &str) -> bool {
    if s.contains('/') {
        return false;
    }
    let addr = match s.split_once('%') {
        Some((addr, scope)) => {
            if scope.is_empty() || scope.contains('%') {
                return false;
            }
            addr
        }
        None => s,
    };
    if addr.is_empty() {
        return false;
    }
    let mut parts: Vec<&str> = addr.split(':').collect();
    if parts.len() < 3 {
        return false;
    }
    if let Some(last) = parts.last().copied()
        && last.contains('.')
    {
        if !is_ipv4_address(last) {
            return false;
        }
        // Python appends the two hextets of the IPv4 tail; both are valid.
        parts.pop();
        parts.push("0");
        parts.push("0");
    }
    let n = parts.len();
    if n > 9 {
        return false;
    }
    let mut skip_index = None;
    for (i, part) in parts.iter().enumerate().take(n - 1).skip(1) {
        if part.is_empty() {
            if skip_index.is_some() {
                return false;
            }
            skip_index = Some(i);
        }
    }
    let first_empty = parts.first().is_some_and(|p| p.is_empty());
    let last_empty = parts.last().is_some_and(|p| p.is_empty());
    let (hi, lo) = if let Some(skip) = skip_index {
        let mut hi = skip;
        let mut lo = n - skip - 1;
        if first_empty {
            hi -= 1;
            if hi != 0 {
                return false;
            }
        }
        if last_empty {
            lo -= 1;
            if lo != 0 {
                return false;
            }
        }
        if hi + lo > 7 {
            return false;
        }
        (hi, lo)
    } else {
        if n != 8 || first_empty || last_empty {
            return false;
        }
        (n, 0)
    };
    let hextet_ok = |p: &&str| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_hexdigit());
    parts.iter().take(hi).all(hextet_ok) && parts.iter().skip(n - lo).all(hextet_ok)
}

impl SplitResult {
    fn userinfo(&self) -> (Option<&str>, Option<&str>) {
        let (userinfo, _) = rpartition(&self.netloc, '@');
        match userinfo {
            Some(info) => {
                let (user, password) = partition(info, ':');
                (Some(user), password)
            }
            None => (None, None),
        }
    }

    fn hostinfo(&self) -> (&str, Option<&str>) {
        let (_, hostinfo) = rpartition(&self.netloc, '@');
        let (_, bracketed) = partition(hostinfo, '[');
        let (hostname, port) = match bracketed {
            Some(bracketed) => {
                let (hostname, after) = partition(bracketed, ']');
                let port = after.map_or("", |a| partition(a, ':').1.unwrap_or(""));
                (hostname, port)
            }
            None => {
                let (hostname, port) = partition(hostinfo, ':');
                (hostname, port.unwrap_or(""))
            }
        };
        (hostname, (!port.is_empty()).then_some(port))
    }

    /// Python's `SplitResult.username` (not unquoted).
    pub fn username(&self) -> Option<&str> {
        self.userinfo().0
    }

    /// Python's `SplitResult.password` (not unquoted).
    pub fn password(&self) -> Option<&str> {
        self.userinfo().1
    }

    /// Python's `SplitResult.hostname`: brackets removed, lowercased before the first `%` only.
    pub fn hostname(&self) -> Option<String> {
        let (hostname, _) = self.hostinfo();
        if hostname.is_empty() {
            return None;
        }
        Some(match hostname.split_once('%') {
            Some((host, zone)) => format!("{}%{zone}", pystr::lower(host)),
            None => pystr::lower(hostname),
        })
    }

    /// Python's `SplitResult.port`: `None` when empty, else ASCII digits in `0..=65535`.
    pub fn port(&self) -> Result<Option<u16>, UrlError> {
        let (_, port) = self.hostinfo();
        let Some(port) = port else {
            return Ok(None);
        };
        if !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err(UrlError::PortNotInteger);
        }
        let significant = port.trim_start_matches('0');
        if significant.len() > 5 {
            return Err(UrlError::PortOutOfRange);
        }
        if significant.is_empty() {
            return Ok(Some(0));
        }
        significant.parse::<u32>().ok().and_then(|v| u16::try_from(v).ok()).map(Some).ok_or(UrlError::PortOutOfRange)
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `unquote_to_bytes` for an ASCII run: `%XX` decoded, malformed escapes kept literally.
fn unquote_ascii_run(run: &str, out: &mut String) {
    let bytes = run.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%'
            && let (Some(h), Some(l)) =
                (bytes.get(i + 1).copied().and_then(hex_value), bytes.get(i + 2).copied().and_then(hex_value))
        {
            decoded.push((h << 4) | l);
            i += 3;
            continue;
        }
        decoded.push(b);
        i += 1;
    }
    out.push_str(&String::from_utf8_lossy(&decoded));
}

/// Python's `urllib.parse.unquote(s)`: UTF-8 with `errors="replace"`.
///
/// Each maximal ASCII run is decoded separately (CPython splits on `[\x00-\x7f]+`), invalid UTF-8
/// becomes U+FFFD, malformed escapes such as `%zz` or a lone `%` are kept, and `+` stays `+`.
///
/// ```
/// use airflow_compat::pyurllib::unquote;
/// assert_eq!(unquote("p%40ss%zz+%"), "p@ss%zz+%");
/// assert_eq!(unquote("%C3%A9%FF"), "é\u{fffd}");
/// ```
pub fn unquote(s: &str) -> String {
    if !s.contains('%') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while !rest.is_empty() {
        let ascii_len = rest.bytes().take_while(u8::is_ascii).count();
        let (ascii, tail) = rest.split_at(ascii_len);
        if !ascii.is_empty() {
            unquote_ascii_run(ascii, &mut out);
        }
        let non_ascii_len = tail.char_indices().find(|(_, c)| c.is_ascii()).map_or(tail.len(), |(i, _)| i);
        let (non_ascii, tail) = tail.split_at(non_ascii_len);
        out.push_str(non_ascii);
        rest = tail;
    }
    out
}

/// Python's `urllib.parse.unquote_plus(s)`: `+` becomes a space, then [`unquote`].
pub fn unquote_plus(s: &str) -> String {
    unquote(&s.replace('+', " "))
}

fn always_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'~')
}

/// Python's `urllib.parse.quote(s, safe=safe)`: UTF-8, uppercase `%XX`, `A-Za-z0-9_.-~` and the ASCII
/// characters of `safe` kept.
///
/// ```
/// use airflow_compat::pyurllib::quote;
/// assert_eq!(quote("p@ss w/rd", ""), "p%40ss%20w%2Frd");
/// assert_eq!(quote("a/b", "/"), "a/b");
/// ```
pub fn quote(s: &str, safe: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if always_safe(b) || (b.is_ascii() && safe.as_bytes().contains(&b)) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 0x0f)]));
        }
    }
    out
}

/// Python's `urllib.parse.quote_plus(s, safe=safe)`: like [`quote`] but a space becomes `+`.
pub fn quote_plus(s: &str, safe: &str) -> String {
    if !s.contains(' ') {
        return quote(s, safe);
    }
    let mut safe_with_space = safe.to_owned();
    safe_with_space.push(' ');
    quote(s, &safe_with_space).replace(' ', "+")
}

/// Python's `urllib.parse.parse_qsl(qs, keep_blank_values=...)`: `&` is the only separator, `+` is a
/// space, names and values are unquoted with `errors="replace"`.
///
/// ```
/// use airflow_compat::pyurllib::parse_qsl;
/// let pairs = parse_qsl("a=1+2&flag&;b=%zz", true);
/// assert_eq!(pairs, vec![
///     ("a".to_owned(), "1 2".to_owned()),
///     ("flag".to_owned(), String::new()),
///     (";b".to_owned(), "%zz".to_owned()),
/// ]);
/// ```
pub fn parse_qsl(qs: &str, keep_blank_values: bool) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    if qs.is_empty() {
        return pairs;
    }
    for name_value in qs.split('&') {
        if name_value.is_empty() {
            continue;
        }
        let (name, value) = match name_value.split_once('=') {
            Some((n, v)) => (n, v),
            None if keep_blank_values => (name_value, ""),
            None => continue,
        };
        if !value.is_empty() || keep_blank_values {
            pairs.push((unquote_plus(name), unquote_plus(value)));
        }
    }
    pairs
}

/// Python's `urllib.parse.urlencode(pairs)` for string pairs: `quote_plus` on names and values, joined
/// with `&`.
///
/// ```
/// use airflow_compat::pyurllib::urlencode;
/// let q = urlencode([("labelSelector", "a/b=c,!t"), ("resourceVersion", "0")]);
/// assert_eq!(q, "labelSelector=a%2Fb%3Dc%2C%21t&resourceVersion=0");
/// ```
pub fn urlencode<'a, I, K, V>(pairs: I) -> String
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str> + 'a,
    V: AsRef<str> + 'a,
{
    let mut out = String::new();
    for (k, v) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(&quote_plus(k.as_ref(), ""));
        out.push('=');
        out.push_str(&quote_plus(v.as_ref(), ""));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unquote_matches_cpython() {
        // python3 -c "from urllib.parse import unquote; print(ascii(unquote(s)))"
        let cases: &[(&str, &str)] = &[
            ("abc", "abc"),
            ("%41%42", "AB"),
            ("%zz", "%zz"),
            ("%", "%"),
            ("%4", "%4"),
            ("a%2", "a%2"),
            ("%C3%A9t%C3%A9%E2%9C%93", "été✓"),
            ("%FF", "\u{fffd}"),
            ("%E2%9C", "\u{fffd}"),
            ("%F0%80", "\u{fffd}\u{fffd}"),
            ("%ED%A0%80", "\u{fffd}\u{fffd}\u{fffd}"),
            ("%C3é%A9", "\u{fffd}é\u{fffd}"),
            ("a+b", "a+b"),
            ("é%41", "éA"),
            ("%0A", "\n"),
        ];
        for (input, expected) in cases {
            assert_eq!(unquote(input), *expected, "{input:?}");
        }
    }

    #[test]
    fn quote_matches_cpython() {
        assert_eq!(quote("pass :/!@#$%^&*(){}\"", ""), "pass%20%3A%2F%21%40%23%24%25%5E%26%2A%28%29%7B%7D%22");
        assert_eq!(quote("été✓~_.-", ""), "%C3%A9t%C3%A9%E2%9C%93~_.-");
        assert_eq!(quote_plus("a b+c", ""), "a+b%2Bc");
        assert_eq!(quote_plus("ü", ""), "%C3%BC");
    }

    #[test]
    fn parse_qsl_matches_cpython() {
        assert_eq!(
            parse_qsl("a=1&a=2&&b&c=&d=x=y", true),
            vec![
                ("a".into(), "1".into()),
                ("a".into(), "2".into()),
                ("b".into(), String::new()),
                ("c".into(), String::new()),
                ("d".into(), "x=y".into()),
            ]
        );
        assert_eq!(parse_qsl("a=1;b=2", true), vec![("a".into(), "1;b=2".into())]);
        assert_eq!(parse_qsl("b&c=", false), vec![]);
        assert_eq!(parse_qsl("=v", true), vec![(String::new(), "v".into())]);
    }

    fn split(url: &str) -> (String, String, String, String, String) {
        let p = urlsplit(url).unwrap();
        (p.scheme, p.netloc, p.path, p.query, p.fragment)
    }

    #[test]
    fn urlsplit_matches_cpython() {
        let s = |a: &str, b: &str, c: &str, d: &str, e: &str| {
            (a.to_owned(), b.to_owned(), c.to_owned(), d.to_owned(), e.to_owned())
        };
        assert_eq!(split("HTTP://u:p@H:1/p?q=1#f"), s("http", "u:p@H:1", "/p", "q=1", "f"));
        assert_eq!(split("host:5432/db"), s("host", "", "5432/db", "", ""));
        assert_eq!(
            split("google_cloud_platform://?project=airflow"),
            s("", "", "google_cloud_platform://", "project=airflow", "")
        );
        assert_eq!(split(" \x01x://h\t/a\nb"), s("x", "h", "/ab", "", ""));
        assert_eq!(split("1x://h"), s("", "", "1x://h", "", ""));
        assert_eq!(split("x:"), s("x", "", "", "", ""));
        assert_eq!(split(":x"), s("", "", ":x", "", ""));
        assert_eq!(split("//h#a?b"), s("", "h", "", "", "a?b"));
        assert_eq!(split("x://u:p?w@h/db"), s("x", "u:p", "", "w@h/db", ""));
        assert_eq!(split("é://h"), s("", "", "é://h", "", ""));
    }

    #[test]
    fn urlsplit_errors() {
        assert_eq!(urlsplit("x://[::1/"), Err(UrlError::UnbalancedBrackets));
        assert_eq!(urlsplit("x://::1]/"), Err(UrlError::UnbalancedBrackets));
        assert_eq!(urlsplit("x://[not-an-ip]/"), Err(UrlError::InvalidBracketedHost));
        assert_eq!(urlsplit("x://[1.2.3.4]/"), Err(UrlError::InvalidBracketedHost));
        assert!(urlsplit("x://[v1.x]/").is_ok());
        assert!(urlsplit("x://[fe80::1%25eth0]:80").is_ok());
        assert_eq!(urlsplit("x://h\u{2100}x/"), Err(UrlError::NfkcDelimiter));
        assert!(urlsplit("x://h\u{fb01}/").is_ok());
        // outside the netloc NFKC does not matter
        assert!(urlsplit("x://h/\u{2100}").is_ok());
    }

    #[test]
    fn ipv6_validation_matches_ipaddress() {
        // python3 -c "import ipaddress; ipaddress.IPv6Address(s)"
        for ok in [
            "::1",
            "::",
            "1::",
            "2001:db8::1",
            "1:2:3:4:5:6:7:8",
            "::1.2.3.4",
            "::ffff:1.2.3.4",
            "1:2:3:4:5:6:1.2.3.4",
            "1::2:3:4:5:6:7",
            "fe80::1%eth0",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
        ] {
            assert!(is_ipv6_address(ok), "{ok}");
        }
        for bad in [
            "",
            ":",
            "1:2",
            ":::",
            "1:2:3:4:5:6:7:8:9",
            "1::2::3",
            ":1::2",
            "1::2:",
            "12345::",
            "g::",
            "1:2:3:4:5:6:7",
            "::1.2.3",
            "::01.2.3.4",
            "1:2:3:4:5:6:7:1.2.3.4",
            "::1%",
            "::1%a%b",
            "1:2:3:4:5:6:7:8::",
            "::1/64",
            "1.2.3.4",
        ] {
            assert!(!is_ipv6_address(bad), "{bad}");
        }
    }

    #[test]
    fn split_result_properties() {
        let p = urlsplit("x://u:p:w@[FE80::1%25ETH0]:0080/").unwrap();
        assert_eq!(p.username(), Some("u"));
        assert_eq!(p.password(), Some("p:w"));
        assert_eq!(p.hostname().as_deref(), Some("fe80::1%25ETH0"));
        assert_eq!(p.port(), Ok(Some(80)));
        let p = urlsplit("x://%41BC.Example:").unwrap();
        // Only the part before the first `%` is lowercased (here: nothing).
        assert_eq!(p.hostname().as_deref(), Some("%41BC.Example"));
        assert_eq!(p.port(), Ok(None));
        assert_eq!(urlsplit("x://h: 80").unwrap().port(), Err(UrlError::PortNotInteger));
        assert_eq!(urlsplit("x://h:-1").unwrap().port(), Err(UrlError::PortNotInteger));
        assert_eq!(urlsplit("x://h:65536").unwrap().port(), Err(UrlError::PortOutOfRange));
        assert_eq!(urlsplit("x://h:0000000000065535").unwrap().port(), Ok(Some(65535)));
        assert_eq!(urlsplit("x://h:\u{661}").unwrap().port(), Err(UrlError::PortNotInteger));
        let p = urlsplit("x://@:1234").unwrap();
        assert_eq!((p.username(), p.password()), (Some(""), None));
        assert_eq!(p.hostname(), None);
    }
}
