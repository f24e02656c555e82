//! Where a lookup reads: Airflow's `VaultBackend` path rules and the request path hvac 2.4.0 sends for them.
//!
//! Airflow builds the secret path in two steps, and so does this module, literally, so that odd ids land
//! where they land in Airflow (`_get_secret_with_base`, then `_VaultClient._parse_secret_path`):
//! 1. With no fixed mount, the key's first segment is the mount and the rest the key (a key without `/` is
//!    not looked up); the base path and the key are joined with `/` (`build_path`), or the key alone under
//!    an empty base; the mount, when not empty, is put back in front.
//! 2. The client splits that again: the fixed mount, or the first segment.
//!
//! hvac then quotes each part (`urllib.parse.quote`, `/` kept), puts them in `/v1/{mount}/{path}` (kv 1) or
//! `/v1/{mount}/data/{path}` (kv 2), collapses `//` and drops a trailing `/`.

use airflow_compat::pyurllib::quote;

use crate::config::BackendConfig;

/// Airflow's `build_path`: `{prefix}/{id}`, nothing stripped.
pub fn build_path(prefix: &str, id: &str) -> String {
    format!("{prefix}/{id}")
}

/// `_parse_path`: `(mount, key)` where `mount` is `""` under a fixed mount; `None` when the mount comes from
/// the key and the key has no `/` (no request is sent).
pub fn split_key<'k>(config: &BackendConfig, key: &'k str) -> Option<(&'k str, &'k str)> {
    match config.fixed_mount() {
        Some(_) => Some(("", key)),
        None => key.split_once('/'),
    }
}

/// The request path of `key` under `base` (`_get_secret_with_base`, `get_secret`, hvac's URL), or `None` when
/// Airflow sends no request.
///
/// ```
/// use wasm_secrets_provider_common::FromKwargs;
/// use wasm_secrets_provider_vault::{config::BackendConfig, path::request_path};
/// let config = BackendConfig::default();
/// assert_eq!(request_path(&config, "connections", "my db:1").unwrap(), "/v1/secret/data/connections/my%20db%3A1");
/// let by_key = BackendConfig::from_json(r#"{"mount_point": null, "kv_engine_version": 1}"#).unwrap();
/// assert_eq!(request_path(&by_key, "connections", "kv/team/x").unwrap(), "/v1/kv/connections/team/x");
/// assert_eq!(request_path(&by_key, "connections", "x"), None);
/// ```
pub fn request_path(config: &BackendConfig, base: &str, key: &str) -> Option<String> {
    let (mount, key_part) = split_key(config, key)?;
    let secret_path = if base.is_empty() { key_part.to_owned() } else { build_path(base, key_part) };
    let full = if mount.is_empty() { secret_path } else { format!("{mount}/{secret_path}") };
    let (mount, path) = match config.fixed_mount() {
        Some(fixed) => (fixed, full.as_str()),
        // Unreachable for keys without `/` (step 1 returned), but an empty first segment can bring it here.
        None => full.split_once('/')?,
    };
    let url = if config.kv_engine_version.0 == 1 {
        format!("/v1/{}/{}", quote(mount, "/"), quote(path, "/"))
    } else {
        format!("/v1/{}/data/{}", quote(mount, "/"), quote(path, "/"))
    };
    Some(hvac_clean(&url))
}

/// hvac's `RawAdapter.request`: `//` collapsed until none is left, then the path joined to the base URL with
/// its slashes stripped (`urljoin`), which drops a trailing `/`.
fn hvac_clean(url: &str) -> String {
    let mut url = url.to_owned();
    while url.contains("//") {
        url = url.replace("//", "/");
    }
    format!("/{}", url.trim_matches('/'))
}

/// The base paths a lookup tries, in order: each of `paths` with the team appended when multi-team mode,
/// team paths and a team all apply (`_get_secret`).
pub fn team_paths(config: &BackendConfig, paths: &[String], team: Option<&str>) -> Vec<String> {
    match team {
        Some(team) if config.multi_team && config.use_team_secrets_path => {
            paths.iter().map(|base| build_path(base, team)).collect()
        }
        _ => paths.to_vec(),
    }
}

/// Airflow's team guard (`_names_a_team_namespace`): in multi-team mode with team paths, a lookup with no team
/// whose key (after the mount) holds `/` could read a team's secret under the base path, so it is not made.
pub fn names_a_team_namespace(config: &BackendConfig, key: &str, team: Option<&str>) -> bool {
    if team.is_some() || !config.use_team_secrets_path || !config.multi_team {
        return false;
    }
    split_key(config, key).is_some_and(|(_, key_part)| key_part.contains('/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_secrets_provider_common::FromKwargs;

    fn config(text: &str) -> BackendConfig {
        BackendConfig::from_json(text).unwrap()
    }

    #[test]
    fn paths_are_built_as_airflow_and_hvac_build_them() {
        let d = config("");
        assert_eq!(request_path(&d, "connections", "my_db").unwrap(), "/v1/secret/data/connections/my_db");
        assert_eq!(request_path(&d, "", "my_db").unwrap(), "/v1/secret/data/my_db");
        // A leading `/` in a base path survives Airflow and is collapsed by hvac; a trailing `/` in the id too.
        let kv = config(r#"{"mount_point": "kv", "connections_path": "/airflow/conns/"}"#);
        assert_eq!(request_path(&kv, "/airflow/conns", "my_db").unwrap(), "/v1/kv/data/airflow/conns/my_db");
        assert_eq!(request_path(&d, "connections", "c/").unwrap(), "/v1/secret/data/connections/c");
        assert_eq!(request_path(&d, "connections", "é ü").unwrap(), "/v1/secret/data/connections/%C3%A9%20%C3%BC");
        assert_eq!(request_path(&d, "connections", "a~b.c-d_e").unwrap(), "/v1/secret/data/connections/a~b.c-d_e");
        let by_key = config(r#"{"mount_point": null}"#);
        assert_eq!(
            request_path(&by_key, "connections", "airflow/my_db").unwrap(),
            "/v1/airflow/data/connections/my_db"
        );
        assert_eq!(request_path(&by_key, "connections", "my_db"), None);
        // An empty first segment: Airflow's second split takes the base path's first segment as the mount.
        assert_eq!(request_path(&by_key, "connections", "/x").unwrap(), "/v1/connections/data/x");
        assert_eq!(request_path(&by_key, "", "m/x").unwrap(), "/v1/m/data/x");
    }

    #[test]
    fn teams_and_the_guard() {
        let multi = config(r#"{"multi_team": true}"#);
        let paths = ["connections/team1".to_owned(), "connections/common".to_owned()];
        assert_eq!(
            team_paths(&multi, &paths, Some("team_a")),
            ["connections/team1/team_a", "connections/common/team_a"]
        );
        assert_eq!(team_paths(&multi, &paths, None), paths);
        assert_eq!(team_paths(&config(""), &paths, Some("team_a")), paths, "outside multi-team the team is ignored");
        let no_team_paths = config(r#"{"multi_team": true, "use_team_secrets_path": false}"#);
        assert_eq!(team_paths(&no_team_paths, &paths, Some("t")), paths);
        assert!(names_a_team_namespace(&multi, "team_a/my_db", None));
        assert!(!names_a_team_namespace(&multi, "team_a/my_db", Some("t")));
        assert!(!names_a_team_namespace(&multi, "my_db", None));
        assert!(!names_a_team_namespace(&config(""), "team_a/my_db", None));
        assert!(!names_a_team_namespace(&no_team_paths, "team_a/my_db", None));
        let by_key = config(r#"{"multi_team": true, "mount_point": null}"#);
        assert!(!names_a_team_namespace(&by_key, "airflow/my_db", None), "the mount segment does not count");
        assert!(names_a_team_namespace(&by_key, "airflow/t/my_db", None));
    }
}
