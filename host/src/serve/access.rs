//! Who may ask `secrets serve` for what (pure). Callers are the processes at the other end of the Unix socket,
//! identified by the kernel (`SO_PEERCRED`): their user and primary group. Grants name a uid or a gid, never a
//! pid: a pid is reused once its process exits, so a grant to one would pass to whatever process gets it next.
//!
//! The grants are those of task components (`KIND:PATTERN`, [`crate::task::Grant`]), checked by the same code
//! ([`ConfigKey::task_problem`], [`TaskGrants::team_problem`], [`Grant::covers`]), so the id rules a task meets
//! (no label-selector syntax, no `___`, ...) hold for every caller of the daemon too.

use crate::task::{ConfigKey, Grant, TaskGrants};

/// A caller, as the kernel reports it when it connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    /// Its effective user id.
    pub uid: u32,
    /// Its effective primary group id (supplementary groups are not reported by the socket).
    pub gid: u32,
    /// Its process id, for the audit log only (never for a grant).
    pub pid: Option<i32>,
}

impl Peer {
    /// How the audit log names the caller: `uid=1000 gid=1000 pid=42`.
    pub fn audit_name(&self) -> String {
        match self.pid {
            Some(pid) => format!("uid={} gid={} pid={pid}", self.uid, self.gid),
            None => format!("uid={} gid={}", self.uid, self.gid),
        }
    }
}

/// Whom a [`CallerGrant`] is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerMatch {
    /// Processes running as this user.
    Uid(u32),
    /// Processes whose primary group is this one.
    Gid(u32),
}

impl PeerMatch {
    fn matches(self, peer: &Peer) -> bool {
        match self {
            Self::Uid(uid) => peer.uid == uid,
            Self::Gid(gid) => peer.gid == gid,
        }
    }
}

/// What a caller may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Everything, for every team.
    All,
    /// What these grants cover, for no team but the listed ones.
    Grants {
        /// The grants.
        grants: Vec<Grant>,
        /// The teams whose entries the caller may ask for (`?team=`).
        teams: Vec<String>,
    },
}

/// One `[[serve.callers]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerGrant {
    /// Whom it is for.
    pub peer: PeerMatch,
    /// What they may read.
    pub access: Access,
}

/// One `[[serve.tokens]]` entry: a bearer token for callers over TCP on loopback (`serve --listen`), which
/// carry no peer credentials the daemon could trust.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    /// The name the audit log gives its callers (`token=NAME`); never the token.
    pub name: String,
    /// The file holding the token, read when the daemon starts and on every reload.
    pub token_file: std::path::PathBuf,
    /// The token's digest once [`ServeSettings::load_tokens`] has read the file.
    pub digest: Option<TokenDigest>,
    /// What its callers may read.
    pub access: Access,
}

/// The SHA-256 digest of a bearer token: what the daemon keeps instead of the token, and compares a presented
/// token's digest with (a timing difference then says nothing about the token). `Debug` does not show it: a
/// digest of a weak token can be searched offline.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TokenDigest([u8; 32]);

impl std::fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenDigest([REDACTED])")
    }
}

impl TokenDigest {
    /// The digest of `token`.
    pub fn of(token: &[u8]) -> Self {
        use sha2::Digest as _;
        Self(sha2::Sha256::digest(token).into())
    }

    /// Equality without an early exit.
    fn same(&self, other: &Self) -> bool {
        self.0.iter().zip(other.0).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

/// The shortest bearer token accepted (characters): a token is the only thing guarding the TCP listener, which
/// every process of the node can reach.
pub const MIN_BEARER_TOKEN_LEN: usize = 32;
/// The fewest different characters a bearer token must hold (`openssl rand -hex 32` gives about 16): refuses
/// placeholders such as 32 times the same letter.
pub const MIN_BEARER_TOKEN_CHARS: usize = 8;
/// The largest token file read.
pub const MAX_TOKEN_FILE_BYTES: u64 = 4 * 1024;

/// Why a `[[serve.tokens]]` file cannot be used. Never holds the token.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    /// The file could not be read.
    #[error("[serve] tokens `{name}`: cannot read the token file {}: {reason}", .path.display())]
    Read {
        /// The entry's name.
        name: String,
        /// The file.
        path: std::path::PathBuf,
        /// Why (the OS's error kind).
        reason: String,
    },
    /// The token is too short, too uniform, or holds characters a header cannot carry.
    #[error(
        "[serve] tokens `{name}`: the token in {} must be at least {MIN_BEARER_TOKEN_LEN} printable ASCII \
         characters without spaces, at least {MIN_BEARER_TOKEN_CHARS} of them different (e.g. `openssl rand -hex \
         32`)",
        .path.display()
    )]
    Unusable {
        /// The entry's name.
        name: String,
        /// The file.
        path: std::path::PathBuf,
    },
    /// Two entries hold the same token: its callers could not be told apart.
    #[error("[serve] tokens `{name}` and `{other}` hold the same token")]
    Duplicate {
        /// The later entry.
        name: String,
        /// The earlier entry.
        other: String,
    },
}

/// Whether `token` may guard the TCP listener: at least [`MIN_BEARER_TOKEN_LEN`] printable ASCII characters
/// (none a space), at least [`MIN_BEARER_TOKEN_CHARS`] of them different.
pub fn is_usable_bearer_token(token: &str) -> bool {
    let mut seen = [false; 128];
    for b in token.bytes() {
        if !b.is_ascii_graphic() {
            return false;
        }
        seen[usize::from(b)] = true;
    }
    token.len() >= MIN_BEARER_TOKEN_LEN && seen.iter().filter(|s| **s).count() >= MIN_BEARER_TOKEN_CHARS
}

/// The token of an `Authorization: Bearer TOKEN` header value (the scheme is case-insensitive, RFC 9110), if it
/// is one.
pub fn bearer_token(authorization: &[u8]) -> Option<&[u8]> {
    let (scheme, token) = authorization.split_at_checked(7)?;
    (scheme.eq_ignore_ascii_case(b"bearer ") && !token.is_empty()).then_some(token)
}

/// The `[serve]` section of the host configuration (docs/serve.md).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServeSettings {
    /// The group the socket is given (mode 0660); without one the socket is the daemon's user's only (0600).
    pub socket_group: Option<u32>,
    /// Connections served at once; more wait to be accepted. Default [`DEFAULT_MAX_CONNECTIONS`].
    pub max_connections: Option<usize>,
    /// Who may read what. Empty: the daemon's own user may read everything, nobody else anything (refused for a
    /// daemon running as root: [`ServeSettings::problem`]).
    pub callers: Vec<CallerGrant>,
    /// Bearer tokens for callers over TCP (`serve --listen`), each with its grants.
    pub tokens: Vec<TokenGrant>,
}

/// Connections served at once unless `[serve] max_connections` says otherwise.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;

/// The most `[serve] max_connections` may be.
pub const MAX_CONNECTIONS_LIMIT: usize = 4096;

/// Why a caller was refused a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No `[[serve.callers]]` entry matches the caller.
    #[error("no grant names this caller's uid or gid")]
    UnknownCaller,
    /// The caller's entries do not cover the key (or the id is one no caller may name).
    #[error("the caller is not granted this entry")]
    NotGranted,
    /// The caller may not ask for this team.
    #[error("the caller is not granted this team")]
    Team,
    /// The id or team is one no caller may name ([`ConfigKey::task_problem`], [`TaskGrants::team_problem`]): a
    /// bad request rather than a refusal, so that Airflow asks its next backend, as it does when its own
    /// Kubernetes backend fails on such an id.
    #[error("the id or team is one no caller may name (docs/serve.md)")]
    InvalidId,
    /// The peer is served only because it runs as the daemon's own user (its probes): health, readiness and
    /// metrics only.
    #[error("this peer may ask for /healthz, /readyz and /metrics only")]
    ProbeOnly,
}

/// How a peer is served, decided once per connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// An entry of `[[serve.callers]]` names it (or none is configured and it is the daemon's own user).
    Caller,
    /// No entry names it, but it runs as the daemon's own user: its probes. Few such connections are served at
    /// once, and they read no secret.
    Probe,
    /// Closed at once.
    Refused,
}

impl ServeSettings {
    /// The connections served at once.
    pub fn max_connections(&self) -> usize {
        self.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS)
    }

    /// How `peer` is served: as a caller when an entry names it (or, with no entries, when it is the daemon's
    /// own user), for probes only when it merely runs as the daemon's user, else not at all (its connection is
    /// closed at once: it holds no slot and writes no audit line).
    pub fn admission(&self, peer: &Peer, daemon_uid: u32) -> Admission {
        let own = peer.uid == daemon_uid;
        if self.callers.iter().any(|c| c.peer.matches(peer)) || (own && self.callers.is_empty()) {
            Admission::Caller
        } else if own {
            Admission::Probe
        } else {
            Admission::Refused
        }
    }

    /// Why these settings cannot be served by a daemon running as `daemon_uid`, if they cannot: a root daemon
    /// without callers would grant everything to every root process that can reach the socket (every root
    /// container of the node mounting its directory).
    pub fn problem(&self, daemon_uid: u32) -> Option<&'static str> {
        (daemon_uid == 0 && self.callers.is_empty()).then_some(
            "the daemon runs as root and [serve] names no callers: every root process that can reach the socket \
             would read everything; name them ([[serve.callers]] uid = 0, all = true, to mean exactly that)",
        )
    }

    /// Whether `peer` may read `key` for `team`; `daemon_uid` is the user the daemon runs as (granted everything
    /// when no caller is configured). Every entry that names the peer (by uid or by gid) is tried. The id and
    /// team rules of tasks ([`ConfigKey::task_problem`], [`TaskGrants::team_problem`]) hold for every caller,
    /// whatever it is granted.
    pub fn check(&self, peer: &Peer, key: &ConfigKey, team: Option<&str>, daemon_uid: u32) -> Result<(), Refusal> {
        if self.callers.is_empty() {
            check_ids(key, team)?;
            return if peer.uid == daemon_uid { Ok(()) } else { Err(Refusal::UnknownCaller) };
        }
        check_access(self.callers.iter().filter(|c| c.peer.matches(peer)).map(|c| &c.access), key, team)
    }

    /// The `[[serve.tokens]]` entry whose token an `Authorization` header value carries, if one does. Every
    /// entry is compared (no early exit).
    pub fn token_entry(&self, authorization: &[u8]) -> Option<&TokenGrant> {
        let digest = TokenDigest::of(bearer_token(authorization)?);
        let mut found = None;
        for entry in &self.tokens {
            if entry.digest.is_some_and(|d| d.same(&digest)) && found.is_none() {
                found = Some(entry);
            }
        }
        found
    }

    /// Whether the callers of the token entry `token` may read `key` for `team`: the rules of [`Self::check`].
    pub fn check_token(&self, token: &TokenGrant, key: &ConfigKey, team: Option<&str>) -> Result<(), Refusal> {
        check_access(std::iter::once(&token.access), key, team)
    }

    /// Reads every `[[serve.tokens]]` file ([`crate::files::read_private_text`]) and keeps its token's digest.
    /// Returns what was wrong; an entry with a problem admits nobody: its file could not be read, its token is
    /// not usable (at least [`MIN_BEARER_TOKEN_LEN`] printable ASCII characters once trimmed, at least
    /// [`MIN_BEARER_TOKEN_CHARS`] different), or another entry holds the same token (then neither admits).
    /// Deleting or emptying a token file therefore revokes its token at the next reload.
    pub fn load_tokens(&mut self) -> Vec<TokenFileError> {
        let mut problems = Vec::new();
        for entry in &mut self.tokens {
            entry.digest = None;
            let text = match crate::files::read_private_text(&entry.token_file, MAX_TOKEN_FILE_BYTES) {
                Ok(text) => text,
                Err(e) => {
                    let reason = e.to_string();
                    problems.push(TokenFileError::Read {
                        name: entry.name.clone(),
                        path: entry.token_file.clone(),
                        reason,
                    });
                    continue;
                }
            };
            let token = text.trim();
            if !is_usable_bearer_token(token) {
                problems.push(TokenFileError::Unusable { name: entry.name.clone(), path: entry.token_file.clone() });
                continue;
            }
            entry.digest = Some(TokenDigest::of(token.as_bytes()));
        }
        let digests: Vec<Option<TokenDigest>> = self.tokens.iter().map(|t| t.digest).collect();
        for (i, digest) in digests.iter().enumerate() {
            let Some(digest) = digest else { continue };
            if let Some(j) = (0..i).find(|&j| digests[j] == Some(*digest)) {
                let (name, other) = (self.tokens[i].name.clone(), self.tokens[j].name.clone());
                problems.push(TokenFileError::Duplicate { name, other });
            }
            if digests.iter().enumerate().any(|(j, d)| j != i && *d == Some(*digest)) {
                self.tokens[i].digest = None;
            }
        }
        problems
    }
}

/// The id and team rules of tasks ([`ConfigKey::task_problem`], [`TaskGrants::team_problem`]), which hold for
/// every caller, whatever it is granted.
fn check_ids(key: &ConfigKey, team: Option<&str>) -> Result<(), Refusal> {
    let rules = TaskGrants { grants: Vec::new(), team: team.map(str::to_owned) };
    if key.task_problem().is_some() || rules.team_problem().is_some() {
        return Err(Refusal::InvalidId);
    }
    Ok(())
}

/// Whether any of `entries` (a caller's, by uid, gid or token) lets it read `key` for `team`; the id and team
/// rules first ([`check_ids`]). No entry at all is [`Refusal::UnknownCaller`].
fn check_access<'a>(
    entries: impl Iterator<Item = &'a Access>,
    key: &ConfigKey,
    team: Option<&str>,
) -> Result<(), Refusal> {
    check_ids(key, team)?;
    let mut refusal = Refusal::UnknownCaller;
    for access in entries {
        match access {
            Access::All => return Ok(()),
            Access::Grants { grants, teams } => {
                if team.is_some_and(|t| !teams.iter().any(|x| x == t)) {
                    refusal = Refusal::Team;
                    continue;
                }
                // The id and team rules were checked above: what is left of `TaskGrants::allows` is the cover.
                if grants.iter().any(|g| g.covers(key)) {
                    return Ok(());
                }
                refusal = Refusal::NotGranted;
            }
        }
    }
    Err(refusal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants(list: &[&str], teams: &[&str]) -> Access {
        Access::Grants {
            grants: list.iter().map(|g| g.parse().unwrap()).collect(),
            teams: teams.iter().map(|t| (*t).to_owned()).collect(),
        }
    }

    fn peer(uid: u32, gid: u32) -> Peer {
        Peer { uid, gid, pid: Some(7) }
    }

    #[test]
    fn without_callers_only_the_daemons_user_reads() {
        let settings = ServeSettings::default();
        let key = ConfigKey::Variable("x".into());
        assert_eq!(settings.check(&peer(0, 0), &key, None, 0), Ok(()));
        assert_eq!(settings.check(&peer(1000, 0), &key, None, 0), Err(Refusal::UnknownCaller));
        assert_eq!(settings.check(&peer(1000, 1000), &key, Some("alpha"), 1000), Ok(()));
    }

    #[test]
    fn a_root_daemon_needs_callers() {
        assert!(ServeSettings::default().problem(0).is_some());
        assert_eq!(ServeSettings::default().problem(1000), None);
        let root = CallerGrant { peer: PeerMatch::Uid(0), access: Access::All };
        assert_eq!(ServeSettings { callers: vec![root], ..ServeSettings::default() }.problem(0), None);
    }

    #[test]
    fn grants_by_uid_or_gid_cover_keys_and_teams() {
        let settings = ServeSettings {
            callers: vec![
                CallerGrant { peer: PeerMatch::Uid(1000), access: grants(&["variable:etl_*"], &["alpha"]) },
                CallerGrant { peer: PeerMatch::Gid(50), access: grants(&["connection:db"], &[]) },
                CallerGrant { peer: PeerMatch::Uid(7), access: Access::All },
            ],
            ..ServeSettings::default()
        };
        let var = |k: &str| ConfigKey::Variable(k.into());
        assert_eq!(settings.check(&peer(1000, 1), &var("etl_a"), None, 0), Ok(()));
        assert_eq!(settings.check(&peer(1000, 1), &var("etl_a"), Some("alpha"), 0), Ok(()));
        assert_eq!(settings.check(&peer(1000, 1), &var("etl_a"), Some("beta"), 0), Err(Refusal::Team));
        assert_eq!(settings.check(&peer(1000, 1), &var("other"), None, 0), Err(Refusal::NotGranted));
        // The id rules of tasks hold for callers too.
        assert_eq!(settings.check(&peer(1000, 1), &var("etl_a,!x"), None, 0), Err(Refusal::InvalidId));
        assert_eq!(settings.check(&peer(1000, 1), &var("etl_a___b"), None, 0), Err(Refusal::InvalidId));
        // The gid entry is tried too: uid 1000 in group 50 reads the connection.
        assert_eq!(settings.check(&peer(1000, 50), &ConfigKey::Connection("db".into()), None, 0), Ok(()));
        assert_eq!(
            settings.check(&peer(1000, 1), &ConfigKey::Connection("db".into()), None, 0),
            Err(Refusal::NotGranted)
        );
        assert_eq!(settings.check(&peer(7, 7), &var("anything"), Some("beta"), 0), Ok(()));
        // `all` and the daemon's own user meet the id and team rules too.
        assert_eq!(settings.check(&peer(7, 7), &var("a,!b"), None, 0), Err(Refusal::InvalidId));
        assert_eq!(settings.check(&peer(7, 7), &var("x"), Some("_a"), 0), Err(Refusal::InvalidId));
        assert_eq!(ServeSettings::default().check(&peer(0, 0), &var("a___b"), None, 0), Err(Refusal::InvalidId));
        // Who is served at all.
        assert_eq!(settings.admission(&peer(1000, 1), 0), Admission::Caller);
        assert_eq!(settings.admission(&peer(5, 50), 0), Admission::Caller);
        assert_eq!(settings.admission(&peer(0, 0), 0), Admission::Probe, "the daemon's own user: its probes");
        assert_eq!(settings.admission(&peer(1001, 1), 0), Admission::Refused);
        assert_eq!(ServeSettings::default().admission(&peer(1000, 1), 1000), Admission::Caller);
        // The daemon's own user is nobody special once callers are configured.
        assert_eq!(settings.check(&peer(0, 0), &var("etl_a"), None, 0), Err(Refusal::UnknownCaller));
        assert_eq!(peer(1, 2).audit_name(), "uid=1 gid=2 pid=7");
    }

    fn token_entry(name: &str, dir: &std::path::Path, token: &str, access: Access) -> TokenGrant {
        use std::os::unix::fs::PermissionsExt as _;
        let token_file = dir.join(name);
        std::fs::write(&token_file, token).unwrap();
        std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        TokenGrant { name: name.to_owned(), token_file, digest: None, access }
    }

    /// Distinct enough tokens: `seed` then the alphabet, cut to `len`.
    fn token(seed: &str, len: usize) -> String {
        format!("{seed}abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz")[..len].to_owned()
    }

    #[test]
    fn bearer_tokens_name_their_entry_and_its_grants() {
        let dir = tempfile::tempdir().unwrap();
        let ci = token("ci-", 32);
        let ops = format!("{}\n", token("ops-", 40));
        let mut settings = ServeSettings {
            tokens: vec![
                token_entry("ci", dir.path(), &ci, grants(&["variable:etl_*"], &["alpha"])),
                token_entry("ops", dir.path(), &ops, Access::All),
            ],
            ..ServeSettings::default()
        };
        assert_eq!(settings.token_entry(format!("Bearer {ci}").as_bytes()), None, "not read yet");
        assert!(settings.load_tokens().is_empty());
        let named = |header: &str| settings.token_entry(header.as_bytes()).map(|t| t.name.as_str());
        assert_eq!(named(&format!("Bearer {ci}")), Some("ci"));
        assert_eq!(named(&format!("bearer {ci}")), Some("ci"), "the scheme is case-insensitive");
        assert_eq!(named(&format!("Bearer {}", token("ops-", 40))), Some("ops"), "the file's newline is trimmed");
        assert_eq!(named(&format!("Bearer {ci}x")), None);
        assert_eq!(named(&format!("Basic {ci}")), None);
        assert_eq!(named(&format!("Bearer  {ci}")), None);
        assert_eq!(named(&ci), None);
        assert_eq!(named("Bearer "), None);
        assert_eq!(named(""), None);
        let entry = settings.token_entry(format!("Bearer {ci}").as_bytes()).unwrap();
        let var = |k: &str| ConfigKey::Variable(k.into());
        assert_eq!(settings.check_token(entry, &var("etl_a"), Some("alpha")), Ok(()));
        assert_eq!(settings.check_token(entry, &var("etl_a"), Some("beta")), Err(Refusal::Team));
        assert_eq!(settings.check_token(entry, &var("other"), None), Err(Refusal::NotGranted));
        assert_eq!(settings.check_token(entry, &var("etl_a___b"), None), Err(Refusal::InvalidId));
        // Tokens never reach Debug output.
        let shown = format!("{settings:?}");
        assert!(!shown.contains(&ci) && shown.contains("TokenDigest([REDACTED])"), "{shown}");
    }

    #[test]
    fn token_files_must_hold_one_long_token_each() {
        let dir = tempfile::tempdir().unwrap();
        // Loads `tokens`: what was wrong, and which entries admit someone.
        let load = |tokens: Vec<TokenGrant>| {
            let mut settings = ServeSettings { tokens, ..ServeSettings::default() };
            let problems: Vec<String> = settings.load_tokens().iter().map(ToString::to_string).collect();
            let usable: Vec<String> =
                settings.tokens.iter().filter(|t| t.digest.is_some()).map(|t| t.name.clone()).collect();
            (problems, usable)
        };
        let short = token("s", 31);
        let (problems, usable) = load(vec![
            token_entry("a", dir.path(), &short, Access::All),
            token_entry("ok", dir.path(), &token("ok", 32), Access::All),
        ]);
        assert_eq!(usable, ["ok"], "an unusable entry admits nobody; the others do");
        assert!(problems[0].starts_with("[serve] tokens `a`: the token in ") && problems[0].contains("at least 32"));
        assert!(!problems[0].contains(&short), "{problems:?}");
        let spaced = format!("{} {}", token("x", 20), token("y", 20));
        assert_eq!(load(vec![token_entry("b", dir.path(), &spaced, Access::All)]).1, Vec::<String>::new());
        let uniform = "ab".repeat(20);
        assert_eq!(load(vec![token_entry("c", dir.path(), &uniform, Access::All)]).0.len(), 1, "2 characters only");
        let same = token("d", 32);
        let (problems, usable) = load(vec![
            token_entry("first", dir.path(), &same, Access::All),
            token_entry("second", dir.path(), &same, Access::All),
            token_entry("third", dir.path(), &token("t", 32), Access::All),
        ]);
        assert_eq!(problems, ["[serve] tokens `second` and `first` hold the same token"]);
        assert_eq!(usable, ["third"], "neither holder of a shared token admits anyone");
        let missing = TokenGrant {
            name: "gone".to_owned(),
            token_file: dir.path().join("nothing"),
            digest: None,
            access: Access::All,
        };
        let (problems, _) = load(vec![missing]);
        assert!(
            problems[0].starts_with("[serve] tokens `gone`: cannot read the token file ")
                && problems[0].contains("nothing")
        );
        // A file others may read gives the token away; one others or the group may write admits its writer.
        use std::os::unix::fs::PermissionsExt as _;
        for mode in [0o604, 0o620, 0o602] {
            let entry = token_entry("open", dir.path(), &token("open", 32), Access::All);
            std::fs::set_permissions(&entry.token_file, std::fs::Permissions::from_mode(mode)).unwrap();
            let (problems, usable) = load(vec![entry]);
            assert!(
                problems[0].contains("others may read or write it, or its group may write it"),
                "{mode:o}: {problems:?}"
            );
            assert!(usable.is_empty());
        }
        let entry = token_entry("group-read", dir.path(), &token("g", 32), Access::All);
        std::fs::set_permissions(&entry.token_file, std::fs::Permissions::from_mode(0o440)).unwrap();
        assert_eq!(load(vec![entry]).1, ["group-read"]);
    }
}
