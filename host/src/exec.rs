//! What `secrets exec` hands a command (pure): for each requested secret, the environment variable Airflow or
//! flytekit reads it from, or the file flytekit reads it from. Flyte injects secrets this way instead of
//! offering an API (../shared/seeds/flyte-secrets.md), and Airflow reads `AIRFLOW_CONN_*` / `AIRFLOW_VAR_*`
//! from its environment backend, so a program gets its secrets with no code change at all.
//!
//! The names are those the environment provider reads ([`airflow_env_var`], [`flyte_env_var`]), so what
//! `secrets exec` sets is exactly what `builtin:environment` (and Airflow, and flytekit) would find.

use std::path::{Path, PathBuf};

use airflow_compat::pystr::lower;
use wasm_secrets_provider_environment::config::{
    DEFAULT_CONNECTIONS_PREFIX, DEFAULT_FLYTE_PREFIX, DEFAULT_VARIABLES_PREFIX,
};
use wasm_secrets_provider_environment::lookup::{airflow_env_var, flyte_env_var, is_env_name};

/// Where a Flyte secret is put.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mount {
    /// `_FSEC_{GROUP}_{KEY}` (flytekit's `MountType.ENV_VAR`).
    Env,
    /// `<dir>/<group>/<key>`, lowercased, with `FLYTE_SECRETS_DEFAULT_DIR=<dir>` (flytekit's `MountType.FILE`).
    File,
}

/// One secret a command is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Injection {
    /// A connection, in its URI form, as `AIRFLOW_CONN_{ID}`.
    Connection(String),
    /// A variable, as `AIRFLOW_VAR_{KEY}`.
    Variable(String),
    /// A Flyte secret.
    Secret {
        /// The group.
        group: String,
        /// The key.
        key: String,
        /// Where it goes.
        mount: Mount,
    },
}

/// Why a request cannot be injected. Requests come from the operator's command line, so messages quote them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InjectionError {
    /// `--secret` is not `GROUP/KEY[:env|:file]`.
    #[error("--secret `{0}`: expected GROUP/KEY, GROUP/KEY:env or GROUP/KEY:file")]
    SecretSyntax(String),
    /// A part of a file path would leave the secrets directory or name no file.
    #[error("--secret `{0}`: as a file, the group and the key must each be a plain file name (not `.` or `..`)")]
    FileName(String),
    /// No environment can hold the variable's name.
    #[error("`{0}` cannot name an environment variable (it is empty or holds `=` or a NUL byte)")]
    EnvName(String),
    /// Two requests put different secrets under one name.
    #[error("two requests set {0}")]
    Duplicate(String),
}

impl Injection {
    /// Parses `--secret GROUP/KEY[:env|:file]` (default `env`).
    ///
    /// ```
    /// use wasm_secrets::exec::{Injection, Mount};
    /// assert_eq!(
    ///     "aws/secret_key:file".parse::<Injection>().unwrap(),
    ///     Injection::Secret { group: "aws".into(), key: "secret_key".into(), mount: Mount::File }
    /// );
    /// ```
    fn parse_secret(text: &str) -> Result<Self, InjectionError> {
        let syntax = || InjectionError::SecretSyntax(text.to_owned());
        let (spec, mount) = match text.rsplit_once(':') {
            Some((spec, "env")) => (spec, Mount::Env),
            Some((spec, "file")) => (spec, Mount::File),
            _ => (text, Mount::Env),
        };
        let (group, key) = spec.split_once('/').ok_or_else(syntax)?;
        if group.is_empty() || key.is_empty() || key.contains('/') {
            return Err(syntax());
        }
        let plain = |part: &str| !matches!(lower(part).as_str(), "." | "..") && !part.contains('\0');
        if mount == Mount::File && !(plain(group) && plain(key)) {
            return Err(InjectionError::FileName(text.to_owned()));
        }
        Ok(Self::Secret { group: group.to_owned(), key: key.to_owned(), mount })
    }

    /// Where the value goes: an environment variable's name, or a file path relative to the secrets directory.
    pub fn target(&self) -> Result<Target, InjectionError> {
        let env =
            |name: String| if is_env_name(&name) { Ok(Target::Env(name)) } else { Err(InjectionError::EnvName(name)) };
        match self {
            Self::Connection(id) => env(airflow_env_var(DEFAULT_CONNECTIONS_PREFIX, id)),
            Self::Variable(key) => env(airflow_env_var(DEFAULT_VARIABLES_PREFIX, key)),
            Self::Secret { group, key, mount: Mount::Env } => env(flyte_env_var(DEFAULT_FLYTE_PREFIX, group, key)),
            // flytekit's `SecretsManager.get_secrets_file`: `<dir>/<group.lower()>/<prefix><key.lower()>`.
            Self::Secret { group, key, mount: Mount::File } => {
                Ok(Target::File(Path::new(&lower(group)).join(lower(key))))
            }
        }
    }
}

impl std::str::FromStr for Injection {
    type Err = InjectionError;

    fn from_str(text: &str) -> Result<Self, InjectionError> {
        Self::parse_secret(text)
    }
}

/// Where one value goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// An environment variable.
    Env(String),
    /// A file under the secrets directory.
    File(PathBuf),
}

/// The targets of `injections`, in order; two injections with one target are refused (one would silently
/// replace the other).
pub fn targets(injections: &[Injection]) -> Result<Vec<Target>, InjectionError> {
    let mut seen = std::collections::HashSet::new();
    injections
        .iter()
        .map(|injection| {
            let target = injection.target()?;
            if !seen.insert(target.clone()) {
                let name = match &target {
                    Target::Env(name) => name.clone(),
                    Target::File(path) => path.display().to_string(),
                };
                return Err(InjectionError::Duplicate(name));
            }
            Ok(target)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_ones_airflow_and_flytekit_read() {
        let target = |i: Injection| i.target().unwrap();
        assert_eq!(target(Injection::Connection("my_db".into())), Target::Env("AIRFLOW_CONN_MY_DB".into()));
        assert_eq!(target(Injection::Variable("region".into())), Target::Env("AIRFLOW_VAR_REGION".into()));
        assert_eq!(target("aws-creds/secret_key".parse().unwrap()), Target::Env("_FSEC_AWS-CREDS_SECRET_KEY".into()));
        assert_eq!(
            target("aws-creds/secret_key:env".parse().unwrap()),
            Target::Env("_FSEC_AWS-CREDS_SECRET_KEY".into())
        );
        assert_eq!(target("AWS/Key:file".parse().unwrap()), Target::File("aws/key".into()));
    }

    #[test]
    fn bad_requests_are_refused() {
        let parse = |t: &str| t.parse::<Injection>().unwrap_err();
        assert_eq!(parse("nokey"), InjectionError::SecretSyntax("nokey".into()));
        assert_eq!(parse("g/"), InjectionError::SecretSyntax("g/".into()));
        assert_eq!(parse("/k"), InjectionError::SecretSyntax("/k".into()));
        assert_eq!(parse("g/a/b:file"), InjectionError::SecretSyntax("g/a/b:file".into()));
        assert_eq!(parse("../k:file"), InjectionError::FileName("../k:file".into()));
        assert_eq!(parse("g/..:file"), InjectionError::FileName("g/..:file".into()));
        assert_eq!(
            Injection::Variable("a=b".into()).target().unwrap_err(),
            InjectionError::EnvName("AIRFLOW_VAR_A=B".into())
        );
        let twice = [Injection::Variable("x".into()), Injection::Variable("X".into())];
        assert_eq!(targets(&twice).unwrap_err(), InjectionError::Duplicate("AIRFLOW_VAR_X".into()));
    }
}
