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
        let rules = TaskGrants { grants: Vec::new(), team: team.map(str::to_owned) };
        if key.task_problem().is_some() || rules.team_problem().is_some() {
            return Err(Refusal::InvalidId);
        }
        if self.callers.is_empty() {
            return if peer.uid == daemon_uid { Ok(()) } else { Err(Refusal::UnknownCaller) };
        }
        let mut refusal = Refusal::UnknownCaller;
        for caller in self.callers.iter().filter(|c| c.peer.matches(peer)) {
            match &caller.access {
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
}
