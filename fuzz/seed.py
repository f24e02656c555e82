#!/usr/bin/env python3
"""Writes the seed inputs of the fuzz corpora (fuzz/corpus/TARGET/seed-*) from the Airflow fixture vectors
and from answers shaped as the emulator (tests/kube-emulator) gives them. Deterministic: run it again after
the vectors change, then `scripts/fuzz.sh merge` keeps what reaches new code.

    python3 fuzz/seed.py [PATH/TO/airflow-vectors.json]

The byte 0x01 in an input stands for a secret (fuzz/src/lib.rs): seeds put it where credentials go.
"""
import base64
import json
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
VECTORS = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parent / "airflow-compat/tests/fixtures/airflow-vectors.json"
SECRET = "\x01"
SECRET_B64 = "\x02"  # a secret, base64-encoded (as a Secret's data carries it)


def write(target, name, data):
    path = HERE / "corpus" / target / f"seed-{name}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def secret_list(items):
    """A SecretList answer in the emulator's shape."""
    return json.dumps({
        "kind": "SecretList",
        "apiVersion": "v1",
        "metadata": {"resourceVersion": "1"},
        "items": [
            {
                "metadata": {"name": name, "namespace": "airflow", "labels": labels, "resourceVersion": "1"},
                "data": data,
                "type": "Opaque",
            }
            for name, labels, data in items
        ],
    })


def main():
    vectors = json.loads(VECTORS.read_text())
    for case in vectors["connections"]:
        value, cid = case["value"], case["id"]
        target = "connection_json" if value.lstrip().startswith("{") else "connection_uri"
        write(target, cid, value)
        for dialect in ("server", "worker"):
            result = case.get(dialect, {})
            if result.get("ok") and result.get("get_uri"):
                write("connection_uri", f"{cid}-{dialect}-get-uri", result["get_uri"])
            password = (result.get("connection") or {}).get("password") if result.get("ok") else None
            if password and password in value:
                write(target, f"{cid}-secret", value.replace(password, SECRET))
        write("base64", cid, case["secret_data_value_b64"])
    for case in vectors["base64"]:
        write("base64", case["id"], case["raw_data_value"])
    for case in vectors["variables"]:
        write("base64", case["id"], case["secret_data_value_b64"])

    label = "airflow.apache.org/variable-key"
    for case in vectors["variables"]:
        write("secret_list", case["id"], secret_list([("var-" + case["id"].replace("_", "-"), {label: "k"},
                                                       {"value": case["secret_data_value_b64"]})]))
    write("secret_list", "empty", secret_list([]))
    write("secret_list", "two-matches", secret_list([
        ("a", {label: "k"}, {"value": SECRET_B64}),
        ("b", {label: "k"}, {"value": "c2Vjb25k"}),
    ]))
    write("secret_list", "no-data-key", secret_list([("a", {label: "k"}, {"other": "eA=="})]))
    write("secret_list", "null-value", secret_list([("a", {label: "k"}, {"value": None})]))
    write("secret_list", "status-403", json.dumps({
        "kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden", "code": 403,
        "message": 'secrets is forbidden: User "system:serviceaccount:airflow:default" cannot list resource "secrets"',
    }))

    for i, case in enumerate(vectors["backend"]):
        write("backend_kwargs", f"{i:02}-{case['id']}", json.dumps(case["backend_kwargs"]))
    write("backend_kwargs", "kubernetes-all", json.dumps({
        "namespace": "airflow", "connections_label": "c", "variables_label": None, "config_label": "",
        "team_label": "team", "connections_data_key": "conn", "variables_data_key": "v", "config_data_key": "k",
        "dialect": "worker"}))
    write("backend_kwargs", "environment-all", json.dumps({
        "connections_prefix": "CONN_", "variables_prefix": "VAR_", "flyte_prefix": "_F_", "multi_team": True}))
    write("backend_kwargs", "local-files-all", json.dumps({
        "connections_file_path": "/f/c.yaml", "variables_file_path": "/f/v.env", "configs_file_path": "/f/c.json"}))
    write("backend_kwargs", "secret-value", json.dumps({"namespace": SECRET, "dialect": SECRET}))

    uri = "postgres://user:" + SECRET + "@db.example:5432/app?sslmode=require"
    write("local_files_env", "connections", f"# comment\nMY_DB={uri}\nEMPTY=\nTWICE=a\nTWICE=b\n  SPACED = x \n")
    write("local_files_env", "bad-line", f"NO_EQUALS_{SECRET}\nOK={SECRET}\n")
    write("local_files_json", "connections", json.dumps({
        "my_db": uri, "as_object": {"conn_type": "http", "host": "h", "password": SECRET, "extra": {"a": 1}},
        "as_list": [uri], "number": 5}))
    write("local_files_yaml", "connections", (
        f"my_db: {uri}\n"
        "as_object:\n  conn_type: http\n  host: h\n  password: \"\x01\"\n  extra:\n    a: [1, 2]\n"
        "block: |\n  line one\n  line two\n"
        "flow: {a: 1, b: [x, 'y', \"z\"]}\n"
        "anchors: &a {k: v}\nalias: *a\n"
    ))
    write("local_files_yaml", "bad-indent", f"a:\n  b: {SECRET}\n c: d\n")

    write("host_config", "example", (HERE.parent / "examples/host-config.toml").read_text())
    write("host_config", "kwargs-secret", (
        "[[providers]]\nname = \"k\"\ncomponent = \"builtin:kubernetes\"\n"
        f"backend_kwargs = '{{\"namespace\": \"{SECRET}\"}}'\nkubernetes = {{ kubeconfig = \"/k\" }}\n"
    ))
    write("host_config", "bad-syntax", f"[[providers]]\nname = \"k\"\nbackend_kwargs = {{ namespace = \"{SECRET}\" \n")

    ca = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").decode()
    write("kubeconfig", "token", (
        "apiVersion: v1\nkind: Config\ncurrent-context: emulator\n"
        f"clusters:\n- name: emulator\n  cluster:\n    server: https://127.0.0.1:6443/prefix\n"
        f"    certificate-authority-data: {ca}\n"
        "contexts:\n- name: emulator\n  context:\n    cluster: emulator\n    user: sa\n    namespace: airflow\n"
        f"users:\n- name: sa\n  user:\n    token: \"{SECRET}\"\n"
    ))
    write("kubeconfig", "token-file", (
        "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: x\n  cluster:\n"
        "    server: https://[::1]:443\n    certificate-authority: ca.crt\n"
        "contexts:\n- name: c\n  context: {cluster: x, user: u}\n"
        "users:\n- name: u\n  user:\n    tokenFile: /var/run/token\n"
    ))
    write("kubeconfig", "exec", (
        "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: x\n  cluster: {server: 'https://h'}\n"
        "contexts:\n- name: c\n  context: {cluster: x, user: u}\n"
        f"users:\n- name: u\n  user:\n    password: \"{SECRET}\"\n    exec: {{command: x, apiVersion: client.authentication.k8s.io/v1}}\n"
    ))

    # The daemon's HTTP surface: request lines (first byte 2 mod 4), answers (odd) and Authorization header
    # values (a multiple of 4).
    for name, line in [
        ("conn-value", "GET /v1/connections/a%2Fb/value?team=alpha"),
        ("connection", "GET /v1/connections/smtp_default"),
        ("secret", "GET /v1/secrets/aws-creds/secret_key"),
        ("variable", "GET /v1/variables/k%C3%A9y?team=t"),
        ("post", "POST /healthz"),
    ]:
        write("serve_http", name, "\x02" + line)
    for name, value in [("bearer", "Bearer " + SECRET), ("bearer-lower", "bearer x"), ("basic", "Basic dTpw")]:
        write("serve_http", name, "\x00" + value)
    for name, answer in [
        ("found", 'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 16\r\n\r\n{"value":"my_v"}'),
        ("not-found", "HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\n\r\n{}"),
    ]:
        write("serve_http", name, "\x01" + answer)

    # The Vault provider: KV read answers (first byte even; the second picks the status and KV version: 2 is
    # 200 with KV 1, 10 is 200 with KV 2, 3 is 404, 4 is 403), then host-side paths and login answers (odd).
    kv2 = {"request_id": "r", "data": {"data": {"conn_uri": "postgres://u:" + SECRET + "@h/db", "value": SECRET,
                                                 "key": SECRET}, "metadata": {"version": 1}}}
    kv1 = {"request_id": "r", "data": {"conn_type": "http", "password": SECRET, "port": 443, "extra": {"a": SECRET}}}
    for name, pick, body in [
        ("kv2", 10, json.dumps(kv2)),
        ("kv1", 2, json.dumps(kv1)),
        ("deleted", 11, json.dumps({"data": {"data": None, "metadata": {"deletion_time": "t"}}})),
        ("not-found", 3, json.dumps({"errors": []})),
        ("denied", 4, json.dumps({"errors": ["1 error occurred:\n\t* permission denied\n\n"]})),
    ]:
        write("vault", name, bytes([0, pick]) + body.encode())
    for name, text in [
        ("read", "/v1/secret/data/connections/db\n" + json.dumps({"auth": {"client_token": "s.0123456789",
                                                                          "lease_duration": 3600}})),
        ("climb", "/v1/secret/%2e%2e/sys/mounts\n" + json.dumps({"errors": ["invalid role or secret ID"]})),
        ("team", "/v1/team/kv/data/x?version=2\n" + json.dumps({"errors": ["fuzz-secret-id-4b1d"]})),
    ]:
        write("vault", name, "\x01" + text)


if __name__ == "__main__":
    main()
