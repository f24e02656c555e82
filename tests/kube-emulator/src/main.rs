//! `kube-emulator`: run the local Kubernetes API emulator as a standalone server, for manual
//! testing with `kubectl`, the Python `kubernetes` client or the `secrets` CLI.

use std::io::Read as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use kube_emulator::{Access, Emulator, EmulatorConfig};

/// Serve a local, TLS-only Kubernetes API (namespaces and Secrets) on 127.0.0.1.
///
/// At start it generates a CA, a server certificate and a random bearer token with full access,
/// then writes into the state directory:
///
///   serviceaccount/{token,ca.crt,namespace}  an in-cluster style service-account directory
///   kubeconfig                               for kubectl (server, CA, token, namespace)
///   env                                      KUBERNETES_SERVICE_HOST/PORT exports
///   ready                                    written last: wait for it in scripts
///
/// It then serves until Ctrl-C or SIGTERM. State lives in memory only.
#[derive(Debug, Parser)]
#[command(name = "kube-emulator", version, verbatim_doc_comment)]
struct Args {
    /// Directory for the generated files (created if missing).
    #[arg(long, value_name = "DIR")]
    state_dir: PathBuf,

    /// TCP port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 0, value_name = "N")]
    port: u16,

    /// Namespace written to serviceaccount/namespace and created at start.
    #[arg(long, default_value = "airflow", value_name = "NS")]
    namespace: String,

    /// YAML manifests (Secrets and Namespaces, multi-document) to load at start. Objects without
    /// a namespace go to --namespace.
    #[arg(long, num_args = 1.., value_name = "FILE")]
    manifests: Vec<PathBuf>,

    /// Minor version reported by /version. kubectl's dispatcher runs kubectl 1.<minor>:
    /// 31 sends JSON creates, 32 and above Protobuf.
    #[arg(long, default_value = "32", value_name = "MINOR")]
    minor: String,

    /// At shutdown, write every request received to FILE, one line each: the wall-clock time its head
    /// arrived (nanoseconds since the Unix epoch), the status answered, the method and the path with its
    /// query. scripts/bench-startup.sh uses it to time a client process from its start to its first request.
    #[arg(long, value_name = "FILE")]
    request_log: Option<PathBuf>,
}

/// The lines of `--request-log`.
fn request_log_lines(emulator: &Emulator) -> String {
    let mut out = String::new();
    for (at, request) in emulator.requests_with_arrival() {
        let nanos = at.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let query = request.query.as_deref().map(|q| format!("?{q}")).unwrap_or_default();
        out.push_str(&format!("{nanos} {} {} {}{query}\n", request.status, request.method, request.raw_path));
    }
    out
}

fn random_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes)).context("reading /dev/urandom")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let state = &args.state_dir;
    std::fs::create_dir_all(state).with_context(|| format!("creating {}", state.display()))?;
    // A stale marker from a previous run must not fool a waiting script.
    match std::fs::remove_file(state.join("ready")) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(e).context("removing the old ready file");
        }
        _ => {}
    }

    let emulator = Emulator::start(EmulatorConfig {
        bind: std::net::SocketAddr::from(([127, 0, 0, 1], args.port)),
        minor_version: args.minor.clone(),
        ..EmulatorConfig::default()
    })
    .await
    .with_context(|| format!("starting the emulator on 127.0.0.1:{}", args.port))?;
    emulator.create_namespace(&args.namespace);
    for path in &args.manifests {
        let yaml = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let count =
            emulator.load_manifests(&yaml, &args.namespace).with_context(|| format!("loading {}", path.display()))?;
        eprintln!("loaded {count} object(s) from {}", path.display());
    }

    let token = random_token()?;
    emulator.add_token_as(&token, &format!("system:serviceaccount:{}:kube-emulator", args.namespace), Access::All);
    let sa_dir = state.join("serviceaccount");
    emulator
        .write_service_account_dir(&sa_dir, &token, &args.namespace)
        .with_context(|| format!("writing {}", sa_dir.display()))?;
    let kubeconfig = state.join("kubeconfig");
    emulator
        .write_kubeconfig(&kubeconfig, &token, &args.namespace)
        .with_context(|| format!("writing {}", kubeconfig.display()))?;
    let port = emulator.addr().port();
    let env_file = state.join("env");
    std::fs::write(
        &env_file,
        format!("export KUBERNETES_SERVICE_HOST=127.0.0.1\nexport KUBERNETES_SERVICE_PORT={port}\n"),
    )
    .with_context(|| format!("writing {}", env_file.display()))?;

    println!("kube-emulator listening on https://127.0.0.1:{port} (Kubernetes v1.{})", args.minor);
    println!();
    println!("kubectl:");
    println!("  KUBECONFIG={} kubectl get secrets -n {}", kubeconfig.display(), args.namespace);
    println!();
    println!("secrets CLI (in-cluster configuration):");
    println!("  . {}", env_file.display());
    println!("  secrets --service-account-dir {} …", sa_dir.display());
    println!();
    println!("Ctrl-C or SIGTERM stops it.");

    std::fs::write(state.join("ready"), format!("{port}\n")).context("writing the ready file")?;

    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.context("waiting for Ctrl-C")?,
        _ = terminate.recv() => {}
    }
    eprintln!("shutting down");
    if let Some(path) = &args.request_log {
        std::fs::write(path, request_log_lines(&emulator)).with_context(|| format!("writing {}", path.display()))?;
    }
    emulator.shutdown().await;
    Ok(())
}
